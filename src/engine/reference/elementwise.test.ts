import { test } from "node:test";
import assert from "node:assert/strict";
import type { UnaryOp } from "../kernels.ts";
import { referenceKernels as K } from "./index.ts";
import { BUFFER_TYPES, Rng, assertClose, checkGradients } from "./testutil.ts";

/** Multi-index of flat position i in a contiguous `shape`. */
function unravel(i: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}
const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * b[i], 0);
const prod = (s: number[]): number => s.reduce((p, x) => p * x, 1);

// ---------------------------------------------------------------- binary

test("binary: each op with broadcasting strides matches per-element index arithmetic", () => {
  const rng = new Rng(10);
  const cases: { shape: number[]; aStrides: number[]; bStrides: number[] }[] = [
    { shape: [2, 3, 4], aStrides: [12, 4, 1], bStrides: [12, 4, 1] }, // same shape
    { shape: [2, 3, 4], aStrides: [12, 4, 1], bStrides: [0, 0, 1] }, // b is a row vector [4]
    { shape: [2, 3, 4], aStrides: [0, 1, 0], bStrides: [4, 0, 1] }, // a [3] as a column, b [2, 1, 4]
    { shape: [3, 4], aStrides: [1, 3], bStrides: [0, 0] }, // a transposed view, b a scalar
    { shape: [2, 1, 3, 2, 2, 2], aStrides: [24, 24, 8, 4, 2, 1], bStrides: [0, 0, 2, 0, 1, 0] }, // rank 6
    { shape: [], aStrides: [], bStrides: [] }, // rank 0: one element
    { shape: [5], aStrides: [2], bStrides: [1] }, // strided a
  ];
  for (const { shape, aStrides, bStrides } of cases) {
    const n = prod(shape);
    const span = (s: number[]): number => 1 + shape.reduce((acc, d, i) => acc + (d - 1) * s[i], 0);
    const a = rng.f32(span(aStrides), -2, 2);
    const b = rng.f32AwayFromZero(span(bStrides), 0.5, 2);
    for (const op of ["add", "sub", "mul", "div"] as const) {
      const out = new Float32Array(n).fill(NaN);
      K.binary(op, a, aStrides, b, bStrides, out, shape);
      for (let i = 0; i < n; i++) {
        const idx = unravel(i, shape);
        const x = a[dot(idx, aStrides)],
          y = b[dot(idx, bStrides)];
        const e = op === "add" ? x + y : op === "sub" ? x - y : op === "mul" ? x * y : x / y;
        assert.equal(out[i], Math.fround(e), `${op} shape [${shape}] at ${i}`);
      }
    }
  }
});

test("binary: NaN and Inf propagate; out may alias a", () => {
  const a = Float32Array.from([NaN, 1, Infinity, 2]);
  const b = Float32Array.from([1, NaN, Infinity, 0]);
  const out = new Float32Array(4);
  K.binary("sub", a, [1], b, [1], out, [4]);
  assert.ok(Number.isNaN(out[0]) && Number.isNaN(out[1]) && Number.isNaN(out[2]));
  assert.equal(out[3], 2);
  K.binary("div", a, [1], b, [1], out, [4]);
  assert.equal(out[3], Infinity);
  const x = Float32Array.from([1, 2, 3]);
  K.binary("mul", x, [1], Float32Array.from([2]), [0], x, [3]);
  assert.deepEqual([...x], [2, 4, 6]);
});

test("binary: argument errors", () => {
  assert.throws(
    () => K.binary("add", new Float32Array(5), [3, 1], new Float32Array(6), [3, 1], new Float32Array(6), [2, 3]),
    /binary: 'a' has 5 elements, expected at least 6 for shape \[2, 3\], aStrides \[3, 1\]/,
  );
  assert.throws(
    () => K.binary("add", new Float32Array(6), [3, 1], new Float32Array(6), [1], new Float32Array(6), [2, 3]),
    /binary: 'bStrides' has 1 entries, expected 2/,
  );
  assert.throws(
    () => K.binary("add", new Float32Array(6), [3, 1], new Float32Array(6), [3, 1], new Float32Array(5), [2, 3]),
    /binary: 'out' has 5 elements, expected at least 6/,
  );
  assert.throws(() => K.binary("pow" as never, new Float32Array(1), [], new Float32Array(1), [], new Float32Array(1), []), /binary: unknown op 'pow'/);
  assert.throws(
    () => K.binary("add", new Float32Array(1), [0, 0, 0, 0, 0, 0, 0], new Float32Array(1), [0, 0, 0, 0, 0, 0, 0], new Float32Array(1), [1, 1, 1, 1, 1, 1, 1]),
    /binary: 'shape' has rank 7, expected at most 6/,
  );
});

