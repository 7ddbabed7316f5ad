import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels as K } from "./index.ts";
import { BUFFER_TYPES, Rng, assertClose, checkGradients } from "./testutil.ts";

// ---------------------------------------------------------------- float64 oracles

/** Softmax of one row in float64 without max-subtraction (fine for the small inputs used here). */
function softmaxRow(x: ArrayLike<number>): number[] {
  const e = Array.from(x, Math.exp);
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function naiveSoftmax(x: ArrayLike<number>, rows: number, n: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) out.push(...softmaxRow(Array.from(x).slice(r * n, (r + 1) * n)));
  return out;
}

/** Layer norm from the definition: mean, biased variance, (x − mean)/√(var + eps)·gamma + beta. */
function naiveLayerNorm(
  x: ArrayLike<number>,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  rows: number,
  n: number,
  eps: number,
): { y: number[]; mean: number[]; rstd: number[] } {
  const y: number[] = [],
    mean: number[] = [],
    rstd: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x).slice(r * n, (r + 1) * n);
    const mu = row.reduce((a, b) => a + b, 0) / n;
    const variance = row.reduce((a, b) => a + (b - mu) ** 2, 0) / n;
    const rs = 1 / Math.sqrt(variance + eps);
    mean.push(mu);
    rstd.push(rs);
    row.forEach((v, j) => y.push((v - mu) * rs * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0)));
  }
  return { y, mean, rstd };
}

/** −log softmax(row)[t], 0 for t < 0. */
function naiveCrossEntropy(logits: ArrayLike<number>, targets: Int32Array, rows: number, n: number): number[] {
  const losses: number[] = [];
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    losses.push(t < 0 ? 0 : -Math.log(softmaxRow(Array.from(logits).slice(r * n, (r + 1) * n))[t]));
  }
  return losses;
}

// ---------------------------------------------------------------- softmax

test("softmax: matches the definition row by row; out may be x", () => {
  const rng = new Rng(20);
  const rows = 4,
    n = 7;
  const x = rng.f32(rows * n, -3, 3);
  const out = new Float32Array(rows * n);
  K.softmax(x, rows, n, out);
  for (let r = 0; r < rows; r++) {
    assertClose(out.subarray(r * n, (r + 1) * n), softmaxRow(x.subarray(r * n, (r + 1) * n)), { atol: 1e-7, rtol: 1e-6 }, `row ${r}`);
  }
  const inPlace = x.slice();
  K.softmax(inPlace, rows, n, inPlace);
  assert.deepEqual(inPlace, out);
});

test("softmax: finite for logits of ±1e4, NaN propagates to its row only", () => {
  const x = Float32Array.from([1e4, -1e4, 0, 1e4, 1e4, 1e4, -1e4, -1e4, -1e4]);
  const out = new Float32Array(9);
  K.softmax(x, 3, 3, out);
  assert.deepEqual([...out.subarray(0, 3)], [1, 0, 0]);
  assertClose(out.subarray(3, 9), [1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3], { atol: 1e-7, rtol: 0 }, "uniform rows");
  const y = new Float32Array(4);
  K.softmax(Float32Array.from([1, NaN, 0, 1]), 2, 2, y);
  assert.ok(Number.isNaN(y[0]) && Number.isNaN(y[1]));
  assertClose(y.subarray(2), softmaxRow([0, 1]), { atol: 1e-7, rtol: 0 }, "clean row");
});

test("softmaxBackward: finite differences of softmax (accumulating)", () => {
  const rng = new Rng(21);
  const rows = 3,
    n = 5;
  for (const buf of BUFFER_TYPES) {
    const x = buf.from(rng.f32(rows * n, -2, 2));
    const y = buf.make(rows * n);
    checkGradients({
      label: "softmax",
      rng,
      inputs: { x },
      forward: () => {
        K.softmax(x, rows, n, y);
        return y;
      },
      backward: (dy, g) => K.softmaxBackward(y, dy, rows, n, g.x),
      reference: (i) => naiveSoftmax(i.x, rows, n),
    });
  }
});

