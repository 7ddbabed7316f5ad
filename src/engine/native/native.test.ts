/**
 * The native kernels against the reference backend (the oracle), kernel by kernel, forward and
 * backward, on seeded random inputs of several shapes (odd sizes, sizes that cross the addon's block
 * and parallel thresholds), plus argument checking and NaN / large-value behaviour.
 *
 * Tolerances: |native − reference| ≤ abs + rel·|reference| per element. Element-wise kernels
 * rel 1e-5 / abs 1e-6; GEMM-based kernels (float accumulation in oneDNN against the reference's
 * double) abs 2e-6·k. Backward kernels accumulate, so gradient buffers start from random values.
 *
 * Without the addon the tests are skipped with the reason, or fail when ICL_LAB_BACKEND=native or
 * in strict mode (CI, ICL_LAB_REQUIRE_TOOLS=1: src/util/test-env.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { GemmParams, Kernels, UnaryOp } from "../kernels.ts";
import { referenceKernels as R } from "../reference/index.ts";
import { contiguousStrides } from "../reference/strided.ts";
import { close, nativeOrSkip as native, plainGemm, type Tol } from "./test-helpers.ts";

// ---- seeded inputs -----------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

let seed = 1;
/** n uniform floats in [lo, hi). */
function rand(n: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed++);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}
function randInt(n: number, lo: number, hi: number): Int32Array {
  const r = rng(seed++);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + Math.floor((hi - lo) * r());
  return a;
}

const ELEM: Tol = { rel: 1e-5, abs: 1e-6 };

const copy = (a: Float32Array): Float32Array => a.slice();

// ---- gemm --------------------------------------------------------------------------------------

function gemmCase(
  N: Kernels,
  o: Pick<GemmParams, "transA" | "transB" | "m" | "n" | "k" | "alpha" | "beta"> & { pad?: number; batch?: number; strideBZero?: boolean; nanC?: boolean },
): void {
  const pad = o.pad ?? 0;
  const batch = o.batch ?? 1;
  const aRows = o.transA ? o.k : o.m,
    aCols = o.transA ? o.m : o.k;
  const bRows = o.transB ? o.n : o.k,
    bCols = o.transB ? o.k : o.n;
  const lda = aCols + pad,
    ldb = bCols + pad,
    ldc = o.n + pad;
  const sa = aRows * lda + 3,
    sb = o.strideBZero ? 0 : bRows * ldb + 1,
    sc = o.m * ldc + 2;
  const a = rand(batch * sa),
    b = rand(batch * Math.max(sb, bRows * ldb));
  const c0 = rand(batch * sc);
  if (o.nanC) c0.fill(NaN);
  const p = (c: Float32Array): GemmParams => ({
    transA: o.transA,
    transB: o.transB,
    m: o.m,
    n: o.n,
    k: o.k,
    alpha: o.alpha,
    a,
    lda,
    b,
    ldb,
    beta: o.beta,
    c,
    ldc,
    ...(batch > 1 ? { batch, strideA: sa, strideB: sb, strideC: sc } : {}),
  });
  const cn = copy(c0),
    cr = copy(c0);
  N.gemm(p(cn));
  R.gemm(p(cr));
  close(cn, cr, { rel: 1e-5, abs: 2e-6 * Math.max(1, o.k) }, `gemm ${JSON.stringify(o)}`);
}

test("gemm matches the reference for every transpose, padded leading dimensions, alpha and beta", (t) => {
  const N = native(t);
  if (!N) return;
  const shapes = [
    [1, 1, 1],
    [7, 5, 3],
    [33, 17, 65],
    [128, 96, 200],
    [5, 300, 2],
  ];
  for (const [m, n, k] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        gemmCase(N, { transA, transB, m, n, k, alpha: 1, beta: 0 });
        gemmCase(N, { transA, transB, m, n, k, alpha: 0.5, beta: 1, pad: 3 });
        gemmCase(N, { transA, transB, m, n, k, alpha: -2, beta: 0.25, pad: 1 });
      }
    }
  }
});

test("gemm with beta = 0 ignores NaN in C; NaN in A reaches C", (t) => {
  const N = native(t);
  if (!N) return;
  gemmCase(N, { transA: false, transB: false, m: 9, n: 11, k: 13, alpha: 1, beta: 0, nanC: true });
  const a = rand(6),
    b = rand(6),
    c = new Float32Array(4);
  a[0] = NaN;
  N.gemm(plainGemm({ m: 2, n: 2, k: 3, a, lda: 3, b, ldb: 2, c, ldc: 2 }));
  assert.ok(Number.isNaN(c[0]) && Number.isNaN(c[1]), `row 0 of C should be NaN: ${Array.from(c)}`);
  assert.ok(Number.isFinite(c[2]) && Number.isFinite(c[3]));
});