// ---------------------------------------------------------------- unary

/** f(x) in float64 from the definitions (gelu: GPT-2's tanh approximation). */
function f64(op: UnaryOp, x: number, alpha: number): number {
  switch (op) {
    case "gelu":
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case "tanh":
      return Math.tanh(x);
    case "sigmoid":
      return 1 / (1 + Math.exp(-x));
    case "relu":
      return Math.max(x, 0);
    case "exp":
      return Math.exp(x);
    case "log":
      return Math.log(x);
    case "neg":
      return -x;
    case "scale":
      return alpha * x;
    case "square":
      return x * x;
  }
}
const UNARY: UnaryOp[] = ["gelu", "tanh", "sigmoid", "relu", "exp", "log", "neg", "scale", "square"];

test("unary: every op matches its float64 definition; out may be x", () => {
  const rng = new Rng(11);
  for (const op of UNARY) {
    const x = op === "log" ? rng.f32(50, 0.01, 5) : rng.f32(50, -4, 4);
    const out = new Float32Array(50);
    K.unary(op, x, out, 0.75);
    assertClose(
      out,
      Array.from(x, (v) => f64(op, v, 0.75)),
      { atol: 1e-6, rtol: 1e-6 },
      op,
    );
    const inPlace = x.slice();
    K.unary(op, inPlace, inPlace, 0.75);
    assert.deepEqual(inPlace, out, `${op} in place`);
  }
});

test("unary: gelu known values", () => {
  const out = new Float32Array(3);
  K.unary("gelu", Float32Array.from([0, 1, -1]), out);
  // 0.5·(1 + tanh(√(2/π)·1.044715)) = 0.8411920...
  assertClose(out, [0, 0.841192, -0.158808], { atol: 1e-6, rtol: 0 }, "gelu");
});

test("unary: NaN propagates through every op; large inputs stay sensible", () => {
  for (const op of UNARY) {
    const out = new Float32Array(1);
    K.unary(op, Float32Array.from([NaN]), out, 2);
    assert.ok(Number.isNaN(out[0]), `${op}(NaN) = ${out[0]}`);
  }
  const out = new Float32Array(4);
  K.unary("sigmoid", Float32Array.from([-1e4, 1e4, -100, 100]), out);
  assert.deepEqual([...out], [0, 1, Math.fround(1 / (1 + Math.exp(100))), 1]);
  K.unary("gelu", Float32Array.from([-1e4, 1e4, -30, 30]), out);
  assert.deepEqual([...out], [-0, 1e4, -0, 30]);
  K.unary("tanh", Float32Array.from([-1e4, 1e4, Infinity, -Infinity]), out);
  assert.deepEqual([...out], [-1, 1, 1, -1]);
});

test("unaryBackward: every op against finite differences of unary and of its float64 definition (accumulating)", () => {
  const rng = new Rng(12);
  for (const buf of BUFFER_TYPES) {
    for (const op of UNARY) {
      const x = buf.from(op === "log" ? rng.f32(20, 0.5, 3) : op === "relu" ? rng.f32AwayFromZero(20, 0.1, 2) : rng.f32(20, -2, 2));
      const y = buf.make(20);
      checkGradients({
        label: `unary ${op}`,
        rng,
        inputs: { x },
        forward: () => {
          K.unary(op, x, y, 0.75);
          return y;
        },
        backward: (dy, g) => K.unaryBackward(op, x, y, dy, g.x, 0.75),
        reference: (i) => Array.from(i.x, (v) => f64(op, v, 0.75)),
      });
    }
  }
});

