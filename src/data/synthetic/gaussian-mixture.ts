/**
 * The sequences of Chan et al. 2022 ("Data distributional properties drive emergent in-context
 * learning in transformers", arXiv 2205.05055) in the Gaussian-mixture form of Reddy 2024 ("The
 * mechanistic basis of data dependence and abrupt learning in an in-context classification task",
 * arXiv 2312.03002): written from the papers' descriptions, not ported code.
 *
 * - K classes with means μ_k ~ N(0, I/D) and L labels with vectors ν_ℓ ~ N(0, I/D), drawn once per
 *   task seed; class k has label k mod L.
 * - An item of class k is x = (μ_k + ε·η)/√(1+ε²) with fresh noise η ~ N(0, I/D) at every
 *   occurrence (ε: within-class variation).
 * - A sequence is N (item, label) pairs and a query item: x₁, ν₁, …, x_N, ν_N, x_q — T = 2N+1
 *   vectors of dimension D (item i at position 2i, its label at 2i+1, the query at 2N; 0-based);
 *   the target is the query's label index.
 * - Training sequences are bursty with probability p_B: N/B distinct classes (with distinct
 *   labels) drawn from the class distribution, each B times, in shuffled order, the query from one
 *   of them; otherwise the N classes and the query's are drawn i.i.d. from the class distribution,
 *   P(k) ∝ (k+1)^−α (Zipf; α = 0 is uniform).
 * - Evaluations: `icl-novel` (bursty sequences of N/B novel classes, fresh means per sequence, with
 *   distinct random labels: only the context tells the answer; chance 1/(N/B) among the context's
 *   labels), `icl-swap` (bursty sequences of trained classes whose labels are permuted per sequence,
 *   every class given a label other than its own: in-weights knowledge points to the wrong answer),
 *   `iwl` (the query drawn from the class distribution, the context i.i.d. from the other classes: no
 *   support in the context, chance 1/L).
 */
import { Rng } from "../../util/random.ts";

export const SEQUENCE_KINDS = ["train", "bursty", "iid", "icl-novel", "icl-swap", "iwl"] as const;
export type SequenceKind = (typeof SEQUENCE_KINDS)[number];

export interface MixtureTaskOptions {
  /** D: the dimension of items and label vectors. */
  dim: number;
  /** K: trained classes. */
  classes: number;
  /** L: labels (class k has label k mod L). */
  labels: number;
  /** N: (item, label) pairs before the query. */
  context: number;
  /** B: copies of each class in a bursty sequence (N must be a multiple of B). */
  burst: number;
  /** p_B: probability that a training sequence is bursty. */
  pBursty: number;
  /** ε: within-class variation. */
  epsilon: number;
  /** α: Zipf exponent of the class distribution (0: uniform). */
  zipf: number;
}

/** A batch of sequences, row-major: `inputs` [batch, T, D], T = 2N+1. */
export interface SequenceBatch {
  batch: number;
  T: number;
  dim: number;
  inputs: Float32Array;
  /** The query's label index per sequence [batch]. */
  targets: Int32Array;
  /** Class of each item, query last [batch, N+1] (−1 − j for the j-th novel class of a sequence). */
  classes: Int32Array;
  /** Label index shown after each context item, then the target [batch, N+1]. */
  labels: Int32Array;
}

function checkOptions(o: MixtureTaskOptions): void {
  const int = (k: keyof MixtureTaskOptions, min: number) => {
    if (!Number.isInteger(o[k]) || o[k] < min) throw new Error(`GaussianMixtureTask: '${k}' must be an integer ≥ ${min}, found ${o[k]}`);
  };
  int("dim", 1);
  int("classes", 1);
  int("labels", 2);
  int("context", 1);
  int("burst", 1);
  if (o.context % o.burst !== 0) throw new Error(`GaussianMixtureTask: 'context' (${o.context}) must be a multiple of 'burst' (${o.burst})`);
  const ways = o.context / o.burst;
  if (ways > o.labels) throw new Error(`GaussianMixtureTask: N/B = ${ways} classes of a bursty sequence need as many distinct labels, found L = ${o.labels}`);
  if (ways > Math.min(o.classes, o.labels))
    throw new Error(`GaussianMixtureTask: N/B = ${ways} distinct classes with distinct labels need K and L ≥ ${ways}, found K = ${o.classes}`);
  if (!(o.pBursty >= 0 && o.pBursty <= 1)) throw new Error(`GaussianMixtureTask: 'pBursty' must be in [0, 1], found ${o.pBursty}`);
  if (!(o.epsilon >= 0)) throw new Error(`GaussianMixtureTask: 'epsilon' must be ≥ 0, found ${o.epsilon}`);
  if (!(o.zipf >= 0)) throw new Error(`GaussianMixtureTask: 'zipf' must be ≥ 0, found ${o.zipf}`);
}

/** Zipf weights P(k) ∝ (k+1)^−α over K classes, normalised. */
export function zipfWeights(classes: number, alpha: number): Float64Array {
  const w = new Float64Array(classes);
  let s = 0;
  for (let k = 0; k < classes; k++) s += w[k] = (k + 1) ** -alpha;
  for (let k = 0; k < classes; k++) w[k] /= s;
  return w;
}

/** The task: class means and label vectors fixed by `seed`; sequences drawn with a caller's Rng. */
export class GaussianMixtureTask {
  readonly options: Readonly<MixtureTaskOptions>;
  /** μ [K, D] and ν [L, D]. */
  readonly means: Float32Array;
  readonly labelVectors: Float32Array;
  readonly weights: Float64Array;
  private readonly cdf: Float64Array;