test("gemm batched (serial and one-product-per-thread paths, broadcast B) matches the reference", (t) => {
  const N = native(t);
  if (!N) return;
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      gemmCase(N, { transA, transB, m: 7, n: 9, k: 5, alpha: 1, beta: 0, batch: 3 });
      gemmCase(N, { transA, transB, m: 16, n: 16, k: 8, alpha: 1, beta: 1, batch: 8, pad: 2 });
      gemmCase(N, { transA, transB, m: 12, n: 10, k: 6, alpha: 0.5, beta: 0, batch: 5, strideBZero: true });
      gemmCase(N, { transA, transB, m: 64, n: 64, k: 32, alpha: 1, beta: 0, batch: 33 });
    }
  }
});

test("gemm handles empty dimensions: k = 0 scales C by beta", (t) => {
  const N = native(t);
  if (!N) return;
  for (const beta of [0, 1, 0.5]) {
    const c0 = rand(6);
    const cn = copy(c0),
      cr = copy(c0);
    const p = (c: Float32Array): GemmParams => plainGemm({ m: 2, n: 3, k: 0, a: new Float32Array(0), lda: 0, b: new Float32Array(0), ldb: 3, beta, c, ldc: 3 });
    N.gemm(p(cn));
    R.gemm(p(cr));
    close(cn, cr, ELEM, `gemm k=0 beta=${beta}`);
  }
  N.gemm(plainGemm({ m: 0, n: 3, k: 4, a: new Float32Array(0), lda: 4, b: rand(12), ldb: 3, c: new Float32Array(0), ldc: 3 }));
});

// ---- element-wise ------------------------------------------------------------------------------

const BIN_OPS = ["add", "sub", "mul", "div"] as const;

test("binary matches the reference with broadcasting and non-contiguous strides", (t) => {
  const N = native(t);
  if (!N) return;
  // [shape, aStrides, bStrides, aLen, bLen]
  const cases: Array<[number[], number[], number[], number, number]> = [
    [[], [], [], 1, 1],
    [[13], [1], [1], 13, 13],
    [[4, 7], [7, 1], [0, 1], 28, 7], // row broadcast
    [[4, 7], [7, 1], [1, 0], 28, 4], // column broadcast
    [[3, 5, 2], [10, 2, 1], [0, 0, 0], 30, 1], // scalar
    [[3, 5, 2], [1, 3, 15], [10, 2, 1], 30, 30], // transposed a
    [[2, 1, 3, 4, 1, 5], contiguousStrides([2, 1, 3, 4, 1, 5]), [0, 0, 5, 0, 0, 1], 120, 15],
    [[300, 257], [257, 1], [0, 1], 300 * 257, 257], // parallel path
    [[257, 300], [1, 257], [300, 1], 300 * 257, 300 * 257], // parallel, strided a
  ];
  for (const [shape, as, bs, na, nb] of cases) {
    for (const op of BIN_OPS) {
      const a = rand(na),
        b = rand(nb, 0.5, 2);
      const count = shape.reduce((x, y) => x * y, 1);
      const on = new Float32Array(count),
        or = new Float32Array(count);
      N.binary(op, a, as, b, bs, on, shape);
      R.binary(op, a, as, b, bs, or, shape);
      close(on, or, ELEM, `binary ${op} [${shape}]`);
    }
  }
});

test("binary may write in place (out = a)", (t) => {
  const N = native(t);
  if (!N) return;
  const a = rand(100),
    b = rand(100);
  const expected = new Float32Array(100);
  R.binary("mul", a, [1], b, [1], expected, [100]);
  N.binary("mul", a, [1], b, [1], a, [100]);
  close(a, expected, ELEM, "in-place mul");
});

const UNARY_OPS: UnaryOp[] = ["gelu", "tanh", "sigmoid", "relu", "exp", "log", "neg", "scale", "square"];

function unaryInput(op: UnaryOp, n: number): Float32Array {
  if (op === "log") return rand(n, 1e-3, 10);
  const x = rand(n, -6, 6);
  // values around every branch of the vectorised exp / tanh
  const special = [0, -0, 1e-8, -1e-8, 0.3, -0.3, 0.62, 0.63, -0.63, 9, -9, 20, -20, 50, -50, 88, 88.7, 89, 100, -87, -90, -103, -104, -110, 1e4, -1e4];
  for (let i = 0; i < special.length && i < n; i++) x[i] = special[i];
  return x;
}