test("unaryBackward: NaN propagates", () => {
  for (const op of UNARY) {
    const x = Float32Array.from([NaN]);
    const y = new Float32Array(1);
    K.unary(op, x, y, 2);
    const dx = new Float32Array(1);
    K.unaryBackward(op, x, y, Float32Array.from([1]), dx, 2);
    if (op === "neg" || op === "scale") continue; // the derivative does not depend on x
    assert.ok(Number.isNaN(dx[0]), `${op}'(NaN) = ${dx[0]}`);
  }
  const dx = new Float32Array(2);
  K.unaryBackward("scale", new Float32Array(2), new Float32Array(2), Float32Array.from([NaN, 1]), dx, 3);
  assert.ok(Number.isNaN(dx[0]));
  assert.equal(dx[1], 3);
});

test("unary/unaryBackward: argument errors", () => {
  assert.throws(() => K.unary("tanh", new Float32Array(4), new Float32Array(3)), /unary: 'out' has 3 elements, expected at least 4/);
  assert.throws(() => K.unary("scale", new Float32Array(4), new Float32Array(4)), /unary: op 'scale' needs 'alpha'/);
  assert.throws(
    () => K.unaryBackward("tanh", new Float32Array(4), new Float32Array(4), new Float32Array(4), new Float32Array(2)),
    /unaryBackward: 'dx' has 2 elements, expected at least 4/,
  );
});

// ---------------------------------------------------------------- sumInto

test("sumInto: reductions over any axes accumulate into out", () => {
  const rng = new Rng(13);
  const shape = [3, 4, 5];
  const x = rng.f32(60);
  const cases: { outStrides: number[]; outLen: number }[] = [
    { outStrides: [0, 0, 0], outLen: 1 }, // total
    { outStrides: [0, 0, 1], outLen: 5 }, // over rows (bias gradient)
    { outStrides: [1, 0, 0], outLen: 3 }, // over the last two axes
    { outStrides: [4, 1, 0], outLen: 12 }, // over the last axis
    { outStrides: [5, 0, 1], outLen: 15 }, // over the middle axis
    { outStrides: [1, 3, 12], outLen: 60 }, // no reduction, a transposing scatter
  ];
  for (const { outStrides, outLen } of cases) {
    const init = rng.f32(outLen);
    const out = init.slice();
    K.sumInto(x, shape, out, outStrides);
    const expected = Float64Array.from(init);
    for (let i = 0; i < 60; i++) expected[dot(unravel(i, shape), outStrides)] += x[i];
    assertClose(out, expected, { atol: 1e-6, rtol: 1e-6 }, `outStrides [${outStrides}]`);
  }
});

test("sumInto: a long sum is formed in double precision", () => {
  // 1 + 1e-8·1e6 = 1.01: summing in float32 element by element would stay at 1.
  const x = new Float32Array(1_000_001).fill(1e-8);
  x[0] = 1;
  const out = new Float32Array(1);
  K.sumInto(x, [x.length], out, [0]);
  assertClose(out, [1.01], { atol: 0, rtol: 1e-6 }, "sum");
});

test("sumInto: NaN propagates, and out of range strides are errors", () => {
  const out = new Float32Array(2);
  K.sumInto(Float32Array.from([1, NaN, 2, 3]), [2, 2], out, [0, 1]);
  assert.ok(Number.isNaN(out[1]));
  assert.equal(out[0], 3);
  assert.throws(
    () => K.sumInto(new Float32Array(4), [2, 2], new Float32Array(2), [2, 1]),
    /sumInto: 'out' has 2 elements, expected at least 4 for shape \[2, 2\], outStrides \[2, 1\]/,
  );
  assert.throws(() => K.sumInto(new Float32Array(3), [2, 2], new Float32Array(2), [0, 1]), /sumInto: 'x' has 3 elements, expected at least 4/);
});

// ---------------------------------------------------------------- permute

