import { test } from "node:test";
import assert from "node:assert/strict";
import type { GemmParams } from "../kernels.ts";
import { referenceKernels as K } from "./index.ts";
import { Rng, assertClose } from "./testutil.ts";

/** Naive triple loop in float64, element by element from the definition of op(A)·op(B) (one product: batch ignored). */
function naiveGemm({ transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc }: GemmParams): Float64Array {
  const out = Float64Array.from(c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[p * lda + i] : a[i * lda + p];
        const bpj = transB ? b[j * ldb + p] : b[p * ldb + j];
        s += aip * bpj;
      }
      out[i * ldc + j] = beta === 0 ? alpha * s : beta * c[i * ldc + j] + alpha * s;
    }
  }
  return out;
}

const TOL = { atol: 1e-5, rtol: 1e-5 };

test("gemm: all transpose combinations, padded leading dimensions, beta 0/1/0.5", () => {
  const rng = new Rng(1);
  const shapes = [
    [1, 1, 1],
    [3, 4, 5],
    [7, 2, 9],
    [5, 6, 1],
    [4, 8, 3],
  ];
  for (const [m, n, k] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const pad of [0, 3]) {
          for (const beta of [0, 1, 0.5]) {
            const [aRows, aCols] = transA ? [k, m] : [m, k];
            const [bRows, bCols] = transB ? [n, k] : [k, n];
            const lda = aCols + pad;
            const ldb = bCols + pad;
            const ldc = n + pad;
            const a = rng.f32(aRows * lda);
            const b = rng.f32(bRows * ldb);
            const c = rng.f32(m * ldc);
            const alpha = 1.5;
            const p = { transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc };
            const expected = naiveGemm(p);
            K.gemm(p);
            assertClose(c, expected, TOL, `gemm m=${m} n=${n} k=${k} tA=${transA} tB=${transB} pad=${pad} beta=${beta}`);
          }
        }
      }
    }
  }
});

test("gemm: padding columns of C beyond n are not touched", () => {
  const rng = new Rng(2);
  const m = 3,
    n = 2,
    k = 4,
    ldc = 5;
  const a = rng.f32(m * k),
    b = rng.f32(k * n);
  const c = new Float32Array(m * ldc).fill(7);
  K.gemm({ transA: false, transB: false, m, n, k, alpha: 1, a, lda: k, b, ldb: n, beta: 0, c, ldc });
  for (let i = 0; i < m; i++) for (let j = n; j < ldc; j++) assert.equal(c[i * ldc + j], 7);
});

test("gemm: batched with strides (including a broadcast A with strideA = 0)", () => {
  const rng = new Rng(3);
  const m = 3,
    n = 4,
    k = 5,
    batch = 3;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const broadcastA of [false, true]) {
        const lda = (transA ? m : k) + 1,
          ldb = (transB ? k : n) + 2,
          ldc = n + 1;
        const aSize = (transA ? k : m) * lda,
          bSize = (transB ? n : k) * ldb,
          cSize = m * ldc;
        const strideA = broadcastA ? 0 : aSize + 3,
          strideB = bSize + 1,
          strideC = cSize + 2;
        const a = rng.f32(broadcastA ? aSize : strideA * batch);
        const b = rng.f32(strideB * batch);
        const c = rng.f32(strideC * batch);
        const before = c.slice();
        K.gemm({ transA, transB, m, n, k, alpha: 0.5, a, lda, b, ldb, beta: 1, c, ldc, batch, strideA, strideB, strideC });
        for (let i = 0; i < batch; i++) {
          const ai = a.subarray(i * strideA),
            bi = b.subarray(i * strideB);
          const expected = naiveGemm({
            transA,
            transB,
            m,
            n,
            k,
            alpha: 0.5,
            a: ai,
            lda,
            b: bi,
            ldb,
            beta: 1,
            c: before.subarray(i * strideC, i * strideC + cSize),
            ldc,
          });
          assertClose(c.subarray(i * strideC, i * strideC + cSize), expected, TOL, `batch ${i}`);
          // gaps between the matrices of C are untouched
          for (let g = i * strideC + cSize; g < (i + 1) * strideC && g < c.length; g++) assert.equal(c[g], before[g]);
        }
      }
    }
  }
});

test("gemm: beta = 0 ignores NaN in C; beta = 1 keeps it", () => {
  const a = Float32Array.from([1, 2]),
    b = Float32Array.from([3, 4]);
  const c = Float32Array.from([NaN]);
  K.gemm({ transA: false, transB: false, m: 1, n: 1, k: 2, alpha: 1, a, lda: 2, b, ldb: 1, beta: 0, c, ldc: 1 });
  assert.equal(c[0], 11);
  c[0] = NaN;
  K.gemm({ transA: false, transB: false, m: 1, n: 1, k: 2, alpha: 1, a, lda: 2, b, ldb: 1, beta: 1, c, ldc: 1 });
  assert.ok(Number.isNaN(c[0]));
});