// ---------------------------------------------------------------- layer norm

test("layerNorm: matches the definition, writes mean and rstd; null gamma/beta mean 1/0", () => {
  const rng = new Rng(22);
  const rows = 3,
    n = 6,
    eps = 1e-5;
  const x = rng.f32(rows * n, -2, 3);
  const gamma = rng.f32(n, 0.5, 1.5);
  const beta = rng.f32(n);
  const y = new Float32Array(rows * n),
    mean = new Float32Array(rows),
    rstd = new Float32Array(rows);
  K.layerNorm(x, gamma, beta, rows, n, eps, y, mean, rstd);
  const yPlain = new Float32Array(rows * n);
  K.layerNorm(x, null, null, rows, n, eps, yPlain, new Float32Array(rows), new Float32Array(rows));
  const ref = naiveLayerNorm(x, gamma, beta, rows, n, eps);
  const tol = { atol: 1e-6, rtol: 1e-6 };
  assertClose(mean, ref.mean, tol, "mean");
  assertClose(rstd, ref.rstd, tol, "rstd");
  assertClose(y, ref.y, tol, "y");
  assertClose(yPlain, naiveLayerNorm(x, null, null, rows, n, eps).y, tol, "y without gamma/beta");
});

test("layerNormBackward: finite differences for x, gamma, beta (accumulating), with and without affine", () => {
  const rng = new Rng(23);
  const rows = 3,
    n = 5,
    eps = 1e-5;
  for (const buf of BUFFER_TYPES) {
    const x = buf.from(rng.f32(rows * n, -2, 2));
    const gamma = buf.from(rng.f32(n, 0.5, 1.5));
    const beta = buf.from(rng.f32(n));
    const y = buf.make(rows * n),
      mean = buf.make(rows),
      rstd = buf.make(rows);
    checkGradients({
      label: "layerNorm",
      rng,
      inputs: { x, gamma, beta },
      forward: () => {
        K.layerNorm(x, gamma, beta, rows, n, eps, y, mean, rstd);
        return y;
      },
      backward: (dy, g) => K.layerNormBackward(dy, x, gamma, mean, rstd, rows, n, g.x, g.gamma, g.beta),
      reference: (i) => naiveLayerNorm(i.x, i.gamma, i.beta, rows, n, eps).y,
    });
    checkGradients({
      label: "layerNorm (no affine)",
      rng,
      inputs: { x },
      forward: () => {
        K.layerNorm(x, null, null, rows, n, eps, y, mean, rstd);
        return y;
      },
      backward: (dy, g) => K.layerNormBackward(dy, x, null, mean, rstd, rows, n, g.x, null, null),
      reference: (i) => naiveLayerNorm(i.x, null, null, rows, n, eps).y,
    });
  }
});

// ---------------------------------------------------------------- cross-entropy

test("crossEntropy: losses = lse − logit[target], negative targets give 0", () => {
  const rng = new Rng(24);
  const rows = 4,
    n = 6;
  const logits = rng.f32(rows * n, -3, 3);
  const targets = Int32Array.from([2, -1, 0, 5]);
  const losses = new Float32Array(rows).fill(NaN),
    lse = new Float32Array(rows);
  K.crossEntropy(logits, targets, rows, n, losses, lse);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(logits.subarray(r * n, (r + 1) * n));
    assertClose([lse[r]], [Math.log(row.reduce((a, b) => a + Math.exp(b), 0))], { atol: 1e-6, rtol: 1e-6 }, `lse ${r}`);
  }
  assertClose(losses, naiveCrossEntropy(logits, targets, rows, n), { atol: 1e-6, rtol: 1e-6 }, "losses");
  assert.equal(losses[1], 0);
});

