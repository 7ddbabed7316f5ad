/**
 * Small statistics the measures share: mean and standard deviation, quantiles, the seeded
 * percentile bootstrap of a mean (the ICL score's confidence interval), and the number of samples a
 * target interval half-width needs.
 *
 * The bootstrap resamples *windows* (the unit the evaluation set is drawn in), so positions of one
 * window stay together, and paired quantities (loss@500 − loss@50 of the same window, a head's
 * ablated minus clean score on the same window) keep their pairing. It is seeded with `Rng`, so
 * an interval is reproducible bit for bit.
 */
import { Rng } from "../util/random.ts";

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/**
 * Sample standard deviation (n − 1 in the denominator); 0 for fewer than two values (the measures'
 * spread of resamples). Summaries over seeds use src/report/summary.ts `meanSd`, whose sd is null
 * below two values.
 */
export function sd(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < n; i++) s += (xs[i] - m) ** 2;
  return Math.sqrt(s / (n - 1));
}

/** The q-quantile (0 ≤ q ≤ 1) of already sorted values, linearly interpolated (NumPy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos),
    hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(xs: ArrayLike<number>): number {
  return quantileSorted(Float64Array.from(xs).sort(), 0.5);
}

/** Two-sided standard normal quantile z with P(|Z| ≤ z) = confidence (Acklam's approximation). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), found ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lowP = 0.02425;
  if (p < lowP) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lowP) return -normalQuantile(1 - p);
  const q = p - 0.5,
    r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** Student's t quantile t(0.975, df), df = 1…30 (two-sided 95%; standard tables, 3 decimals). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * t(0.975, df): the table for df ≤ 30, above it the Cornish–Fisher expansion around the normal
 * quantile (two terms; within 2e-4 of the exact value from df 31 on).
 */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`tQuantile975: df must be a positive integer, found ${df}`);
  if (df <= T975.length) return T975[df - 1];
  const z = normalQuantile(0.975);
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

/**
 * The 95% confidence interval of the mean of independent values (seeds): mean ± t(0.975, n − 1) ·
 * sd / √n; null for fewer than two values.
 */
export function tInterval95(xs: readonly number[]): [number, number] | null {
  if (xs.length < 2) return null;
  const m = mean(xs),
    h = (tQuantile975(xs.length - 1) * sd(xs)) / Math.sqrt(xs.length);
  return [m - h, m + h];
}

export interface BootstrapOptions {
  /** Number of bootstrap resamples (default 1000). */
  resamples?: number;
  /** Coverage of the interval (default 0.95). */
  confidence?: number;
  /** Seed of the resampling generator (default 0). */
  seed?: number;
}

export interface Interval {
  /** The statistic on the full sample. */
  estimate: number;
  /** Percentile-bootstrap interval [lo, hi]. */
  lo: number;
  hi: number;
  /** (hi − lo) / 2: the "± x nats" a report prints. */
  halfWidth: number;
  /** Standard deviation of the bootstrap distribution (the standard error of the estimate). */
  se: number;
  confidence: number;
  resamples: number;
}

/**
 * Percentile-bootstrap confidence interval of the mean of `values` (one value per window):
 * `resamples` means of n values drawn with replacement; the interval is their (1 − c)/2 and
 * (1 + c)/2 quantiles. Deterministic for a seed.
 */
export function bootstrapMean(values: ArrayLike<number>, opts: BootstrapOptions = {}): Interval {
  const { resamples = 1000, confidence = 0.95, seed = 0 } = opts;
  const n = values.length;
  if (n === 0) throw new Error("bootstrapMean: 'values' is empty; at least one value is needed");
  if (!(confidence > 0 && confidence < 1)) throw new Error(`bootstrapMean: 'confidence' must be in (0, 1), found ${confidence}`);
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`bootstrapMean: 'resamples' must be a positive integer, found ${resamples}`);
  const v = Float64Array.from(values);
  const rng = new Rng(seed);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    // nextU32 · n / 2³² is a uniform index without the division of Rng.int (the inner loop runs
    // resamples × n times: 20M for 20,000 windows).
    for (let i = 0; i < n; i++) s += v[Math.floor((rng.nextU32() * n) / 4294967296)];
    means[r] = s / n;
  }
  means.sort();
  const alpha = (1 - confidence) / 2;
  const lo = quantileSorted(means, alpha),
    hi = quantileSorted(means, 1 - alpha);
  return { estimate: mean(v), lo, hi, halfWidth: (hi - lo) / 2, se: sd(means), confidence, resamples };
}

/**
 * Samples needed for a mean's interval to have half-width `halfWidth` when one sample's standard
 * deviation is `sd`: n = (z · sd / halfWidth)², z the normal quantile of the confidence.
 */
export function samplesForHalfWidth(sdValue: number, halfWidth: number, opts: { confidence?: number } = {}): number {
  const confidence = opts.confidence ?? 0.95;
  const z = normalQuantile(0.5 + confidence / 2);
  return Math.ceil(((z * sdValue) / halfWidth) ** 2);
}

/** A finite number, or null (JSON has no NaN). */
export function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
