/**
 * The reference kernels must also run on Float64Array buffers (cast to F32) without rounding to
 * float32 anywhere: tensor.ts's `withPrecision(Float64Array, …)` runs the ops' gradient tests that
 * way. Values like 0.1 are not float32-representable, so any hidden float32 step shows up as an
 * error of ~1e-9 instead of ~1e-17.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels as K } from "./index.ts";
import { BUFFER_TYPES, assertClose } from "./testutil.ts";

const f64 = BUFFER_TYPES[1];
const EXACT = { atol: 1e-15, rtol: 1e-14 };

test("float64 buffers: gemm, binary, unary, sumInto, permute, copyBlocks keep double precision", () => {
  const a = f64.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]); // 2×3
  const b = f64.from([0.7, 0.8, 0.9, 1.1, 1.2, 1.3]); // 3×2
  const c = f64.make(4);
  K.gemm({ transA: false, transB: false, m: 2, n: 2, k: 3, alpha: 1, a, lda: 3, b, ldb: 2, beta: 0, c, ldc: 2 });
  assertClose(
    c,
    [0.1 * 0.7 + 0.2 * 0.9 + 0.3 * 1.2, 0.1 * 0.8 + 0.2 * 1.1 + 0.3 * 1.3, 0.4 * 0.7 + 0.5 * 0.9 + 0.6 * 1.2, 0.4 * 0.8 + 0.5 * 1.1 + 0.6 * 1.3],
    EXACT,
    "gemm",
  );

  const out = f64.make(6);
  K.binary("add", a, [3, 1], b, [0, 0], out, [2, 3]);
  assertClose(out, [0.1 + 0.7, 0.2 + 0.7, 0.3 + 0.7, 0.4 + 0.7, 0.5 + 0.7, 0.6 + 0.7], EXACT, "binary");
  K.unary("tanh", a, out);
  assertClose(out, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6].map(Math.tanh), EXACT, "unary");

  const sums = f64.make(3);
  K.sumInto(a, [2, 3], sums, [0, 1]);
  assertClose(sums, [0.1 + 0.4, 0.2 + 0.5, 0.3 + 0.6], EXACT, "sumInto");

  const t = f64.make(6);
  K.permute(a, [2, 3], [1, 0], t, false);
  assert.deepEqual(Array.from(t), [0.1, 0.4, 0.2, 0.5, 0.3, 0.6]);
  K.copyBlocks(a, 1, 3, t, 0, 2, 2, 2, false);
  assert.deepEqual(Array.from(t.subarray(0, 4)), [0.2, 0.3, 0.5, 0.6]);
  assert.equal(K.sumSquares(a), 0.01 + 0.04 + 0.09 + 0.16 + 0.25 + 0.36);
});

test("float64 buffers: softmax, layerNorm, crossEntropy, embedding, adamw keep double precision", () => {
  const x = f64.from([0.1, 0.2, 0.3]);
  const y = f64.make(3);
  K.softmax(x, 1, 3, y);
  const e = [0.1, 0.2, 0.3].map(Math.exp);
  const s = e[0] + e[1] + e[2];
  assertClose(
    y,
    e.map((v) => v / s),
    EXACT,
    "softmax",
  );

  const mean = f64.make(1),
    rstd = f64.make(1);
  K.layerNorm(x, null, null, 1, 3, 0, y, mean, rstd);
  assertClose(mean, [0.2], EXACT, "mean");
  assertClose(rstd, [1 / Math.sqrt(((0.1 - 0.2) ** 2 + (0.3 - 0.2) ** 2) / 3)], { atol: 0, rtol: 1e-12 }, "rstd");

  const losses = f64.make(1),
    lse = f64.make(1);
  K.crossEntropy(x, Int32Array.from([2]), 1, 3, losses, lse);
  assertClose(losses, [Math.log(s) - 0.3], EXACT, "crossEntropy");

  const emb = f64.make(2);
  K.embedding(f64.from([0.1, 0.2, 0.3, 0.4]), Int32Array.from([1]), 1, 2, emb);
  assert.deepEqual(Array.from(emb), [0.3, 0.4]);

  const p = f64.from([0.1]),
    m = f64.make(1),
    v = f64.make(1);
  K.adamw(p, f64.from([0.3]), m, v, 0.1, 0.9, 0.999, 1e-8, 0.1, 1);
  const m1 = 0.1 * 0.3,
    v1 = 0.001 * 0.09;
  assertClose(m, [m1], EXACT, "m");
  assertClose(v, [v1], EXACT, "v");
  assertClose(p, [0.1 * (1 - 0.01) - (0.1 * (m1 / 0.1)) / (Math.sqrt(v1 / 0.001) + 1e-8)], EXACT, "p");
});