  constructor(options: MixtureTaskOptions, seed: number) {
    checkOptions(options);
    this.options = Object.freeze({ ...options });
    const { dim: D, classes: K, labels: L } = options;
    const rng = new Rng(`gaussian-mixture/${seed}`);
    const sd = 1 / Math.sqrt(D);
    this.means = Float32Array.from({ length: K * D }, () => rng.normal() * sd);
    this.labelVectors = Float32Array.from({ length: L * D }, () => rng.normal() * sd);
    this.weights = zipfWeights(K, options.zipf);
    this.cdf = new Float64Array(K);
    let c = 0;
    for (let k = 0; k < K; k++) this.cdf[k] = c += this.weights[k];
  }

  /** T = 2N+1 positions per sequence. */
  get T(): number {
    return 2 * this.options.context + 1;
  }

  labelOf(k: number): number {
    return k % this.options.labels;
  }

  /** A class drawn from P(k) ∝ (k+1)^−α. */
  sampleClass(rng: Rng): number {
    const u = rng.uniform() * this.cdf[this.cdf.length - 1];
    let lo = 0,
      hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** A batch of `batch` sequences of one kind (`train` mixes bursty and i.i.d. with p_B). */
  sample(batch: number, kind: SequenceKind, rng: Rng): SequenceBatch {
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`GaussianMixtureTask.sample: 'batch' must be a positive integer, found ${batch}`);
    const { dim: D, context: N } = this.options;
    const T = this.T;
    const out: SequenceBatch = {
      batch,
      T,
      dim: D,
      inputs: new Float32Array(batch * T * D),
      targets: new Int32Array(batch),
      classes: new Int32Array(batch * (N + 1)),
      labels: new Int32Array(batch * (N + 1)),
    };
    for (let b = 0; b < batch; b++) {
      let k = kind;
      if (k === "train") k = rng.uniform() < this.options.pBursty ? "bursty" : "iid";
      this.sequence(out, b, k, rng);
    }
    return out;
  }

  private sequence(out: SequenceBatch, b: number, kind: Exclude<SequenceKind, "train">, rng: Rng): void {
    const { dim: D, context: N, burst: B, labels: L } = this.options;
    const classes = out.classes.subarray(b * (N + 1), (b + 1) * (N + 1));
    const labels = out.labels.subarray(b * (N + 1), (b + 1) * (N + 1));
    // Means of the sequence's novel classes (icl-novel), indexed by −1 − class.
    let novel: Float32Array | null = null;
    if (kind === "iid") {
      for (let i = 0; i <= N; i++) {
        classes[i] = this.sampleClass(rng);
        labels[i] = this.labelOf(classes[i]);
      }
    } else if (kind === "iwl") {
      const q = this.sampleClass(rng);
      if (this.options.classes < 2) throw new Error("GaussianMixtureTask: the 'iwl' evaluation needs K ≥ 2 (a context without the query's class)");
      for (let i = 0; i < N; i++) {
        let c: number;
        do c = this.sampleClass(rng);
        while (c === q);
        classes[i] = c;
        labels[i] = this.labelOf(c);
      }
      classes[N] = q;
      labels[N] = this.labelOf(q);
    } else {
      // Bursty: N/B distinct classes with distinct labels, each B times, shuffled.
      const ways = N / B;
      const chosen: number[] = [],
        chosenLabels: number[] = [];
      if (kind === "icl-novel") {
        novel = new Float32Array(ways * D);
        const sd = 1 / Math.sqrt(D);
        for (let i = 0; i < novel.length; i++) novel[i] = rng.normal() * sd;
        for (let j = 0; j < ways; j++) chosen.push(-1 - j);
        for (const l of distinct(ways, L, rng)) chosenLabels.push(l);
      } else {
        while (chosen.length < ways) {
          const c = this.sampleClass(rng);
          if (chosen.includes(c) || chosenLabels.includes(this.labelOf(c))) continue;
          chosen.push(c);
          chosenLabels.push(this.labelOf(c));
        }
        if (kind === "icl-swap") {
          // A random derangement-like relabelling: distinct labels, none its class's own.
          for (;;) {
            const ls = distinct(ways, L, rng);
            if (ls.every((l, j) => l !== this.labelOf(chosen[j]))) {
              chosenLabels.splice(0, ways, ...ls);
              break;
            }
          }
        }
      }
      const order: number[] = [];
      for (let j = 0; j < ways; j++) for (let r = 0; r < B; r++) order.push(j);
      shuffle(order, rng);
      for (let i = 0; i < N; i++) {
        classes[i] = chosen[order[i]];
        labels[i] = chosenLabels[order[i]];
      }
      const q = rng.int(ways);
      classes[N] = chosen[q];
      labels[N] = chosenLabels[q];
    }
    out.targets[b] = labels[N];
    // The vectors: items at 2i, labels at 2i+1, the query at 2N.
    const eps = this.options.epsilon;
    const norm = 1 / Math.sqrt(1 + eps * eps);
    const sd = 1 / Math.sqrt(D);
    const row = b * out.T * D;
    for (let i = 0; i <= N; i++) {
      const c = classes[i];
      const mean = c >= 0 ? this.means.subarray(c * D, (c + 1) * D) : novel!.subarray((-1 - c) * D, -c * D);
      const at = row + 2 * i * D;
      for (let d = 0; d < D; d++) out.inputs[at + d] = (mean[d] + (eps > 0 ? eps * rng.normal() * sd : 0)) * norm;
      if (i < N) out.inputs.set(this.labelVectors.subarray(labels[i] * D, (labels[i] + 1) * D), at + D);
    }
  }
}

/** `n` distinct integers from [0, m), in random order. */
function distinct(n: number, m: number, rng: Rng): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const v = rng.int(m);
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

function shuffle(a: number[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
}
