/**
 * In-context linear regression (Garg et al. 2022; the task of Dherin et al. 2025, "Learning without
 * training", arXiv 2507.16003, §dynamics): every sequence draws a fresh weight vector
 * w ~ N(0, I/D), inputs x ~ N(0, I) and targets y = ⟨w, x⟩ (so Var y = 1: predicting 0, the best
 * answer without context, has mean squared error 1).
 *
 * Two layouts, vectors of dimension D+1 (0-based positions):
 * - `interleaved` (Garg et al.): x₁, y₁, …, x_N, y_N, x_q, T = 2N+1 (x_k at 2(k−1), y_k after it,
 *   the query at 2N). An x token is (x, 0), a y token (0, …, 0, y). The prediction of y_k is read
 *   at x_k's position (it sees the k − 1 pairs before it). A single attention layer cannot bind
 *   x_k to y_k here (they are different tokens): a model needs two layers, as for induction.
 * - `paired` (Dherin et al.'s single block): (x₁, y₁), …, (x_N, y_N), (x_q, 0), T = N+1, one token
 *   per example and the query last; only the query's prediction is read.
 * `targets` [batch, N+1] holds y₁ … y_N, y_q in that order in both.
 */
import type { Rng } from "../../util/random.ts";

export interface RegressionTaskOptions {
  /** D: the dimension of x and w. */
  dim: number;
  /** N: (x, y) pairs before the query. */
  context: number;
  /** Token layout (default `interleaved`). */
  format?: RegressionFormat;
}

export type RegressionFormat = "interleaved" | "paired";

/** The sequence length: 2N+1 interleaved, N+1 paired. */
export function sequenceLength(o: RegressionTaskOptions): number {
  return (o.format ?? "interleaved") === "paired" ? o.context + 1 : 2 * o.context + 1;
}

/** Positions (0-based) of the first i examples' tokens (their context), and the query's. */
export function contextPositions(format: RegressionFormat, i: number): number[] {
  return Array.from({ length: format === "paired" ? i : 2 * i }, (_, p) => p);
}

export function queryPosition(format: RegressionFormat, context: number): number {
  return format === "paired" ? context : 2 * context;
}

export interface RegressionBatch {
  batch: number;
  format: RegressionFormat;
  /** N. */
  context: number;
  /** 2N+1 interleaved, N+1 paired. */
  T: number;
  /** D+1: the width of a token. */
  dIn: number;
  /** [batch, T, D+1], row-major. */
  inputs: Float32Array;
  /** y₁ … y_N, y_q per sequence [batch, N+1]. */
  targets: Float32Array;
  /** The sequence's weight vector [batch, D]. */
  w: Float64Array;
  /** x₁ … x_N, x_q per sequence [batch, N+1, D] (float64: what the least-squares baselines use). */
  xs: Float64Array;
}

/** Positions (0-based) where predictions are read: interleaved 0, 2, …, 2N (every x token); paired N (the query). */
export function predictionPositions(o: RegressionTaskOptions): number[] {
  if ((o.format ?? "interleaved") === "paired") return [o.context];
  return Array.from({ length: o.context + 1 }, (_, k) => 2 * k);
}

/** The query-form token (x_k, 0) of example k (1-based; k = N + 1: the query) of sequence `b` of a batch. */
export function queryToken(s: RegressionBatch, k: number, b = 0): Float64Array {
  const D = s.dIn - 1;
  const o = (b * (s.context + 1) + k - 1) * D;
  const v = new Float64Array(s.dIn);
  v.set(s.xs.subarray(o, o + D));
  return v;
}

/** Checks the options (positive integers) and returns them. */
export function checkRegressionOptions(o: RegressionTaskOptions): RegressionTaskOptions {
  for (const k of ["dim", "context"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`regression task: '${k}' must be a positive integer, found ${o[k]}`);
  }
  if (o.format !== undefined && o.format !== "interleaved" && o.format !== "paired")
    throw new Error(`regression task: 'format' must be 'interleaved' or 'paired', found '${o.format}'`);
  return o;
}