test("unary and unaryBackward match the reference for every op, small and large (parallel) n", (t) => {
  const N = native(t);
  if (!N) return;
  for (const op of UNARY_OPS) {
    for (const n of [1, 31, 1000, 100_003]) {
      const x = unaryInput(op, n);
      const alpha = op === "scale" ? -1.75 : undefined;
      const yn = new Float32Array(n),
        yr = new Float32Array(n);
      N.unary(op, x, yn, alpha);
      R.unary(op, x, yr, alpha);
      // exp: relative error is what matters (values up to 3e38); near overflow the reference's
      // double exp rounds to a finite float where float exp may say Inf: compare those as equal.
      close(yn, yr, op === "exp" ? { rel: 2e-6, abs: 0 } : ELEM, `unary ${op} n=${n}`);
      const dy = rand(n),
        dx0 = rand(n);
      const dxn = copy(dx0),
        dxr = copy(dx0);
      N.unaryBackward(op, x, yr, dy, dxn, alpha);
      R.unaryBackward(op, x, yr, dy, dxr, alpha);
      close(dxn, dxr, op === "exp" ? { rel: 2e-6, abs: 1e-6 } : ELEM, `unaryBackward ${op} n=${n}`);
    }
  }
});

test("unary propagates NaN and ±Inf like the reference, and may run in place", (t) => {
  const N = native(t);
  if (!N) return;
  const x = new Float32Array([NaN, Infinity, -Infinity, 0, -1, 2]);
  for (const op of UNARY_OPS) {
    const alpha = op === "scale" ? 3 : undefined;
    const yn = new Float32Array(6),
      yr = new Float32Array(6);
    N.unary(op, x, yn, alpha);
    R.unary(op, x, yr, alpha);
    close(yn, yr, ELEM, `unary ${op} specials`);
    const inPlace = copy(x);
    N.unary(op, inPlace, inPlace, alpha);
    close(inPlace, yr, ELEM, `unary ${op} in place`);
    const dxn = new Float32Array(6),
      dxr = new Float32Array(6);
    const dy = new Float32Array([1, 1, 1, 1, 1, 1]);
    N.unaryBackward(op, x, yr, dy, dxn, alpha);
    R.unaryBackward(op, x, yr, dy, dxr, alpha);
    close(dxn, dxr, ELEM, `unaryBackward ${op} specials`);
  }
});

test("sumInto matches the reference for full, row, column, element-wise and general reductions", (t) => {
  const N = native(t);
  if (!N) return;
  // [shape, outStrides, outLen]
  const cases: Array<[number[], number[], number]> = [
    [[], [], 1],
    [[17], [0], 1],
    [[200_001], [0], 1], // full reduction, parallel
    [[7, 5], [0, 1], 5], // column sums (bias gradient)
    [[4096, 96], [0, 1], 96], // column sums, parallel
    [[7, 5], [1, 0], 7], // row sums
    [[1000, 77], [1, 0], 1000], // row sums, parallel
    [[3, 4], [4, 1], 12], // element-wise
    [[3, 4], [1, 3], 12], // element-wise, transposed out
    [[3, 5, 4], [4, 0, 1], 12], // middle axis reduced (general path)
    [[2, 3, 4, 5], [0, 5, 0, 1], 15],
    [[6, 1, 7], [7, 7, 1], 42],
  ];
  for (const [shape, os, outLen] of cases) {
    const count = shape.reduce((x, y) => x * y, 1);
    const x = rand(count);
    const o0 = rand(outLen);
    const on = copy(o0),
      or = copy(o0);
    N.sumInto(x, shape, on, os);
    R.sumInto(x, shape, or, os);
    close(on, or, ELEM, `sumInto [${shape}] -> [${os}]`);
  }
});

