/**
 * Phase-change detection on trajectories over training (x = log10 training tokens).
 *
 * Phase change (on the ICL score, which drops, or the best head's induction score, which rises):
 *   1. smoothing: a running median of 3 (removes single outliers, e.g. one noisy checkpoint)
 *      followed by a running mean of 3 (endpoints: median/mean of the two available values);
 *   2. the drop: the largest decrease of the smoothed curve from an earlier to a later checkpoint,
 *      D = max_{a<b} s_a − s_b (for a rise, the same on −s);
 *   3. "none" unless D ≥ max(threshold, 3 σ̂), σ̂ the checkpoint-to-checkpoint noise: the `noise`
 *      option when the caller knows it (the ICL score's bootstrap standard error), else estimated
 *      robustly from the raw values' second differences (1.4826 · MAD / √6); so a flat curve whose
 *      noise exceeds the threshold is not called a phase change;
 *   4. the window: start and end are where the smoothed curve, walking from a to b, first reaches
 *      10% and 90% of the drop (linear interpolation in log tokens); the steepest point is the
 *      steepest segment between them. A drop in two stages separated by a plateau is reported as
 *      one window spanning both;
 *   5. abrupt, not gradual: "none" unless the window spans at most `maxWidthDecades` (default
 *      0.6: 10% → 90% of the change within a factor of 4 of training tokens) or at least half of
 *      the change happens within a doubling of tokens (0.3 decades, or two checkpoint intervals
 *      where checkpoints are sparser; the smoothing spreads a step over three intervals, so this
 *      sees a step whole with 10 or more checkpoints per decade): an abrupt drop followed by a slow tail, as when smeared keys
 *      let a 1-layer model copy (a 0.8-nat drop between two checkpoints, then 0.7 nats more over
 *      the next decade). Olsson et al.'s phase change happens "over a small window of training"
 *      (about a factor of 2 in tokens); a slow drift over a decade or more — e.g. a 1-layer model
 *      learning, ever better, which tokens the context holds — is not one. With the default
 *      smoothing a step between two checkpoints 1/10 decade apart reads as a window of about
 *      0.2 decades. Measured on the demo's runs (10 checkpoints per decade): 2- and 3-layer
 *      windows 0.36–0.50 decades with 55–85% of the drop within a doubling; 1-layer drifts 0.83–2.5
 *      decades with at most 42% (docs/demo-calibration.md).
 * Default thresholds (PHASE_THRESHOLDS): 0.15 nats for the ICL score, about half the smallest
 * anchored phase change (2L: −0.088 → −0.425) and above the ±0.12 a 1-layer model wanders within;
 * 0.15 for the induction score (the anchor rises 0.01 → 0.75; 1-layer heads stay ≤ 0.02).
 *
 * Loss bumps (the training loss not convex against log tokens): loss-bump.ts.
 */
import { formatTokens } from "../util/format.ts";
import { median } from "./stats.ts";

export interface TrajectoryPoint {
  /** Training tokens at the checkpoint (> 0). */
  tokens: number;
  value: number;
}

export interface PhaseChangeOptions {
  /** "down" for the ICL score (default), "up" for an induction score. */
  direction?: "down" | "up";
  /** Smallest drop reported (value units; default 0.15). */
  threshold?: number;
  /** Multiple of the noise estimate a drop must also exceed (default 3). */
  noiseFactor?: number;
  /** Smoothing (default "median3-mean3"). */
  smoothing?: "median3-mean3" | "none";
  /** Widest window (decades of tokens, 10% → 90% of the change) called abrupt by itself (default 0.6). */
  maxWidthDecades?: number;
  /** Share of the change within a doubling of tokens that also makes it abrupt (default 0.5). */
  minShareInDoubling?: number;
  /**
   * Known noise (standard error) of one point, e.g. the median `se` of the checkpoints' ICL
   * scores; estimated from the values when omitted.
   */
  noise?: number;
}

export interface PhaseNone {
  status: "none";
  reason: string;
  /** Largest smoothed change in the direction asked (≥ 0), value units. */
  size: number;
  threshold: number;
  /** max(threshold, noiseFactor · noise): what the change had to reach. */
  required: number;
  noise: number;
}

export interface PhaseFound {
  status: "found";
  /** Tokens where 10% of the change is reached. */
  start: number;
  /** Tokens where 90% is reached. */
  end: number;
  /** Tokens at the middle of the steepest segment. */
  steepest: number;
  /** Slope there, value units per decade of tokens (negative for a drop). */
  steepestSlope: number;
  /** Size of the change (smoothed, value units, ≥ 0). */
  size: number;
  /** Smoothed values where the change begins (its 0%) and ends (its 100%). */
  from: number;
  to: number;
  /** log10(end / start). */
  widthDecades: number;
  /** Share of the whole trajectory's change (first → last smoothed value) inside [start, end]; null if that is not a change in the asked direction. */
  shareInWindow: number | null;
  threshold: number;
  required: number;
  noise: number;
}