test("gemm: NaN and Inf in A or B propagate (no zero skipping)", () => {
  // A has a NaN; B's matching row is all zeros: 0·NaN is NaN, so the row of C is NaN.
  const a = Float32Array.from([NaN, 1, 0, 1]); // 2×2
  const b = Float32Array.from([0, 0, 2, 3]); // 2×2
  const c = new Float32Array(4);
  K.gemm({ transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, a, lda: 2, b, ldb: 2, beta: 0, c, ldc: 2 });
  assert.ok(Number.isNaN(c[0]) && Number.isNaN(c[1]));
  assert.deepEqual([c[2], c[3]], [2, 3]);
  // A zero in A times an Inf in B is NaN too.
  const b2 = Float32Array.from([Infinity, 1, 1, 1]);
  K.gemm({ transA: false, transB: true, m: 2, n: 2, k: 2, alpha: 1, a: Float32Array.from([0, 1, 1, 1]), lda: 2, b: b2, ldb: 2, beta: 0, c, ldc: 2 });
  assert.ok(Number.isNaN(c[0]));
  assert.equal(c[1], 1);
  assert.equal(c[2], Infinity);
});

test("gemm: k = 0 gives beta·C; m = 0 or n = 0 does nothing", () => {
  const c = Float32Array.from([1, 2, 3, 4]);
  K.gemm({ transA: false, transB: false, m: 2, n: 2, k: 0, alpha: 1, a: new Float32Array(0), lda: 0, b: new Float32Array(0), ldb: 2, beta: 0.5, c, ldc: 2 });
  assert.deepEqual([...c], [0.5, 1, 1.5, 2]);
  K.gemm({ transA: false, transB: false, m: 0, n: 2, k: 3, alpha: 1, a: new Float32Array(0), lda: 3, b: new Float32Array(6), ldb: 2, beta: 0, c, ldc: 2 });
  assert.deepEqual([...c], [0.5, 1, 1.5, 2]);
});

test("gemm: works on subarray views", () => {
  const rng = new Rng(4);
  const big = rng.f32(100);
  const a = big.subarray(10, 16); // 2×3
  const b = big.subarray(40, 52); // 3×4
  const c = new Float32Array(20).subarray(4, 12); // 2×4
  const p = { transA: false, transB: false, m: 2, n: 4, k: 3, alpha: 1, a, lda: 3, b, ldb: 4, beta: 0, c, ldc: 4 };
  const expected = naiveGemm({ ...p, c: c.slice() });
  K.gemm(p);
  assertClose(c, expected, TOL, "views");
});

test("gemm: argument errors name the argument, expected and found sizes", () => {
  const base = { transA: false, transB: false, m: 3, n: 2, k: 5, alpha: 1, lda: 5, ldb: 2, beta: 0, ldc: 2 };
  assert.throws(() => K.gemm({ ...base, a: new Float32Array(12), b: new Float32Array(10), c: new Float32Array(6) }), {
    message: "gemm: 'a' has 12 elements, expected at least 15 for m=3, k=5, lda=5",
  });
  assert.throws(
    () => K.gemm({ ...base, a: new Float32Array(15), b: new Float32Array(9), c: new Float32Array(6) }),
    /gemm: 'b' has 9 elements, expected at least 10/,
  );
  assert.throws(
    () => K.gemm({ ...base, a: new Float32Array(15), b: new Float32Array(10), c: new Float32Array(5) }),
    /gemm: 'c' has 5 elements, expected at least 6/,
  );
  assert.throws(
    () => K.gemm({ ...base, lda: 4, a: new Float32Array(15), b: new Float32Array(10), c: new Float32Array(6) }),
    /gemm: 'lda' is 4, expected at least 5/,
  );
  assert.throws(
    () => K.gemm({ ...base, m: -1, a: new Float32Array(15), b: new Float32Array(10), c: new Float32Array(6) }),
    /gemm: 'm' must be a non-negative integer, found -1/,
  );
  assert.throws(
    () => K.gemm({ ...base, batch: 2, a: new Float32Array(30), b: new Float32Array(20), c: new Float32Array(12) }),
    /gemm: 'strideA' is required when batch=2/,
  );
  assert.throws(
    () => K.gemm({ ...base, batch: 2, strideA: 15, strideB: 10, strideC: 6, a: new Float32Array(29), b: new Float32Array(20), c: new Float32Array(12) }),
    /gemm: 'a' has 29 elements, expected at least 30 for m=3, k=5, lda=5, batch=2, strideA=15/,
  );
});