test("permute matches the reference (overwrite and accumulate)", (t) => {
  const N = native(t);
  if (!N) return;
  const cases: Array<[number[], number[]]> = [
    [[], []],
    [[5], [0]],
    [
      [3, 7],
      [1, 0],
    ],
    [
      [2, 3, 4],
      [2, 0, 1],
    ],
    [
      [2, 5, 3, 7],
      [0, 2, 1, 3],
    ], // [B, T, H, D] -> [B, H, T, D]
    [
      [8, 64, 8, 32],
      [0, 2, 1, 3],
    ], // parallel
    [
      [2, 3, 1, 4, 5, 2],
      [5, 4, 3, 2, 1, 0],
    ],
    [
      [300, 301],
      [1, 0],
    ],
  ];
  for (const [shape, perm] of cases) {
    const count = shape.reduce((x, y) => x * y, 1);
    const x = rand(count);
    for (const acc of [false, true]) {
      const o0 = rand(count);
      const on = copy(o0),
        or = copy(o0);
      N.permute(x, shape, perm, on, acc);
      R.permute(x, shape, perm, or, acc);
      close(on, or, ELEM, `permute [${shape}] by [${perm}] acc=${acc}`);
    }
  }
});

test("copyBlocks matches the reference (offsets, strides, accumulate, parallel sizes)", (t) => {
  const N = native(t);
  if (!N) return;
  const cases = [
    [0, 5, 0, 5, 5, 1],
    [3, 10, 2, 7, 4, 6],
    [1, 64, 0, 128, 64, 600], // parallel
    [0, 0, 0, 3, 3, 5], // the same source block repeated (broadcast)
    [0, 1, 0, 1, 100_000, 1], // one long block
  ];
  for (const [so, ss, dof, ds, len, nb] of cases) {
    const src = rand(so + (nb - 1) * ss + len + 2);
    const d0 = rand(dof + (nb - 1) * ds + len + 3);
    for (const acc of [false, true]) {
      const dn = copy(d0),
        dr = copy(d0);
      N.copyBlocks(src, so, ss, dn, dof, ds, len, nb, acc);
      R.copyBlocks(src, so, ss, dr, dof, ds, len, nb, acc);
      close(dn, dr, ELEM, `copyBlocks ${[so, ss, dof, ds, len, nb]} acc=${acc}`);
    }
  }
});

test("sumSquares matches the reference in double precision", (t) => {
  const N = native(t);
  if (!N) return;
  for (const n of [0, 1, 7, 1000, 1_000_003]) {
    const x = rand(n, -3, 3);
    const a = N.sumSquares(x),
      e = R.sumSquares(x);
    assert.ok(Math.abs(a - e) <= 1e-12 * Math.max(1, e), `sumSquares n=${n}: ${a} vs ${e}`);
  }
  assert.ok(Number.isNaN(N.sumSquares(new Float32Array([1, NaN, 2]))));
});

// ---- row kernels -------------------------------------------------------------------------------

test("softmax and softmaxBackward match the reference (odd sizes, parallel sizes)", (t) => {
  const N = native(t);
  if (!N) return;
  // n = 1..17 and 33 exercise every vector tail length of the 8-lane loops
  const shapes = [[64, 4096], [2000, 33], ...Array.from({ length: 17 }, (_, i) => [3, i + 1])];
  for (const [rows, n] of shapes) {
    const x = rand(rows * n, -8, 8);
    const yn = new Float32Array(rows * n),
      yr = new Float32Array(rows * n);
    N.softmax(x, rows, n, yn);
    R.softmax(x, rows, n, yr);
    close(yn, yr, { rel: 1e-5, abs: 1e-7 }, `softmax ${rows}x${n}`);
    const dy = rand(rows * n),
      dx0 = rand(rows * n);
    const dxn = copy(dx0),
      dxr = copy(dx0);
    N.softmaxBackward(yr, dy, rows, n, dxn);
    R.softmaxBackward(yr, dy, rows, n, dxr);
    close(dxn, dxr, { rel: 1e-5, abs: 1e-6 }, `softmaxBackward ${rows}x${n}`);
  }
});

test("softmax stays finite for logits of ±1e4, handles −Inf, propagates NaN, works in place", (t) => {
  const N = native(t);
  if (!N) return;
  const x = new Float32Array([1e4, -1e4, 9999, 0, -Infinity, 5, 1, NaN, 2]);
  const yn = new Float32Array(9),
    yr = new Float32Array(9);
  N.softmax(x, 3, 3, yn);
  R.softmax(x, 3, 3, yr);
  close(yn, yr, { rel: 1e-5, abs: 1e-7 }, "softmax specials");
  assert.ok(yn.slice(0, 6).every(Number.isFinite));
  assert.ok(yn.slice(6).every(Number.isNaN));
  const inPlace = copy(x);
  N.softmax(inPlace, 3, 3, inPlace);
  close(inPlace, yr, { rel: 1e-5, abs: 1e-7 }, "softmax in place");
});