test("permute: matches index arithmetic, inverse permutation round-trips, accumulate adds", () => {
  const rng = new Rng(14);
  const cases: { shape: number[]; perm: number[] }[] = [
    { shape: [3, 4], perm: [1, 0] },
    { shape: [2, 3, 4], perm: [2, 0, 1] },
    { shape: [2, 3, 4, 5], perm: [0, 2, 1, 3] }, // [B, T, H, D] → [B, H, T, D]
    { shape: [2, 1, 3, 2, 2, 3], perm: [5, 3, 1, 0, 4, 2] },
    { shape: [7], perm: [0] },
  ];
  for (const { shape, perm } of cases) {
    const n = prod(shape);
    const x = rng.f32(n);
    const out = new Float32Array(n);
    K.permute(x, shape, perm, out, false);
    const outShape = perm.map((p) => shape[p]);
    for (let i = 0; i < n; i++) {
      const oIdx = unravel(i, outShape);
      const xIdx = new Array<number>(shape.length);
      perm.forEach((p, d) => (xIdx[p] = oIdx[d]));
      let flat = 0;
      for (let d = 0; d < shape.length; d++) flat = flat * shape[d] + xIdx[d];
      assert.equal(out[i], x[flat]);
    }
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, d) => (inverse[p] = d));
    const back = new Float32Array(n);
    K.permute(out, outShape, inverse, back, false);
    assert.deepEqual(back, x, `round trip [${shape}] by [${perm}]`);
    K.permute(out, outShape, inverse, back, true);
    assert.deepEqual(
      back,
      Float32Array.from(x, (v) => 2 * v),
      "accumulate",
    );
  }
});

test("permute: invalid permutations are errors", () => {
  assert.throws(() => K.permute(new Float32Array(6), [2, 3], [0, 0], new Float32Array(6), false), /permute: 'perm' \[0, 0\] is not a permutation of 0..1/);
  assert.throws(() => K.permute(new Float32Array(6), [2, 3], [1, 0, 2], new Float32Array(6), false), /permute: 'perm' has 3 entries, expected 2/);
  assert.throws(() => K.permute(new Float32Array(6), [2, 3], [1, 0], new Float32Array(5), false), /permute: 'out' has 5 elements, expected at least 6/);
});

// ---------------------------------------------------------------- copyBlocks, sumSquares

test("copyBlocks: slicing and concatenation, copy and accumulate", () => {
  // x [3, 4]; slice columns 1..3 into y [3, 2], then put them back into z [3, 4] (accumulate).
  const x = Float32Array.from({ length: 12 }, (_, i) => i);
  const y = new Float32Array(6);
  K.copyBlocks(x, 1, 4, y, 0, 2, 2, 3, false);
  assert.deepEqual([...y], [1, 2, 5, 6, 9, 10]);
  const z = new Float32Array(12).fill(1);
  K.copyBlocks(y, 0, 2, z, 1, 4, 2, 3, true);
  assert.deepEqual([...z], [1, 2, 3, 1, 1, 6, 7, 1, 1, 10, 11, 1]);
  // zero blocks touch nothing, even with empty buffers
  K.copyBlocks(new Float32Array(0), 0, 0, new Float32Array(0), 0, 0, 5, 0, false);
  assert.throws(
    () => K.copyBlocks(x, 1, 4, y, 0, 2, 2, 4, false),
    /copyBlocks: 'src' has 12 elements, expected at least 15 for srcOffset=1, srcStride=4, blockLen=2, nBlocks=4/,
  );
  assert.throws(() => K.copyBlocks(x, 0, 4, y, 1, 2, 2, 3, false), /copyBlocks: 'dst' has 6 elements, expected at least 7/);
});

test("sumSquares: double precision, NaN propagates", () => {
  const x = Float32Array.from([1, 2, 3, 0.1]);
  assert.equal(K.sumSquares(x), 1 + 4 + 9 + Math.fround(0.1) ** 2);
  assert.equal(K.sumSquares(new Float32Array(0)), 0);
  assert.ok(Number.isNaN(K.sumSquares(Float32Array.from([1, NaN]))));
  const many = new Float32Array(1_000_000).fill(1e-4);
  many[0] = 1;
  assertClose([K.sumSquares(many)], [1 + 999_999 * Math.fround(1e-4) ** 2], { atol: 0, rtol: 1e-12 }, "long sum");
});

test("threads: setThreads/getThreads store the number", () => {
  const prev = K.getThreads();
  K.setThreads(3);
  assert.equal(K.getThreads(), 3);
  K.setThreads(prev);
  assert.equal(K.name, "reference");
});
