import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels as K } from "./index.ts";
import { assertClose } from "./testutil.ts";

// ---------------------------------------------------------------- embedding

test("embedding: gathers rows; backward scatter-adds with repeated ids accumulating", () => {
  const table = Float32Array.from([0, 1, 10, 11, 20, 21]); // vocab 3, d 2
  const ids = Int32Array.from([2, 0, 2, 1]);
  const out = new Float32Array(8).fill(NaN);
  K.embedding(table, ids, 4, 2, out);
  assert.deepEqual([...out], [20, 21, 0, 1, 20, 21, 10, 11]);
  const dtable = Float32Array.from([1, 1, 1, 1, 1, 1]);
  K.embeddingBackward(ids, Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 4, 2, dtable);
  assert.deepEqual([...dtable], [1 + 3, 1 + 4, 1 + 7, 1 + 8, 1 + 1 + 5, 1 + 2 + 6]);
});

test("embedding: only the first n ids are used", () => {
  const out = new Float32Array(2);
  K.embedding(Float32Array.from([5, 6]), Int32Array.from([0, 99]), 1, 2, out);
  assert.deepEqual([...out], [5, 6]);
});

test("embedding: ids out of range are errors naming the id and the vocab size", () => {
  const table = new Float32Array(6);
  assert.throws(() => K.embedding(table, Int32Array.from([0, 3]), 2, 2, new Float32Array(4)), /embedding: id 3 at position 1 is out of range for vocab size 3/);
  assert.throws(() => K.embedding(table, Int32Array.from([-1]), 1, 2, new Float32Array(2)), /embedding: id -1 at position 0 is out of range for vocab size 3/);
  assert.throws(
    () => K.embeddingBackward(Int32Array.from([5]), new Float32Array(2), 1, 2, table),
    /embeddingBackward: id 5 at position 0 is out of range for vocab size 3/,
  );
  assert.throws(() => K.embedding(table, Int32Array.from([0]), 1, 2, new Float32Array(1)), /embedding: 'out' has 1 elements, expected at least 2 for n=1, d=2/);
  assert.throws(
    () => K.embedding(new Float32Array(5), Int32Array.from([0]), 1, 2, new Float32Array(2)),
    /embedding: 'table' has 5 elements, expected a multiple of d=2/,
  );
  assert.throws(
    () => K.embedding(table, Float32Array.from([0]) as never, 1, 2, new Float32Array(2)),
    /embedding: 'ids' must be an Int32Array, found Float32Array/,
  );
});

// ---------------------------------------------------------------- AdamW

test("adamw: two steps against a hand-computed example", () => {
  // lr 0.1, β1 0.9, β2 0.999, eps 1e-8, wd 0.01; p = [1, −2], g1 = [0.5, −1], g2 = [−0.25, 2].
  //
  // Step 1: p ← p·(1 − 0.1·0.01) = [0.999, −1.998]
  //   m = 0.1·g1 = [0.05, −0.1];  v = 0.001·g1² = [0.00025, 0.001]
  //   m̂ = m / 0.1 = g1;  v̂ = v / 0.001 = g1²;  update = 0.1·g1/(|g1| + 1e-8) ≈ 0.1·sign(g1)
  //   p = [0.999 − 0.1·0.5/(0.5 + 1e-8), −1.998 + 0.1·1/(1 + 1e-8)] ≈ [0.899, −1.898]
  // Step 2: p ← p·0.999
  //   m = 0.9·m + 0.1·g2 = [0.045 − 0.025, −0.09 + 0.2] = [0.02, 0.11]
  //   v = 0.999·v + 0.001·g2² = [0.00024975 + 0.0000625, 0.000999 + 0.004] = [0.00031225, 0.004999]
  //   m̂ = m / (1 − 0.81) = m / 0.19;  v̂ = v / (1 − 0.998001) = v / 0.001999
  //   p −= 0.1·m̂/(√v̂ + 1e-8)
  const p = Float32Array.from([1, -2]);
  const m = new Float32Array(2),
    v = new Float32Array(2);
  const hp = { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01 };
  K.adamw(p, Float32Array.from([0.5, -1]), m, v, hp.lr, hp.b1, hp.b2, hp.eps, hp.wd, 1);
  const p1 = [0.999 - (0.1 * 0.5) / (0.5 + 1e-8), -1.998 + (0.1 * 1) / (1 + 1e-8)];
  assertClose(p, p1, { atol: 1e-6, rtol: 0 }, "p after step 1");
  assertClose(m, [0.05, -0.1], { atol: 1e-8, rtol: 0 }, "m after step 1");
  assertClose(v, [0.00025, 0.001], { atol: 1e-10, rtol: 1e-6 }, "v after step 1");

  K.adamw(p, Float32Array.from([-0.25, 2]), m, v, hp.lr, hp.b1, hp.b2, hp.eps, hp.wd, 2);
  const m2 = [0.02, 0.11],
    v2 = [0.00031225, 0.004999];
  const p2 = p1.map((x, i) => x * 0.999 - (0.1 * (m2[i] / 0.19)) / (Math.sqrt(v2[i] / 0.001999) + 1e-8));
  // p2 ≈ [0.898101 − 0.1·0.105263/0.395225, −1.896102 − 0.1·0.578947/1.581376] ≈ [0.871467, −1.932712]
  assertClose(m, m2, { atol: 1e-7, rtol: 0 }, "m after step 2");
  assertClose(v, v2, { atol: 1e-10, rtol: 1e-5 }, "v after step 2");
  assertClose(p, p2, { atol: 1e-6, rtol: 0 }, "p after step 2");
  assertClose(p, [0.871467, -1.932712], { atol: 2e-6, rtol: 0 }, "p after step 2 (by hand)");
});

test("adamw: zero gradient and no decay leaves p unchanged; NaN gradient propagates", () => {
  const p = Float32Array.from([1, 2]);
  K.adamw(p, new Float32Array(2), new Float32Array(2), new Float32Array(2), 0.1, 0.9, 0.999, 1e-8, 0, 1);
  assert.deepEqual([...p], [1, 2]);
  const q = Float32Array.from([1, 2]);
  K.adamw(q, Float32Array.from([NaN, 1]), new Float32Array(2), new Float32Array(2), 0.1, 0.9, 0.999, 1e-8, 0, 1);
  assert.ok(Number.isNaN(q[0]) && Number.isFinite(q[1]));
});

test("adamw: argument errors", () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => K.adamw(f(3), f(3), f(2), f(3), 0.1, 0.9, 0.999, 1e-8, 0, 1), /adamw: 'm' has 2 elements, expected at least 3/);
  assert.throws(() => K.adamw(f(3), f(3), f(3), f(3), 0.1, 0.9, 0.999, 1e-8, 0, 0), /adamw: 'step' must be a positive integer, found 0/);
});