/** `batch` fresh sequences (each its own w) from `rng`: deterministic for a generator state. */
export function sampleRegression(opts: RegressionTaskOptions, batch: number, rng: Rng): RegressionBatch {
  const { dim: D, context: N } = checkRegressionOptions(opts);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`sampleRegression: 'batch' must be a positive integer, found ${batch}`);
  const format = opts.format ?? "interleaved";
  const paired = format === "paired";
  const T = sequenceLength(opts),
    dIn = D + 1;
  const inputs = new Float32Array(batch * T * dIn);
  const targets = new Float32Array(batch * (N + 1));
  const w = new Float64Array(batch * D);
  const xs = new Float64Array(batch * (N + 1) * D);
  const sw = 1 / Math.sqrt(D);
  for (let b = 0; b < batch; b++) {
    for (let e = 0; e < D; e++) w[b * D + e] = sw * rng.normal();
    for (let k = 0; k <= N; k++) {
      let y = 0;
      const xo = (b * (N + 1) + k) * D;
      const to = (b * T + (paired ? k : 2 * k)) * dIn;
      for (let e = 0; e < D; e++) {
        const x = rng.normal();
        xs[xo + e] = x;
        inputs[to + e] = x;
        y += w[b * D + e] * x;
      }
      targets[b * (N + 1) + k] = y;
      if (k < N) inputs[(b * T + (paired ? k : 2 * k + 1)) * dIn + D] = y;
    }
  }
  return { batch, format, context: N, T, dIn, inputs, targets, w, xs };
}

/** One sequence of a batch as its own batch of 1 (views of the batch's arrays). */
export function sequenceOf(b: RegressionBatch, i: number): RegressionBatch {
  const N = b.context,
    D = b.dIn - 1;
  if (!Number.isInteger(i) || i < 0 || i >= b.batch) throw new Error(`sequenceOf: index ${i} is outside the batch [0, ${b.batch})`);
  return {
    batch: 1,
    format: b.format,
    context: N,
    T: b.T,
    dIn: b.dIn,
    inputs: b.inputs.subarray(i * b.T * b.dIn, (i + 1) * b.T * b.dIn),
    targets: b.targets.subarray(i * (N + 1), (i + 1) * (N + 1)),
    w: b.w.subarray(i * D, (i + 1) * D),
    xs: b.xs.subarray(i * (N + 1) * D, (i + 1) * (N + 1) * D),
  };
}

/**
 * The least-squares prediction of y_q from the first k pairs of sequence `s` (the minimum-norm
 * solution when k < D: ridge with a vanishing penalty, λ = 1e-8): the Bayes-optimal answer's
 * limit, the reference a learned ICL curve is compared with.
 */
export function leastSquaresPrediction(s: RegressionBatch, k: number): number {
  const D = s.dIn - 1,
    N = s.context;
  const q = s.xs.subarray(N * D, N * D + D);
  if (k === 0) return 0;
  // Ridge in the dual: w = Xᵀ(XXᵀ + λI)⁻¹y, stable for k < D and k ≥ D alike.
  const lam = 1e-8;
  const G = new Float64Array(k * k);
  for (let a = 0; a < k; a++)
    for (let c = 0; c < k; c++) {
      let v = a === c ? lam : 0;
      for (let e = 0; e < D; e++) v += s.xs[a * D + e] * s.xs[c * D + e];
      G[a * k + c] = v;
    }
  const alpha = solve(
    G,
    Float64Array.from({ length: k }, (_, a) => s.targets[a]),
    k,
  );
  let pred = 0;
  for (let a = 0; a < k; a++) {
    let kq = 0;
    for (let e = 0; e < D; e++) kq += s.xs[a * D + e] * q[e];
    pred += alpha[a] * kq;
  }
  return pred;
}

/** Solves A x = b (A [n, n], symmetric positive definite) by Gaussian elimination with partial pivoting. */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = Float64Array.from(A),
    x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    if (p !== c) {
      for (let e = 0; e < n; e++) [M[c * n + e], M[p * n + e]] = [M[p * n + e], M[c * n + e]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / M[c * n + c];
      if (f === 0) continue;
      for (let e = c; e < n; e++) M[r * n + e] -= f * M[c * n + e];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    let v = x[c];
    for (let e = c + 1; e < n; e++) v -= M[c * n + e] * x[e];
    x[c] = v / M[c * n + c];
  }
  return x;
}
