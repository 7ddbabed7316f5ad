/**
 * Per-token-loss PCA (Olsson et al. 2022): fix one random loss index in each evaluation window;
 * every checkpoint of every run gives the vector of the losses at those indices (one number per
 * window); PCA over all those vectors (one row per checkpoint of each run); each run's checkpoints,
 * projected on the first two components, trace its trajectory, which turns during the phase change.
 *
 * The indices come from a seed (`fixedLossIndices`), so every checkpoint and every run uses the
 * same ones. Index i is the loss of predicting token i + 1 (position-loss.ts); indices are drawn
 * uniformly from 0..nCtx − 1.
 *
 * PCA: rows centred by the mean row; the components are the top eigenvectors of the covariance,
 * found through the smaller of the two Gram matrices (n × n rows, or d × d columns) with Jacobi
 * rotations: n checkpoints × d windows with n in the hundreds and d in the thousands costs an n × n
 * eigenproblem. Each component's sign is fixed so its largest-magnitude loading is positive, which
 * makes results reproducible.
 */
import type { LanguageModel } from "../model/model.ts";
import { Rng } from "../util/random.ts";
import { lossesAtEach, type WindowOptions } from "./position-loss.ts";

/** One loss index per window, uniform in [0, nPositions), from a seed. */
export function fixedLossIndices(nWindows: number, opts: { nPositions: number; seed: number }): Int32Array {
  const { nPositions, seed } = opts;
  const rng = new Rng(seed);
  const out = new Int32Array(nWindows);
  for (let i = 0; i < nWindows; i++) out[i] = rng.int(nPositions);
  return out;
}

export interface TokenLossOptions extends WindowOptions {
  /** Seed of the fixed indices (default 0); ignored when `indices` is given. */
  seed?: number;
  indices?: Int32Array;
}

/** The per-token-loss vector of a model: its loss at each window's fixed index (plain numbers). */
export function tokenLossVector(model: LanguageModel, windows: Int32Array, opts: TokenLossOptions = {}): { indices: number[]; losses: number[] } {
  const length = opts.windowLength ?? model.config.nCtx + 1;
  const n = opts.nWindows ?? Math.floor(windows.length / length);
  const indices = opts.indices ?? fixedLossIndices(n, { nPositions: Math.min(model.config.nCtx, length - 1), seed: opts.seed ?? 0 });
  const losses = lossesAtEach(model, windows, { ...opts, nWindows: n, indexOf: indices });
  return { indices: Array.from(indices.subarray(0, n)), losses: Array.from(losses) };
}