test("crossEntropy: finite for logits of ±1e4", () => {
  const logits = Float32Array.from([1e4, -1e4, 0, -1e4, 1e4, 1e4, 1e4, 1e4]);
  const targets = Int32Array.from([1, 0, 1, -1]);
  const losses = new Float32Array(4),
    lse = new Float32Array(4);
  K.crossEntropy(logits, targets, 4, 2, losses, lse);
  for (const v of [...losses, ...lse]) assert.ok(Number.isFinite(v), `${v}`);
  assertClose(losses, [2e4, 0, Math.LN2, 0], { atol: 0, rtol: 1e-6 }, "losses");
  assertClose(lse, [1e4, 0, 1e4 + Math.LN2, 1e4 + Math.LN2], { atol: 0, rtol: 1e-6 }, "lse");
  const d = new Float32Array(8);
  K.crossEntropyBackward(logits, targets, lse, Float32Array.from([1, 1, 1, 1]), 4, 2, d);
  for (const v of d) assert.ok(Number.isFinite(v), `${v}`);
  assertClose(d, [1, -1, 0, 0, 0.5, -0.5, 0, 0], { atol: 1e-3, rtol: 0 }, "dlogits");
});

test("crossEntropyBackward: finite differences of crossEntropy (accumulating; ignored rows get nothing)", () => {
  const rng = new Rng(25);
  const rows = 4,
    n = 5;
  const targets = Int32Array.from([3, -1, 0, 4]);
  for (const buf of BUFFER_TYPES) {
    const logits = buf.from(rng.f32(rows * n, -2, 2));
    const losses = buf.make(rows),
      lse = buf.make(rows);
    checkGradients({
      label: "crossEntropy",
      rng,
      inputs: { logits },
      forward: () => {
        K.crossEntropy(logits, targets, rows, n, losses, lse);
        return losses;
      },
      backward: (dloss, g) => K.crossEntropyBackward(logits, targets, lse, dloss, rows, n, g.logits),
      reference: (i) => naiveCrossEntropy(i.logits, targets, rows, n),
    });
    const d = buf.make(rows * n).fill(5);
    K.crossEntropyBackward(logits, Int32Array.from([-1, -1, -7, -1]), lse, buf.make(rows).fill(1), rows, n, d);
    assert.ok(d.every((v) => v === 5));
  }
});

test("crossEntropy: NaN in a row propagates to that row's loss", () => {
  const losses = new Float32Array(2),
    lse = new Float32Array(2);
  K.crossEntropy(Float32Array.from([0, NaN, 1, 2]), Int32Array.from([0, 1]), 2, 2, losses, lse);
  assert.ok(Number.isNaN(losses[0]) && Number.isNaN(lse[0]));
  assert.ok(Number.isFinite(losses[1]));
});

test("norm kernels: argument errors", () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => K.softmax(f(5), 2, 3, f(6)), { message: "softmax: 'x' has 5 elements, expected at least 6 for rows=2, n=3" });
  assert.throws(() => K.softmaxBackward(f(6), f(6), 2, 3, f(4)), /softmaxBackward: 'dx' has 4 elements, expected at least 6/);
  assert.throws(() => K.layerNorm(f(6), f(2), null, 2, 3, 1e-5, f(6), f(2), f(2)), /layerNorm: 'gamma' has 2 elements, expected at least 3 for n=3/);
  assert.throws(() => K.layerNorm(f(6), null, null, 2, 3, 1e-5, f(6), f(1), f(2)), /layerNorm: 'mean' has 1 elements, expected at least 2 for rows=2/);
  assert.throws(() => K.layerNormBackward(f(6), f(6), null, f(2), f(2), 2, 3, f(6), f(3), f(2)), /layerNormBackward: 'dbeta' has 2 elements/);
  assert.throws(() => K.crossEntropy(f(6), Int32Array.from([0, 3]), 2, 3, f(2), f(2)), /crossEntropy: target 3 at row 1 is out of range for n=3/);
  assert.throws(() => K.crossEntropy(f(6), Int32Array.from([0]), 2, 3, f(2), f(2)), /crossEntropy: 'targets' has 1 elements, expected at least 2 for rows=2/);
  assert.throws(() => K.crossEntropyBackward(f(6), Int32Array.from([0, 1]), f(2), f(1), 2, 3, f(6)), /crossEntropyBackward: 'dloss' has 1 elements/);
});