test("layerNorm and layerNormBackward match the reference, with and without gamma/beta", (t) => {
  const N = native(t);
  if (!N) return;
  for (const [rows, n] of [
    [1, 1],
    [7, 5],
    [3, 64],
    [300, 256],
  ]) {
    for (const affine of [true, false]) {
      const x = rand(rows * n, -3, 5);
      const gamma = affine ? rand(n, 0.5, 1.5) : null,
        beta = affine ? rand(n) : null;
      const outs = () => ({ y: new Float32Array(rows * n), mean: new Float32Array(rows), rstd: new Float32Array(rows) });
      const on = outs(),
        or = outs();
      N.layerNorm(x, gamma, beta, rows, n, 1e-5, on.y, on.mean, on.rstd);
      R.layerNorm(x, gamma, beta, rows, n, 1e-5, or.y, or.mean, or.rstd);
      const what = `layerNorm ${rows}x${n} affine=${affine}`;
      close(on.y, or.y, { rel: 1e-5, abs: 1e-5 }, what);
      close(on.mean, or.mean, ELEM, `${what} mean`);
      close(on.rstd, or.rstd, ELEM, `${what} rstd`);

      const dy = rand(rows * n);
      const dx0 = rand(rows * n),
        dg0 = rand(n),
        db0 = rand(n);
      const dxn = copy(dx0),
        dgn = copy(dg0),
        dbn = copy(db0);
      const dxr = copy(dx0),
        dgr = copy(dg0),
        dbr = copy(db0);
      N.layerNormBackward(dy, x, gamma, or.mean, or.rstd, rows, n, dxn, affine ? dgn : null, affine ? dbn : null);
      R.layerNormBackward(dy, x, gamma, or.mean, or.rstd, rows, n, dxr, affine ? dgr : null, affine ? dbr : null);
      close(dxn, dxr, { rel: 1e-4, abs: 1e-5 }, `${what} dx`);
      close(dgn, dgr, { rel: 1e-5, abs: 1e-5 }, `${what} dgamma`);
      close(dbn, dbr, { rel: 1e-5, abs: 1e-5 }, `${what} dbeta`);
    }
  }
});

test("crossEntropy and its backward match the reference, ignore negative targets, stay finite at ±1e4", (t) => {
  const N = native(t);
  if (!N) return;
  for (const [rows, n, lo, hi] of [
    [1, 1, -1, 1],
    [7, 5, -3, 3],
    [5, 13, -3, 3],
    [33, 4096, -5, 5],
    [9, 11, -1e4, 1e4],
    [3000, 40, -2, 2],
  ]) {
    const logits = rand(rows * n, lo, hi);
    const targets = randInt(rows, -1, n); // some -1: no loss there
    const on = { l: new Float32Array(rows), s: new Float32Array(rows) };
    const or = { l: new Float32Array(rows), s: new Float32Array(rows) };
    N.crossEntropy(logits, targets, rows, n, on.l, on.s);
    R.crossEntropy(logits, targets, rows, n, or.l, or.s);
    const what = `crossEntropy ${rows}x${n} in [${lo}, ${hi}]`;
    assert.ok(on.l.every(Number.isFinite) && on.s.every(Number.isFinite), `${what}: not finite`);
    close(on.s, or.s, { rel: 1e-6, abs: 1e-5 }, `${what} lse`);
    close(on.l, or.l, { rel: 1e-5, abs: 2e-5 }, `${what} losses`);
    const dloss = rand(rows),
      d0 = rand(rows * n);
    const dn = copy(d0),
      dr = copy(d0);
    N.crossEntropyBackward(logits, targets, or.s, dloss, rows, n, dn);
    R.crossEntropyBackward(logits, targets, or.s, dloss, rows, n, dr);
    close(dn, dr, { rel: 1e-5, abs: 1e-6 }, `${what} backward`);
  }
});

// ---- attention: attention.test.ts ------------------------------------------------------------

// ---- embedding, optimizer ----------------------------------------------------------------------

