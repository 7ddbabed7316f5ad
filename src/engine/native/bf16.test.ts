/**
 * The bf16 precision of the products, native against the reference backend's emulation (which
 * rounds the same inputs the same way and accumulates in double): they differ only by accumulation
 * order. Where the CPU has no bf16 kernel for a shape (no AVX-512-BF16, or a shape bf16 does not pay
 * for without AMX: src/engine/native/bf16.cc `bf16Pays`), the native product is fp32, and the test
 * checks that instead. Also: the rounding itself (ties to even, NaN, ±Inf) seen through a product
 * with the identity, and that the precision switch is process-wide and reversible.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { GemmParams, Kernels, Precision } from "../kernels.ts";
import { referenceKernels as R } from "../reference/index.ts";
import { roundBf16 } from "../reference/precision.ts";
import { Rng } from "../reference/testutil.ts";
import { skipOrFail } from "../../util/test-env.ts";
import { nativeOrSkip as native } from "./test-helpers.ts";

function randomArray(n: number, seed: number): Float32Array {
  return new Rng(seed).f32(n, -0.5, 0.5);
}

function runGemm(K: Kernels, p: Precision, g: Omit<GemmParams, "c">, c0: Float32Array): Float32Array {
  const prev = K.getPrecision();
  K.setPrecision(p);
  try {
    const c = c0.slice();
    K.gemm({ ...g, c });
    return c;
  } finally {
    K.setPrecision(prev);
  }
}

/** max |x − y| / max |y|. */
function relErr(x: Float32Array, y: Float32Array): number {
  let e = 0,
    s = 0;
  for (let i = 0; i < x.length; i++) {
    e = Math.max(e, Math.abs(x[i] - y[i]));
    s = Math.max(s, Math.abs(y[i]));
  }
  return e / s;
}

/** Whether the native backend runs a product of this shape in bf16 (the rule of bf16.cc). */
function nativeBf16(K: Kernels, m: number, n: number, k: number): boolean {
  const hw = K.bf16Hardware();
  return hw === "amx" || (hw === "avx512-bf16" && Math.min(m, n, k) >= 128);
}

const SHAPES: { transA: boolean; transB: boolean; m: number; n: number; k: number; alpha: number; beta: number }[] = [
  { transA: false, transB: false, m: 300, n: 200, k: 160, alpha: 1, beta: 0 },
  { transA: true, transB: false, m: 130, n: 257, k: 1024, alpha: 1, beta: 1 },
  { transA: false, transB: true, m: 512, n: 129, k: 256, alpha: 0.5, beta: 1 },
  { transA: false, transB: false, m: 1024, n: 64, k: 64, alpha: 1, beta: 0 },
  { transA: true, transB: true, m: 7, n: 5, k: 3, alpha: 2, beta: 0.5 },
];

test("bf16 gemm: native equals the reference's emulation (or fp32 where the CPU keeps the shape in fp32)", (t) => {
  const N = native(t);
  if (N === null) return;
  for (const [i, s] of SHAPES.entries()) {
    const a = randomArray(s.m * s.k, 10 + i),
      b = randomArray(s.k * s.n, 20 + i),
      c0 = randomArray(s.m * s.n, 30 + i);
    const g = { ...s, a, lda: s.transA ? s.m : s.k, b, ldb: s.transB ? s.k : s.n, ldc: s.n };
    const nb = runGemm(N, "bf16", g, c0);
    const rb = runGemm(R, "bf16", g, c0);
    const rf = runGemm(R, "fp32", g, c0);
    const what = `${s.m}×${s.k}×${s.n}${s.transA ? " Aᵀ" : ""}${s.transB ? " Bᵀ" : ""}`;
    // Emulation and fp32 differ by bf16 rounding (~2⁻⁹ relative per input): the test can tell them apart.
    assert.ok(relErr(rb, rf) > 1e-4, `${what}: bf16 emulation indistinguishable from fp32`);
    if (N.bf16Hardware() === "amx" && Math.min(s.m, s.n, s.k) <= 16) {
      // oneDNN may refuse AMX for a tiny shape; the product is then fp32: either is right.
      assert.ok(Math.min(relErr(nb, rb), relErr(nb, rf)) < 2e-6, `${what}: native matches neither bf16 nor fp32`);
    } else if (nativeBf16(N, s.m, s.n, s.k)) {
      assert.ok(relErr(nb, rb) < 2e-6, `${what}: native bf16 vs emulation ${relErr(nb, rb)}`);
    } else {
      assert.ok(relErr(nb, rf) < 2e-6, `${what}: native (fp32 for this shape) vs fp32 ${relErr(nb, rf)}`);
    }
  }
});

test("bf16 rounding: ties to even, NaN and ±Inf, seen through a product with the identity", (t) => {
  const N = native(t);
  if (N === null) return;
  const n = 128; // a shape every bf16-capable CPU runs in bf16
  if (!nativeBf16(N, n, n, n)) {
    skipOrFail(t, `this CPU runs ${n}×${n}×${n} in fp32 (bf16 hardware: ${N.bf16Hardware()})`);
    return;
  }
  const special = [
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
    1 + 2 ** -8 + 2 ** -20,
    -(1 + 2 ** -8),
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    3.0e38,
    1e-40,
  ];
  const a = randomArray(n * n, 5);
  for (const [i, v] of special.entries()) a[i * n + i] = v;
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  const c = runGemm(N, "bf16", { transA: false, transB: false, m: n, n, k: n, alpha: 1, a, lda: n, b: eye, ldb: n, beta: 0, ldc: n }, new Float32Array(n * n));
  // Row i of A·I is row i of bf16(A); only the diagonal specials and a sample of the rest.
  assert.equal(c[0], 1, "1 + 2⁻⁸ is a tie: rounds to the even 1");
  assert.equal(c[1 * n + 1], 1 + 2 ** -6, "1 + 3·2⁻⁸ is a tie: rounds to the even 1 + 2⁻⁶");
  assert.equal(c[2 * n + 2], 1 + 2 ** -7, "just above a tie rounds up");
  assert.equal(c[3 * n + 3], -1);
  assert.ok(Number.isNaN(c[4 * n + 4]), "NaN stays NaN");
  assert.equal(c[5 * n + 5], Number.POSITIVE_INFINITY);
  assert.equal(c[6 * n + 6], Number.NEGATIVE_INFINITY);
  assert.equal(c[7 * n + 7], roundBf16(3.0e38));
  for (let i = 0; i < n * n; i += 97) {
    const r = Math.floor(i / n);
    if (r < special.length) continue;
    assert.equal(c[i], roundBf16(a[i]), `element ${i}`);
  }
});

test("the precision is a process-wide switch: set, read back, and a bad value is refused", (t) => {
  const N = native(t);
  if (N === null) return;
  const prev = N.getPrecision();
  try {
    N.setPrecision("bf16");
    assert.equal(N.getPrecision(), "bf16");
    N.setPrecision("fp32");
    assert.equal(N.getPrecision(), "fp32");
    assert.throws(() => N.setPrecision("fp16" as Precision), /setPrecision: 'precision' must be 'fp32' or 'bf16', found 'fp16'/);
    assert.throws(() => R.setPrecision("fp16" as Precision), /must be 'fp32' or 'bf16', found 'fp16'/);
    assert.ok(["amx", "avx512-bf16", "none"].includes(N.bf16Hardware()));
  } finally {
    N.setPrecision(prev);
  }
});