export type PhaseChange = PhaseNone | PhaseFound;

export const PHASE_THRESHOLDS = { icl: 0.15, induction: 0.15 } as const;

/** Default widest window of an abrupt change, decades of tokens (see the module comment, step 5). */
export const PHASE_MAX_WIDTH_DECADES = 0.6;
/** Default share of the change within a doubling of tokens that makes a wider window abrupt (step 5). */
export const PHASE_MIN_SHARE_IN_DOUBLING = 0.5;

/** Running median of 3 then running mean of 3. */
export function smooth3(y: ArrayLike<number>): Float64Array {
  const n = y.length;
  const med = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = [y[Math.max(0, i - 1)], y[i], y[Math.min(n - 1, i + 1)]];
    if (i === 0 || i === n - 1) med[i] = y[i];
    else med[i] = w.sort((a, b) => a - b)[1];
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - 1),
      hi = Math.min(n - 1, i + 1);
    let s = 0;
    for (let j = lo; j <= hi; j++) s += med[j];
    out[i] = s / (hi - lo + 1);
  }
  return out;
}

/**
 * Robust noise of a series from its second differences, 1.4826 · MAD(Δ²y) / √6 (for independent
 * noise of sd σ, Δ²y has sd σ·√6); second differences cancel a straight trend, so a curve's
 * slope does not count as noise.
 */
export function noiseEstimate(y: ArrayLike<number>): number {
  if (y.length < 4) return 0;
  const d = new Float64Array(y.length - 2);
  for (let i = 2; i < y.length; i++) d[i - 2] = y[i] - 2 * y[i - 1] + y[i - 2];
  const med = median(d);
  const mad = median(Float64Array.from(d, (v) => Math.abs(v - med)));
  return (1.4826 * mad) / Math.sqrt(6);
}

export function sortedPoints(points: readonly TrajectoryPoint[], fn: string): { x: Float64Array; y: Float64Array } {
  const ps = points.filter((p) => Number.isFinite(p.value) && Number.isFinite(p.tokens));
  for (const p of ps) if (!(p.tokens > 0)) throw new Error(`${fn}: tokens must be > 0 (log scale), found ${p.tokens}`);
  ps.sort((a, b) => a.tokens - b.tokens);
  return { x: Float64Array.from(ps, (p) => Math.log10(p.tokens)), y: Float64Array.from(ps, (p) => p.value) };
}

/** x where the segment (x0, y0)–(x1, y1) reaches level (y0 ≥ level ≥ y1). */
function crossAt(x0: number, y0: number, x1: number, y1: number, level: number): number {
  return y0 === y1 ? x0 : x0 + ((y0 - level) / (y0 - y1)) * (x1 - x0);
}