test("embedding and embeddingBackward match the reference (repeated ids accumulate)", (t) => {
  const N = native(t);
  if (!N) return;
  for (const [vocab, n, d] of [
    [1, 1, 1],
    [11, 7, 5],
    [50, 3000, 64],
    [4096, 4096, 96],
  ]) {
    const table = rand(vocab * d);
    const ids = randInt(n, 0, vocab);
    ids[0] = vocab - 1;
    if (n > 1) ids[n - 1] = ids[0]; // a repeat
    const on = new Float32Array(n * d),
      or = new Float32Array(n * d);
    N.embedding(table, ids, n, d, on);
    R.embedding(table, ids, n, d, or);
    close(on, or, { rel: 0, abs: 0 }, `embedding ${vocab}x${d} n=${n}`);
    const dout = rand(n * d),
      dt0 = rand(vocab * d);
    const dtn = copy(dt0),
      dtr = copy(dt0);
    N.embeddingBackward(ids, dout, n, d, dtn);
    R.embeddingBackward(ids, dout, n, d, dtr);
    close(dtn, dtr, ELEM, `embeddingBackward ${vocab}x${d} n=${n}`);
  }
});

test("adamw matches the reference over several steps", (t) => {
  const N = native(t);
  if (!N) return;
  for (const n of [1, 7, 100_003]) {
    const p0 = rand(n),
      m0 = new Float32Array(n),
      v0 = new Float32Array(n);
    const pn = copy(p0),
      mn = copy(m0),
      vn = copy(v0);
    const pr = copy(p0),
      mr = copy(m0),
      vr = copy(v0);
    for (let step = 1; step <= 5; step++) {
      const g = rand(n, -0.1, 0.1);
      N.adamw(pn, g, mn, vn, 3e-3, 0.9, 0.95, 1e-8, 0.1, step);
      R.adamw(pr, g, mr, vr, 3e-3, 0.9, 0.95, 1e-8, 0.1, step);
    }
    close(mn, mr, ELEM, `adamw m n=${n}`);
    close(vn, vr, { rel: 1e-5, abs: 1e-9 }, `adamw v n=${n}`);
    close(pn, pr, { rel: 1e-5, abs: 2e-6 }, `adamw p n=${n}`);
  }
});

// ---- recurrent ---------------------------------------------------------------------------------

const REC_TOL: Tol = { rel: 1e-4, abs: 1e-5 };

test("lstm forward and backward match the reference (gate order i, f, g, o)", (t) => {
  const N = native(t);
  if (!N) return;
  for (const [T, B, H] of [
    [1, 1, 1],
    [7, 3, 5],
    [20, 4, 33],
    [4, 64, 160],
  ]) {
    const G = 4 * H;
    const xw = rand(T * B * G, -2, 2),
      whh = rand(H * G, -0.3, 0.3),
      h0 = rand(B * H),
      c0 = rand(B * H);
    const mk = () => ({ hs: rand(T * B * H), cs: rand(T * B * H), gates: rand(T * B * G) });
    const on = mk(),
      or = mk();
    N.lstm(xw, whh, h0, c0, T, B, H, on.hs, on.cs, on.gates);
    R.lstm(xw, whh, h0, c0, T, B, H, or.hs, or.cs, or.gates);
    const what = `lstm T=${T} B=${B} H=${H}`;
    close(on.hs, or.hs, REC_TOL, `${what} hs`);
    close(on.cs, or.cs, REC_TOL, `${what} cs`);
    close(on.gates, or.gates, REC_TOL, `${what} gates`);

    const dhs = rand(T * B * H);
    const g0 = [rand(T * B * G), rand(H * G), rand(B * H), rand(B * H)];
    const gn = g0.map(copy),
      gr = g0.map(copy);
    N.lstmBackward(whh, h0, c0, or.hs, or.cs, or.gates, dhs, T, B, H, gn[0], gn[1], gn[2], gn[3]);
    R.lstmBackward(whh, h0, c0, or.hs, or.cs, or.gates, dhs, T, B, H, gr[0], gr[1], gr[2], gr[3]);
    ["dxw", "dwhh", "dh0", "dc0"].forEach((name, i) => close(gn[i], gr[i], { rel: 1e-4, abs: 1e-5 * Math.max(1, Math.sqrt(T * B)) }, `${what} ${name}`));
  }
});

