import { test } from "node:test";
import assert from "node:assert/strict";
import type { Segment } from "./split.ts";
import { sourceEvalWindows, type EvalWindowOptions } from "./windows.ts";

const EOD = 9999;

/** Documents of the given lengths; token = 100 * doc + position (so a window shows where it came from). */
function docs(lengths: number[]): { tokens: Int32Array; segs: Segment[] } {
  const total = lengths.reduce((a, b) => a + b, 0);
  const tokens = new Int32Array(total);
  const segs: Segment[] = [];
  let at = 0;
  lengths.forEach((len, d) => {
    for (let i = 0; i < len; i++) tokens[at + i] = 100000 * d + i;
    segs.push({ start: at, end: at + len, doc: d });
    at += len;
  });
  return { tokens, segs };
}

const opts = (o: Partial<EvalWindowOptions>): EvalWindowOptions => ({ sourceId: "s", nCtx: 15, n: 10, policy: "packed", evalSeed: 0, eodId: EOD, ...o });

test("packed windows: nCtx+1 tokens, documents joined by end-of-document, disjoint when there is room", () => {
  const { tokens, segs } = docs([7, 9, 30, 5, 40, 12]);
  const w = sourceEvalWindows(tokens, segs, opts({ n: 5 }));
  assert.deepEqual([w.n, w.length, w.tokens.length, w.distinct, w.excludedDocs], [5, 16, 80, 5, 0]);
  const seen = new Set<number>();
  for (let k = 0; k < 5; k++) {
    const row = Array.from(w.tokens.subarray(k * 16, (k + 1) * 16));
    for (let i = 1; i < 16; i++) {
      const [a, b] = [row[i - 1], row[i]];
      // Within a document positions increase by one; a document change goes through an EOD.
      if (a !== EOD && b !== EOD) assert.equal(b, a + 1);
    }
    for (const t of row)
      if (t !== EOD) {
        assert.equal(seen.has(t), false, "windows overlap although the split has room for disjoint ones");
        seen.add(t);
      }
  }
});

test("the document policy keeps windows inside one document and reports excluded short documents", () => {
  const { tokens, segs } = docs([5, 40, 10, 16, 3, 33]);
  const w = sourceEvalWindows(tokens, segs, opts({ policy: "document", n: 6 }));
  assert.equal(w.excludedDocs, 3); // lengths 5, 10, 3 < 16
  for (let k = 0; k < w.n; k++) {
    const row = Array.from(w.tokens.subarray(k * 16, (k + 1) * 16));
    assert.ok(!row.includes(EOD));
    const doc = Math.floor(row[0] / 100000);
    assert.ok(row.every((t, i) => t === row[0] + i && Math.floor(t / 100000) === doc));
  }
  assert.throws(
    () =>
      sourceEvalWindows(
        tokens,
        segs.filter((g) => g.end - g.start < 16),
        opts({ policy: "document", sourceId: "fortunes" }),
      ),
    /source 'fortunes' has no held-out document of nCtx \+ 1 = 16 tokens \(3 held-out documents, the longest has 10\); .*use evalPolicy "packed"/,
  );
});

test("more windows than disjoint tiles: the rest overlap, and a smaller N is a prefix of a larger one", () => {
  const { tokens, segs } = docs([50, 60]);
  const big = sourceEvalWindows(tokens, segs, opts({ n: 40 }));
  assert.equal(big.distinct, 6); // 112 tokens with EODs hold 7 tiles of 16 at phase 0, fewer at others
  assert.equal(big.n, 40);
  const small = sourceEvalWindows(tokens, segs, opts({ n: 4 }));
  assert.deepEqual(small.tokens, big.tokens.subarray(0, 4 * 16));
});

test("windows depend on the evaluation seed only (deterministic), and a source too small is an error", () => {
  const { tokens, segs } = docs([300, 200, 250]);
  const a = sourceEvalWindows(tokens, segs, opts({ n: 20, evalSeed: 1 }));
  assert.deepEqual(sourceEvalWindows(tokens, segs, opts({ n: 20, evalSeed: 1 })).tokens, a.tokens);
  assert.notDeepEqual(sourceEvalWindows(tokens, segs, opts({ n: 20, evalSeed: 2 })).tokens, a.tokens);
  const tiny = docs([4, 5]);
  assert.throws(
    () => sourceEvalWindows(tiny.tokens, tiny.segs, opts({ sourceId: "tiny" })),
    /source 'tiny' is too small for evaluation windows: its held-out split has 9 tokens, expected at least nCtx \+ 1 = 16/,
  );
  assert.throws(() => sourceEvalWindows(tokens, segs, opts({ policy: "sliding" as "packed" })), /policy must be "document" or "packed"/);
});
