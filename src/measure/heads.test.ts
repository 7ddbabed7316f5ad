/**
 * Head scores on hand-built attention patterns (a perfect induction head scores 1, uniform
 * attention its expected value, a previous-token head 1 on previous-token), the detection patterns
 * against TransformerLens' definitions, the copying score on hand-built OV circuits, and the
 * measure on tiny models of every kind (no heads, no error, for models without attention).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../util/random.ts";
import {
  copyingShares,
  headScores,
  inductionDetection,
  patternScore,
  prefixMatchingDetection,
  previousTokenDetection,
  repeatedSequences,
  rescaleCopying,
  tokenPool,
} from "./heads.ts";
import { tinyModel, useReference } from "./testutil.ts";

useReference();
const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** Row-major [T, T] pattern from a function giving each row's weights. */
function pattern(T: number, row: (i: number) => Map<number, number>): Float32Array {
  const p = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (const [j, w] of row(i)) p[i * T + j] = w;
  return p;
}

function uniform(T: number): Float32Array {
  return pattern(T, (i) => new Map(Array.from({ length: i + 1 }, (_, j) => [j, 1 / (i + 1)])));
}

const n = 6;
const seq = repeatedSequences(tokenPool(50, { bos: 0 }), new Rng(3), { count: 1, length: n, repeats: 2, bos: 0 });
const T = seq.T; // 1 + 2n

test("inductionDetection() marks the token after each earlier occurrence (TransformerLens' shifted duplicate pattern)", () => {
  const d = inductionDetection([9, 1, 2, 3, 1, 2, 3]);
  const ones: Array<[number, number]> = [];
  for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) if (d[i * 7 + j] === 1) ones.push([i, j]);
  assert.deepEqual(ones, [
    [4, 2],
    [5, 3],
    [6, 4],
  ]);
  const prev = previousTokenDetection(3);
  assert.deepEqual(Array.from(prev), [0, 0, 0, 1, 0, 0, 0, 1, 0]);
});

test("a perfect induction head scores 1 (targeted rows) and n/(2n+1) over all rows, as TransformerLens would", () => {
  const det = inductionDetection(seq.tokens);
  const attn = pattern(T, (i) => {
    for (let j = 0; j < T; j++) if (det[i * T + j] === 1) return new Map([[j, 1]]);
    return new Map([[0, 1]]); // no earlier occurrence: rest on BOS
  });
  close(patternScore(attn, det), 1);
  close(patternScore(attn, det, { rows: "all" }), n / T, 1e-6);
});

test("uniform attention scores its expected value: the mean of 1/(i+1) over the rows with a target", () => {
  const det = inductionDetection(seq.tokens);
  let targeted = 0,
    all = 0;
  for (let i = 1 + n; i < T; i++) {
    targeted += 1 / (i + 1) / n;
    all += 1 / (i + 1) / T;
  }
  close(patternScore(uniform(T), det), targeted, 1e-6);
  close(patternScore(uniform(T), det, { rows: "all" }), all, 1e-6);
  // Previous token: the mean of 1/(i+1) over i ≥ 1.
  let prev = 0;
  for (let i = 1; i < T; i++) prev += 1 / (i + 1) / (T - 1);
  close(patternScore(uniform(T), previousTokenDetection(T)), prev, 1e-6);
});

test("a previous-token head scores 1 on previous-token and 0 on induction", () => {
  const attn = pattern(T, (i) => new Map([[Math.max(0, i - 1), 1]]));
  close(patternScore(attn, previousTokenDetection(T)), 1);
  close(patternScore(attn, inductionDetection(seq.tokens)), 0);
});

test("a perfect prefix-matching head scores 1; one attending to the earlier occurrences themselves scores 0", () => {
  const len = 5,
    reps = 4,
    Tp = 1 + len * reps;
  const det = prefixMatchingDetection({ length: len, repeats: reps, bos: true });
  const spread = pattern(Tp, (i) => {
    const targets: number[] = [];
    for (let j = 0; j < Tp; j++) if (det[i * Tp + j] === 1) targets.push(j);
    return targets.length ? new Map(targets.map((j) => [j, 1 / targets.length])) : new Map([[0, 1]]);
  });
  close(patternScore(spread, det), 1, 1e-6);
  // Row of the token at offset p of repeat r: targets at 1 + r'·len + p + 1, r' < r.
  const r = 3,
    p = 2,
    q = 1 + r * len + p;
  assert.deepEqual(
    [0, 1, 2].map((r2) => det[q * Tp + 1 + r2 * len + p + 1]),
    [1, 1, 1],
  );
  const duplicate = pattern(Tp, (i) => (i > len ? new Map([[i - len, 1]]) : new Map([[0, 1]])));
  close(patternScore(duplicate, det), 0);
});