test("rnn forward and backward match the reference", (t) => {
  const N = native(t);
  if (!N) return;
  for (const [T, B, H] of [
    [1, 1, 1],
    [7, 3, 5],
    [25, 4, 33],
    [4, 64, 200],
  ]) {
    const xw = rand(T * B * H, -2, 2),
      whh = rand(H * H, -0.3, 0.3),
      h0 = rand(B * H);
    const hn = rand(T * B * H),
      hr = rand(T * B * H);
    N.rnn(xw, whh, h0, T, B, H, hn);
    R.rnn(xw, whh, h0, T, B, H, hr);
    const what = `rnn T=${T} B=${B} H=${H}`;
    close(hn, hr, REC_TOL, `${what} hs`);
    const dhs = rand(T * B * H);
    const g0 = [rand(T * B * H), rand(H * H), rand(B * H)];
    const gn = g0.map(copy),
      gr = g0.map(copy);
    N.rnnBackward(whh, h0, hr, dhs, T, B, H, gn[0], gn[1], gn[2]);
    R.rnnBackward(whh, h0, hr, dhs, T, B, H, gr[0], gr[1], gr[2]);
    ["dxw", "dwhh", "dh0"].forEach((name, i) => close(gn[i], gr[i], { rel: 1e-4, abs: 1e-5 * Math.max(1, Math.sqrt(T * B)) }, `${what} ${name}`));
  }
});

test("recurrent kernels with T = 0 leave the gradients untouched", (t) => {
  const N = native(t);
  if (!N) return;
  const dxw = new Float32Array(0),
    dwhh = rand(4 * 12),
    dh0 = rand(6),
    dc0 = rand(6);
  const before = [copy(dwhh), copy(dh0), copy(dc0)];
  N.lstmBackward(
    rand(4 * 12),
    rand(6),
    rand(6),
    new Float32Array(0),
    new Float32Array(0),
    new Float32Array(0),
    new Float32Array(0),
    0,
    2,
    3,
    dxw,
    dwhh,
    dh0,
    dc0,
  );
  close(dwhh, before[0], { rel: 0, abs: 0 }, "dwhh");
  close(dh0, before[1], { rel: 0, abs: 0 }, "dh0");
  close(dc0, before[2], { rel: 0, abs: 0 }, "dc0");
});

// ---- threads and determinism -------------------------------------------------------------------

test("setThreads / getThreads; results with 1 thread equal those with several", (t) => {
  const N = native(t);
  if (!N) return;
  const prev = N.getThreads();
  try {
    const run = () => {
      const rows = 512,
        n = 256;
      const x = rand(rows * n),
        dy = rand(rows * n);
      seed -= 2; // same inputs on both runs
      const mean = new Float32Array(rows),
        rstd = new Float32Array(rows),
        y = new Float32Array(rows * n);
      N.layerNorm(x, null, null, rows, n, 1e-5, y, mean, rstd);
      const dx = new Float32Array(rows * n),
        dg = new Float32Array(n),
        db = new Float32Array(n);
      N.layerNormBackward(dy, x, null, mean, rstd, rows, n, dx, dg, db);
      const col = new Float32Array(n);
      N.sumInto(x, [rows, n], col, [0, 1]);
      return [y, dx, dg, db, col, new Float32Array([N.sumSquares(x)])];
    };
    N.setThreads(1);
    assert.equal(N.getThreads(), 1);
    const one = run();
    N.setThreads(Math.max(2, prev));
    assert.equal(N.getThreads(), Math.max(2, prev));
    const many = run();
    seed += 2;
    one.forEach((a, i) => close(many[i], a, { rel: 1e-6, abs: 1e-7 }, `output ${i}`));
    assert.throws(() => N.setThreads(0), /setThreads: 'n' must be a positive integer, found 0/);
  } finally {
    N.setThreads(prev);
  }
});

// ---- argument checking -------------------------------------------------------------------------