/** Eigen-decomposition of a symmetric matrix (row-major n × n) by cyclic Jacobi rotations. */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0,
      total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        total += m[i * n + j] ** 2;
        if (i !== j) off += m[i * n + j] ** 2;
      }
    }
    if (off <= 1e-24 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p],
            mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k],
            mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p],
            vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  // Columns of v are eigenvectors; return them as rows, by decreasing eigenvalue.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j] - m[i * n + i]);
  const values = Float64Array.from(order, (i) => m[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((col, r) => {
    for (let k = 0; k < n; k++) vectors[r * n + k] = v[k * n + col];
  });
  return { values, vectors };
}

export interface PcaResult {
  /** Mean row (length d). */
  mean: number[];
  /** Top k components, each a unit vector of length d. */
  components: number[][];
  /** Variance along each component. */
  variance: number[];
  /** Share of the total variance along each component. */
  explained: number[];
  /** Each row projected on the components: [n][k]. */
  projections: number[][];
}

/** PCA of n rows of length d: the top k components (k ≤ min(n, d)). */
export function pca(rows: readonly ArrayLike<number>[], k = 2): PcaResult {
  const n = rows.length;
  if (n === 0) throw new Error("pca: 'rows' is empty");
  const d = rows[0].length;
  for (const [i, r] of rows.entries()) if (r.length !== d) throw new Error(`pca: row ${i} has ${r.length} values, row 0 has ${d}`);
  const mean = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j] / n;
  const x = new Float64Array(n * d);
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) x[i * d + j] = r[j] - mean[j];
  });
  const kk = Math.min(k, n, d);
  const components: number[][] = [];
  const variance: number[] = [];
  const denom = Math.max(1, n - 1);
  let totalVar = 0;
  for (let i = 0; i < n * d; i++) totalVar += x[i] * x[i];
  totalVar /= denom;
  if (n <= d) {
    // Gram G = X Xᵀ (n × n): its eigenvectors u give components Xᵀu / |Xᵀu|.
    const g = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += x[i * d + t] * x[j * d + t];
        g[i * n + j] = g[j * n + i] = s;
      }
    }
    const e = symmetricEigen(g, n);
    for (let c = 0; c < kk; c++) {
      const comp = new Float64Array(d);
      for (let i = 0; i < n; i++) {
        const u = e.vectors[c * n + i];
        for (let t = 0; t < d; t++) comp[t] += x[i * d + t] * u;
      }
      let norm = 0;
      for (let t = 0; t < d; t++) norm += comp[t] * comp[t];
      norm = Math.sqrt(norm);
      components.push(Array.from(comp, (v) => (norm > 0 ? v / norm : 0)));
      variance.push(Math.max(0, e.values[c]) / denom);
    }
  } else {
    const cov = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < d; a++) for (let b = a; b < d; b++) cov[a * d + b] += x[i * d + a] * x[i * d + b];
    }
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[a * d + b] = cov[b * d + a];
    const e = symmetricEigen(cov, d);
    for (let c = 0; c < kk; c++) {
      components.push(Array.from(e.vectors.subarray(c * d, (c + 1) * d)));
      variance.push(Math.max(0, e.values[c]) / denom);
    }
  }
  for (const comp of components) {
    let big = 0;
    for (const v of comp) if (Math.abs(v) > Math.abs(big)) big = v;
    if (big < 0) for (let t = 0; t < d; t++) comp[t] = -comp[t];
  }
  const projections = Array.from({ length: n }, (_, i) =>
    components.map((comp) => {
      let s = 0;
      for (let t = 0; t < d; t++) s += x[i * d + t] * comp[t];
      return s;
    }),
  );
  return {
    mean: Array.from(mean),
    components,
    variance,
    explained: variance.map((v) => (totalVar > 0 ? v / totalVar : 0)),
    projections,
  };
}

export interface RunLossVectors {
  run: string;
  checkpoints: ReadonlyArray<{ tokens: number; losses: ArrayLike<number> }>;
}

export interface LossPcaResult {
  explained: number[];
  variance: number[];
  /** Each run's checkpoints (by tokens) in the first two components. */
  trajectories: Array<{ run: string; points: Array<{ tokens: number; pc1: number; pc2: number }> }>;
}

/**
 * PCA over every checkpoint of every run (one row per checkpoint: its per-token-loss vector) and
 * each run's trajectory in the first two components.
 */
export function lossPcaTrajectories(runs: readonly RunLossVectors[]): LossPcaResult {
  const rows: ArrayLike<number>[] = [];
  const owner: Array<{ run: number; tokens: number }> = [];
  runs.forEach((r, ri) => {
    for (const c of r.checkpoints) {
      rows.push(c.losses);
      owner.push({ run: ri, tokens: c.tokens });
    }
  });
  const p = pca(rows, 2);
  const trajectories = runs.map((r) => ({ run: r.run, points: [] as Array<{ tokens: number; pc1: number; pc2: number }> }));
  owner.forEach((o, i) => trajectories[o.run].points.push({ tokens: o.tokens, pc1: p.projections[i][0] ?? 0, pc2: p.projections[i][1] ?? 0 }));
  for (const t of trajectories) t.points.sort((a, b) => a.tokens - b.tokens);
  return { explained: p.explained, variance: p.variance, trajectories };
}