/** Detects an abrupt change of a trajectory; see the module comment for the method. */
export function detectPhaseChange(points: readonly TrajectoryPoint[], opts: PhaseChangeOptions = {}): PhaseChange {
  const sign = (opts.direction ?? "down") === "down" ? 1 : -1;
  const threshold = opts.threshold ?? PHASE_THRESHOLDS.icl;
  const noiseFactor = opts.noiseFactor ?? 3;
  const { x, y: raw } = sortedPoints(points, "detectPhaseChange");
  const n = x.length;
  const y = Float64Array.from(raw, (v) => sign * v);
  const noise = opts.noise ?? noiseEstimate(y);
  const required = Math.max(threshold, noiseFactor * noise);
  if (n < 3) return { status: "none", reason: `${n} points; at least 3 are needed`, size: 0, threshold, required, noise };
  const s = (opts.smoothing ?? "median3-mean3") === "none" ? y : smooth3(y);
  // Largest decrease from an earlier point: track the running maximum.
  let best = 0,
    a = 0,
    b = 0,
    argMax = 0;
  for (let j = 1; j < n; j++) {
    if (s[j - 1] > s[argMax]) argMax = j - 1;
    if (s[argMax] - s[j] > best) {
      best = s[argMax] - s[j];
      a = argMax;
      b = j;
    }
  }
  if (best < required) {
    const why =
      best < threshold
        ? `change ${best.toFixed(3)} is below the threshold ${threshold}`
        : `change ${best.toFixed(3)} is within ${noiseFactor}× the noise ${noise.toFixed(3)}`;
    return { status: "none", reason: why, size: best, threshold, required, noise };
  }
  const top = s[a];
  const level = (f: number) => top - f * best;
  let xs = NaN,
    xe = NaN;
  for (let i = a + 1; i <= b; i++) {
    if (Number.isNaN(xs) && s[i] <= level(0.1)) xs = crossAt(x[i - 1], s[i - 1], x[i], s[i], level(0.1));
    if (Number.isNaN(xe) && s[i] <= level(0.9)) xe = crossAt(x[i - 1], s[i - 1], x[i], s[i], level(0.9));
  }
  // Steepest segment overlapping [xs, xe].
  let steep = 0,
    steepX = (xs + xe) / 2;
  for (let i = a + 1; i <= b; i++) {
    if (x[i] < xs || x[i - 1] > xe || x[i] === x[i - 1]) continue;
    const slope = (s[i] - s[i - 1]) / (x[i] - x[i - 1]);
    if (slope < steep) {
      steep = slope;
      steepX = (x[i] + x[i - 1]) / 2;
    }
  }
  const maxWidth = opts.maxWidthDecades ?? PHASE_MAX_WIDTH_DECADES;
  const minShare = opts.minShareInDoubling ?? PHASE_MIN_SHARE_IN_DOUBLING;
  if (xe - xs > maxWidth) {
    // The largest part of the drop inside a doubling of tokens (or two checkpoint intervals).
    const spacing = median(Float64Array.from({ length: n - 1 }, (_, i) => x[i + 1] - x[i]));
    const span = Math.max(Math.log10(2), 2 * spacing) + 1e-9;
    let inDoubling = 0;
    for (let i = a; i <= b; i++) for (let j = i + 1; j <= b && x[j] - x[i] <= span; j++) inDoubling = Math.max(inDoubling, s[i] - s[j]);
    if (inDoubling < minShare * best) {
      return {
        status: "none",
        reason:
          `gradual: the change of ${best.toFixed(3)} spreads over ${(xe - xs).toFixed(2)} decades of tokens ` +
          `(${formatTokens(10 ** xs)}–${formatTokens(10 ** xe)}), ${Math.round((100 * inDoubling) / best)}% of it within a doubling; ` +
          `an abrupt one spans at most ${maxWidth} decades or has ${Math.round(100 * minShare)}% within a doubling`,
        size: best,
        threshold,
        required,
        noise,
      };
    }
  }
  const total = s[0] - s[n - 1];
  return {
    status: "found",
    start: 10 ** xs,
    end: 10 ** xe,
    steepest: 10 ** steepX,
    steepestSlope: sign * steep,
    size: best,
    from: sign * top,
    to: sign * s[b],
    widthDecades: xe - xs,
    shareInWindow: total > 0 ? (0.8 * best) / total : null,
    threshold,
    required,
    noise,
  };
}

/** Phase change of an ICL-score trajectory (a drop; threshold 0.15 nats by default). */
export function iclPhaseChange(points: readonly TrajectoryPoint[], opts: PhaseChangeOptions = {}): PhaseChange {
  return detectPhaseChange(points, { threshold: PHASE_THRESHOLDS.icl, ...opts, direction: "down" });
}

export interface HeadCheckpoint {
  tokens: number;
  heads: ReadonlyArray<{ layer: number; head: number; induction: number }>;
}

/**
 * Phase change of the best head's induction score (a rise): the head with the highest induction
 * score at the last checkpoint, followed back through every checkpoint. "none" without heads.
 */
export function inductionPhaseChange(
  checkpoints: readonly HeadCheckpoint[],
  opts: PhaseChangeOptions = {},
): PhaseChange & { layer: number | null; head: number | null } {
  const sorted = [...checkpoints].sort((p, q) => p.tokens - q.tokens);
  const last = sorted[sorted.length - 1];
  const threshold = opts.threshold ?? PHASE_THRESHOLDS.induction;
  if (last === undefined || last.heads.length === 0) {
    return { status: "none", reason: "no attention heads", size: 0, threshold, required: threshold, noise: 0, layer: null, head: null };
  }
  const bestHead = last.heads.reduce((p, q) => (q.induction > p.induction ? q : p));
  const points = sorted.map((c) => ({
    tokens: c.tokens,
    value: c.heads.find((h) => h.layer === bestHead.layer && h.head === bestHead.head)?.induction ?? NaN,
  }));
  const r = detectPhaseChange(points, { threshold, ...opts, direction: "up" });
  return { ...r, layer: bestHead.layer, head: bestHead.head };
}