test("bad lengths, types and indices throw an Error naming the kernel and argument, and write nothing", (t) => {
  const N = native(t);
  if (!N) return;
  const out = new Float32Array(4).fill(7);
  const untouched = () => assert.deepEqual(Array.from(out), [7, 7, 7, 7]);
  assert.throws(() => N.softmax(new Float32Array(3), 2, 2, out), /softmax: 'x' has 3 elements, expected at least 4 for rows=2, n=2/);
  assert.throws(() => N.softmax(new Float32Array(8), 2, 4, out), /softmax: 'out' has 4 elements, expected at least 8/);
  untouched();
  assert.throws(() => N.softmax(new Float64Array(4) as unknown as Float32Array, 2, 2, out), /softmax: 'x' must be a Float32Array, found Float64Array/);
  assert.throws(() => N.softmax(new Float32Array(4), -1, 2, out), /softmax: 'rows' must be a non-negative integer, found -1/);
  assert.throws(() => N.softmax(new Float32Array(4), 1.5, 2, out), /'rows' must be a non-negative integer, found 1.5/);
  const f32 = (n: number) => new Float32Array(n);
  assert.throws(
    () => N.gemm(plainGemm({ m: 3, n: 2, k: 5, a: f32(12), lda: 5, b: f32(10), ldb: 2, c: f32(6), ldc: 2 })),
    /gemm: 'a' has 12 elements, expected at least 15 for m=3, k=5, lda=5/,
  );
  assert.throws(() => N.gemm(plainGemm({ m: 2, n: 2, k: 2, a: f32(4), lda: 1, b: f32(4), ldb: 2, c: out, ldc: 2 })), /gemm: 'lda' is 1, expected at least 2/);
  assert.throws(
    () => N.gemm(plainGemm({ m: 2, n: 2, k: 2, a: f32(8), lda: 2, b: f32(8), ldb: 2, c: f32(8), ldc: 2, batch: 2, strideA: 4, strideB: 4 })),
    /gemm: 'strideC' is required when batch=2 > 1/,
  );
  untouched();
  assert.throws(() => N.embedding(new Float32Array(6), new Int32Array([0, 3]), 2, 2, out), /embedding: id 3 at position 1 is out of range for vocab size 3/);
  assert.throws(() => N.embeddingBackward(new Int32Array([-1]), new Float32Array(2), 1, 2, out), /embeddingBackward: id -1 at position 0 is out of range/);
  untouched();
  assert.throws(
    () => N.crossEntropy(new Float32Array(4), new Int32Array([0, 2]), 2, 2, new Float32Array(2), new Float32Array(2)),
    /crossEntropy: target 2 at row 1 is out of range for n=2 classes/,
  );
  assert.throws(
    () =>
      N.attention(
        new Float32Array(8),
        new Float32Array(8),
        new Float32Array(8),
        1,
        2,
        2,
        2,
        1,
        true,
        new Float32Array(7),
        new Float32Array(4),
        new Float32Array(8),
      ),
    /attention: 'probs' has 7 elements, expected at least 8 for \[B, H, T, T\]/,
  );
  assert.throws(
    () =>
      N.lstm(
        new Float32Array(8),
        new Float32Array(3),
        new Float32Array(1),
        new Float32Array(1),
        2,
        1,
        1,
        new Float32Array(2),
        new Float32Array(2),
        new Float32Array(8),
      ),
    /lstm: 'whh' has 3 elements, expected at least 4 for \[H, 4H\] with H=1/,
  );
  assert.throws(
    () =>
      N.lstm(
        new Float32Array(8),
        new Float32Array(4),
        new Float32Array(1),
        new Float32Array(1),
        2,
        1,
        1,
        new Float32Array(1),
        new Float32Array(2),
        new Float32Array(8),
      ),
    /lstm: 'hs' has 1 elements, expected at least 2/,
  );
  assert.throws(() => N.binary("pow" as "add", out, [1], out, [1], out, [4]), /binary: unknown op 'pow'/);
  assert.throws(() => N.binary("add", new Float32Array(3), [1], out, [1], out, [4]), /binary: 'a' has 3 elements, expected at least 4/);
  assert.throws(() => N.binary("add", out, [1, 1], out, [1], out, [4]), /binary: 'aStrides' has 2 entries, expected 1/);
  assert.throws(
    () => N.binary("add", out, [1, 1, 1, 1, 1, 1, 1], out, [1, 1, 1, 1, 1, 1, 1], out, [1, 1, 1, 1, 1, 1, 1]),
    /binary: 'shape' has rank 7, expected at most 6/,
  );
  assert.throws(() => N.sumInto(new Float32Array(6), [2, 3], out, [0, 2]), /sumInto: 'out' has 4 elements, expected at least 5/);
  assert.throws(() => N.permute(new Float32Array(6), [2, 3], [0, 0], new Float32Array(6), false), /permute: 'perm' \[0, 0\] is not a permutation/);
  assert.throws(() => N.copyBlocks(new Float32Array(10), 0, 4, out, 0, 2, 2, 3, false), /copyBlocks: 'dst' has 4 elements, expected at least 6/);
  assert.throws(() => N.unary("scale", out, out), /unary: op 'scale' needs 'alpha'/);
  assert.throws(() => N.unary("exp", out, new Float32Array(3)), /unary: 'out' has 3 elements, expected at least 4/);
  assert.throws(() => N.adamw(out, new Float32Array(3), out, out, 1e-3, 0.9, 0.999, 1e-8, 0, 1), /adamw: 'g' has 3 elements/);
  assert.throws(() => N.adamw(out, out, out, out, 1e-3, 0.9, 0.999, 1e-8, 0, 0), /adamw: 'step' must be a positive integer/);
  untouched();
});
