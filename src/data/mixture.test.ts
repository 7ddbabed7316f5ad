import { test } from "node:test";
import assert from "node:assert/strict";
import { apportion, budgetPool, MixtureSampler, normalizeWeights, type SamplerSource } from "./mixture.ts";
import { isHeldOut, splitDocuments } from "./split.ts";

/** A fake token array: document d is `len` tokens all equal to d (so a token names its document). */
function fakeSource(id: string, docs: number, len: number, weight = 1, offset = 0): SamplerSource & { split: ReturnType<typeof splitDocuments> } {
  const tokens = new Uint16Array(docs * len);
  for (let d = 0; d < docs; d++) tokens.fill(offset + d, d * len, (d + 1) * len);
  const offsets = Array.from({ length: docs + 1 }, (_, d) => d * len);
  const hashes = Array.from({ length: docs }, (_, d) => (d * 2654435761) >>> 0);
  const split = splitDocuments(offsets, hashes);
  return { id, weight, tokens, segments: split.train, split };
}

const EOD = 9999;

test("normalizeWeights() normalises and names a bad weight's source", () => {
  assert.deepEqual(normalizeWeights({ a: 3, b: 1 }), [
    { id: "a", weight: 0.75 },
    { id: "b", weight: 0.25 },
  ]);
  assert.deepEqual(normalizeWeights(["a", "b"]), [
    { id: "a", weight: 0.5 },
    { id: "b", weight: 0.5 },
  ]);
  assert.throws(() => normalizeWeights({ a: 1, b: 0 }), /weight of source 'b' must be a positive number, found 0/);
  assert.throws(() => normalizeWeights({ a: Number.NaN }), /source 'a'/);
  assert.throws(() => normalizeWeights([]), /no sources/);
  assert.throws(() => normalizeWeights(["a", "a"]), /listed twice/);
});

test("apportion() splits a total exactly by weights", () => {
  assert.deepEqual(apportion(10, [0.5, 0.25, 0.25]), [5, 3, 2]);
  assert.equal(
    apportion(2000, [0.3, 0.3, 0.4]).reduce((a, b) => a + b),
    2000,
  );
});

test("the held-out split is by content, about 10%, and disjoint from training", () => {
  const s = fakeSource("a", 1000, 10);
  assert.equal(s.split.kind, "documents");
  const held = new Set(s.split.heldOut.map((g) => g.doc));
  assert.ok(held.size > 60 && held.size < 140, `${held.size} of 1000 held out`);
  for (const g of s.split.train) assert.equal(held.has(g.doc), false);
  assert.equal(held.size + s.split.train.length, 1000);
  // Order-independent: the same hash is held out wherever the document sits.
  assert.equal(isHeldOut(12345), isHeldOut(12345));
});

test("a source with few documents is split inside each document (the last 10% held out)", () => {
  const split = splitDocuments([0, 1000, 1500], [1, 2]);
  assert.equal(split.kind, "tails");
  assert.deepEqual(split.train, [
    { start: 0, end: 900, doc: 0 },
    { start: 1000, end: 1450, doc: 1 },
  ]);
  assert.deepEqual(split.heldOut, [
    { start: 900, end: 1000, doc: 0 },
    { start: 1450, end: 1500, doc: 1 },
  ]);
});

test("budgetPool(): exactly the budget, deterministic for a seed, smaller budgets are subsets", () => {
  const s = fakeSource("a", 200, 50);
  const sum = (p: Array<{ start: number; end: number }>) => p.reduce((a, g) => a + g.end - g.start, 0);
  const small = budgetPool(s.segments, { budget: 1234, seed: 7, sourceId: "a" });
  const big = budgetPool(s.segments, { budget: 5000, seed: 7, sourceId: "a" });
  assert.equal(sum(small), 1234);
  assert.equal(sum(big), 5000);
  assert.deepEqual(budgetPool(s.segments, { budget: 1234, seed: 7, sourceId: "a" }), small);
  const bigDocs = new Set(big.map((g) => g.doc));
  for (const g of small) assert.ok(bigDocs.has(g.doc));
  assert.notDeepEqual(budgetPool(s.segments, { budget: 1234, seed: 8, sourceId: "a" }), small);
  assert.equal(sum(budgetPool(s.segments, { seed: 7, sourceId: "a" })), sum(s.segments));
});