test("copying score: an OV circuit that maps each token to itself scores 1, one that suppresses it −1", () => {
  for (const layerNorm of [false, true]) {
    const m = tinyModel("attn-only", { nLayers: 1, nHeads: 1, dHead: 8, dModel: 8, dVocab: 8, layerNorm }, 2);
    const eye = (s: number) => Float32Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? s : 0));
    for (const name of ["embed.W_E", "blocks.0.attn.W_V", "blocks.0.attn.W_O", "unembed.W_U"]) m.params.get(name)!.data.set(eye(1));
    const tokens = Int32Array.from([0, 3, 5, 7]);
    close(copyingShares(m, tokens)[0][0], 1, 1e-6);
    m.params.get("unembed.W_U")!.data.set(eye(-1));
    close(copyingShares(m, tokens)[0][0], 0, 1e-6);
  }
  assert.equal(rescaleCopying(1), 1);
  assert.equal(rescaleCopying(0.5), 1);
  assert.equal(rescaleCopying(0.25), 0);
  assert.equal(rescaleCopying(0), -1);
});

test("headScores() scores every head of every attention layer, deterministically; no heads for models without attention", () => {
  const m = tinyModel("attn-only");
  const r = headScores(m, { seed: 4, vocab: { bos: 0 } });
  assert.equal(r.heads.length, 4);
  assert.deepEqual(
    r.heads.map((h) => [h.layer, h.head]),
    [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ],
  );
  assert.equal(r.inductionLength, 15); // (nCtx 32 − BOS) / 2
  assert.equal(r.prefixLength, 7);
  for (const h of r.heads) {
    for (const k of ["induction", "inductionTL", "prefixMatching", "previousToken", "copyingRaw"] as const) {
      assert.ok(h[k] >= 0 && h[k] <= 1 + 1e-6, `${k} = ${h[k]}`);
    }
    assert.ok(h.inductionTL < h.induction, "all rows dilute the induction score");
    assert.ok(h.copying >= -1 && h.copying <= 1);
  }
  assert.deepEqual(headScores(m, { seed: 4, vocab: { bos: 0 } }), r);
  const t = headScores(tinyModel("transformer"));
  assert.equal(t.heads.length, 2);
  for (const kind of ["mlp-only", "lstm", "rnn"] as const) assert.deepEqual(headScores(tinyModel(kind)).heads, []);
});

test("tokenPool() excludes BOS, unseen tokens, the most and least frequent tokens and rare ones", () => {
  assert.deepEqual(Array.from(tokenPool(5, { bos: 2 })), [0, 1, 3, 4]);
  // Token i seen i times (token 0 never); without BOS 18 seen tokens, 10% of 18 → 1 cut at each end.
  const f = Array.from({ length: 20 }, (_, i) => i);
  const pool = Array.from(tokenPool(20, { bos: 5, frequencies: f })).sort((a, b) => a - b);
  assert.deepEqual(pool, [2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
  assert.throws(() => tokenPool(20, { frequencies: [1, 2] }), /'frequencies' has 2 entries, expected dVocab = 20/);
  // Rare tokens (as the UTF-8 pieces of a byte vocabulary): tokens 0-9 seen 100 times, 10-19 once.
  // Even share 1010 / 20 = 50.5; a tenth of it is 5.05, so 10-19 are rare; the 10% cuts take
  // 2 at each end (two rare ones, and 8 and 9: the largest ids among equal counts).
  const g = Array.from({ length: 20 }, (_, i) => (i < 10 ? 100 : 1));
  assert.deepEqual(
    Array.from(tokenPool(20, { frequencies: g })).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.deepEqual(
    Array.from(tokenPool(20, { frequencies: g }, { rareShare: 0 })).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19],
  );
  assert.throws(() => tokenPool(20, { frequencies: g }, { rareShare: 1 }), /'rareShare' must be in \[0, 1\)/);
  // Too few left: the most frequent rare ones make up minSize (here 10: two of 12-19, the largest ids among equal counts).
  assert.deepEqual(
    Array.from(tokenPool(20, { frequencies: g }, { minSize: 10 })).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 18, 19],
  );
  assert.equal(tokenPool(20, { frequencies: g }, { minSize: 100 }).length, 16, "at most every token the 10% cuts left");
});