test("nextBatch(): [B, nCtx+1] windows, the same for the same seed, different for another", () => {
  const mk = (seed: number) => new MixtureSampler([fakeSource("a", 100, 37), fakeSource("b", 100, 53)], { nCtx: 16, seed: seed, eodId: EOD });
  const a = mk(1).nextBatch(32);
  assert.equal(a.length, 32 * 17);
  assert.deepEqual(mk(1).nextBatch(32), a);
  assert.notDeepEqual(mk(2).nextBatch(32), a);
});

test("windows are packed documents separated by the end-of-document token", () => {
  const s = fakeSource("a", 100, 5);
  const sampler = new MixtureSampler([s], { nCtx: 16, seed: 0, eodId: EOD });
  const batch = sampler.nextBatch(50);
  for (let r = 0; r < 50; r++) {
    const row = Array.from(batch.subarray(r * 17, (r + 1) * 17));
    // Between two EODs there are exactly 5 tokens of one document.
    const eods = row.map((t, i) => (t === EOD ? i : -1)).filter((i) => i >= 0);
    for (let k = 1; k < eods.length; k++) {
      assert.equal(eods[k] - eods[k - 1], 6);
      const docTokens = new Set(row.slice(eods[k - 1] + 1, eods[k]));
      assert.equal(docTokens.size, 1);
    }
  }
});

test("state() / restore() continue with exactly the same windows", () => {
  const mk = () => new MixtureSampler([fakeSource("a", 60, 40, 2), fakeSource("b", 60, 25, 1)], { nCtx: 32, seed: 5, eodId: EOD });
  const s1 = mk();
  for (let i = 0; i < 40; i++) s1.nextBatch(8); // into later epochs
  const saved = JSON.parse(JSON.stringify(s1.state()));
  const next = [s1.nextBatch(8), s1.nextBatch(8)];
  const s2 = mk();
  s2.restore(saved);
  assert.deepEqual([s2.nextBatch(8), s2.nextBatch(8)], next);
  const other = new MixtureSampler([fakeSource("a", 60, 40)], { nCtx: 32, seed: 5, eodId: EOD });
  assert.throws(() => other.restore(saved), /saved for other data/);
  assert.throws(() => other.restore({ rows: 3 }), /expected a state from state\(\)/);
});

test("rows follow the mixture weights, and one epoch covers every training document, no held-out one", () => {
  const a = fakeSource("a", 80, 30, 3);
  const b = fakeSource("b", 80, 30, 1, 1000); // b's tokens are 1000 + its document number
  const sampler = new MixtureSampler([a, b], { nCtx: 10, seed: 3, eodId: EOD });
  const rows = 4000;
  const batch = sampler.nextBatch(rows);
  let fromA = 0;
  for (let r = 0; r < rows; r++) {
    const row = batch.subarray(r * 11, (r + 1) * 11);
    const t = row[0] === EOD ? row[1] : row[0];
    if (t < 1000) fromA++;
  }
  assert.ok(Math.abs(fromA / rows - 0.75) < 0.03, `rows from a: ${fromA} of ${rows}, expected about 75%`);
  const only = new MixtureSampler([a], { nCtx: 10, seed: 3, eodId: EOD });
  const all = only.nextBatch(only.windowsPerEpoch().a);
  const seen = new Set<number>();
  for (const t of all) if (t !== EOD) seen.add(t);
  assert.deepEqual(
    [...seen].sort((x, y) => x - y),
    a.segments.map((g) => g.doc).sort((x, y) => x - y),
  );
  for (const g of a.split.heldOut) assert.equal(seen.has(g.doc), false, `held-out document ${g.doc} was trained on`);
});

test("a pool smaller than one window is a clear error naming the source", () => {
  const s = fakeSource("tiny", 30, 1);
  assert.throws(
    () => new MixtureSampler([{ ...s, segments: s.segments.slice(0, 3) }], { nCtx: 512, seed: 0, eodId: EOD }),
    /source 'tiny' is too small for training windows: its training pool has 3 tokens \(3 documents\), expected at least nCtx \+ 1 = 513/,
  );
});
