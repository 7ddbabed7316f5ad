/**
 * The ICL score (Olsson et al. 2022): loss of the 500th token of a context minus loss of the 50th,
 * averaged over fixed evaluation windows, with a bootstrap confidence interval over windows.
 *
 * Index convention (see position-loss.ts): loss index i predicts token i + 1 from tokens 0..i, so
 * "the 500th token" is index 499 and "the 50th" index 49:
 *     score = mean_w loss_w[499] − mean_w loss_w[49]   (nats; more negative = more ICL).
 * The interval is the percentile bootstrap of the mean of the per-window differences
 * d_w = loss_w[499] − loss_w[49] (paired: both losses of a window stay together).
 *
 * Default number of windows (DEFAULT_ICL_WINDOWS = 20,000), from the variance. The half-width of a
 * 95% interval of a mean of N differences is ≈ 1.96 · σ_d / √N, so ±0.05 nats needs
 * N ≥ (1.96 · σ_d / 0.05)². For a trained small language model the per-token loss at one position
 * has a mean of about 4 nats and a standard deviation of about 2.5–3 nats (a long right tail:
 * most tokens cost under 2 nats, rare ones 8–12); two positions of one window are only weakly
 * correlated (ρ ≈ 0.1–0.2, shared document difficulty), so σ_d = σ·√(2(1 − ρ)) ≈ 3.2–3.8 nats and
 * N ≈ 16,000–22,000. 20,000 windows give ±0.049 at σ_d = 3.5. The paper used 10,000 (±0.07 at the
 * same σ_d); 2,000 windows give about ±0.15, enough to see a 0.3-nat phase change across
 * checkpoints but not to resolve a 1-layer model's ±0.1 drift. Every result reports its own σ_d and
 * `windowsForTarget`, the N this model needs for ±0.05, so the estimate is checked on every run.
 * The measure uses min(nWindows, windows given).
 */
import type { LanguageModel } from "../model/model.ts";
import { lossesAt, type LossesAtOptions } from "./position-loss.ts";
import { bootstrapMean, mean, samplesForHalfWidth, sd, type BootstrapOptions, type Interval } from "./stats.ts";

/** 0-based loss indices of the 50th and 500th tokens. */
export const ICL_EARLY_INDEX = 49;
export const ICL_LATE_INDEX = 499;
/** Default windows: ±0.05 nats for σ_d ≈ 3.5 nats (see the module comment). */
export const DEFAULT_ICL_WINDOWS = 20_000;
/** The half-width the default number of windows is chosen for (nats). */
export const TARGET_HALF_WIDTH = 0.05;

export interface IclIndices {
  /** Index of the early loss (default 49, the 50th token). */
  early?: number;
  /** Index of the late loss (default 499, the 500th token). */
  late?: number;
}

export interface IclOptions extends LossesAtOptions, BootstrapOptions, IclIndices {}

/** The ICL score with its bootstrap interval (lo, hi, halfWidth, se, confidence, resamples: stats.ts's Interval of the score). */
export interface IclResult extends Omit<Interval, "estimate"> {
  /** mean loss@500 − mean loss@50 (nats). */
  score: number;
  /** Mean loss at index `early` (the 50th token by default). */
  loss50: number;
  /** Mean loss at index `late` (the 500th token by default). */
  loss500: number;
  nWindows: number;
  early: number;
  late: number;
  /** Standard deviation of one window's difference loss[late] − loss[early]. */
  sdDiff: number;
  /** Windows this model needs for a half-width of TARGET_HALF_WIDTH at this σ_d. */
  windowsForTarget: number;
}

/** ICL score and interval from each window's early and late losses (the pure statistics). */
export function iclScoreFromLosses(early: ArrayLike<number>, late: ArrayLike<number>, opts: BootstrapOptions & IclIndices = {}): IclResult {
  if (early.length !== late.length) {
    throw new Error(`iclScoreFromLosses: 'early' has ${early.length} losses and 'late' ${late.length}; one per window each`);
  }
  const n = early.length;
  const diff = new Float64Array(n);
  for (let w = 0; w < n; w++) diff[w] = late[w] - early[w];
  const ci = bootstrapMean(diff, opts);
  const sdDiff = sd(diff);
  return {
    score: ci.estimate,
    loss50: mean(early),
    loss500: mean(late),
    lo: ci.lo,
    hi: ci.hi,
    halfWidth: ci.halfWidth,
    se: ci.se,
    confidence: ci.confidence,
    resamples: ci.resamples,
    nWindows: n,
    early: opts.early ?? ICL_EARLY_INDEX,
    late: opts.late ?? ICL_LATE_INDEX,
    sdDiff,
    windowsForTarget: sdDiff > 0 ? samplesForHalfWidth(sdDiff, TARGET_HALF_WIDTH, { confidence: ci.confidence }) : 1,
  };
}

/** The ICL score of a mean per-position loss curve (no interval): curve[late] − curve[early]. */
export function iclScoreOfCurve(meanLoss: ArrayLike<number>, opts: IclIndices = {}): { score: number; loss50: number; loss500: number } {
  const early = opts.early ?? ICL_EARLY_INDEX,
    late = opts.late ?? ICL_LATE_INDEX;
  if (late >= meanLoss.length || early < 0) {
    throw new Error(`iclScoreOfCurve: indices ${early} and ${late} need a curve of at least ${late + 1} losses, found ${meanLoss.length}`);
  }
  return { score: meanLoss[late] - meanLoss[early], loss50: meanLoss[early], loss500: meanLoss[late] };
}

/**
 * The ICL score of a model on fixed windows [N, L]: one forward pass per batch over tokens
 * 0..late, logits at the two indices only, bootstrap interval over windows.
 */
export function iclScore(model: LanguageModel, windows: Int32Array, opts: IclOptions = {}): IclResult {
  const early = opts.early ?? ICL_EARLY_INDEX,
    late = opts.late ?? ICL_LATE_INDEX;
  if (!(Number.isInteger(early) && Number.isInteger(late) && early < late)) {
    throw new Error(`iclScore: 'early' (${early}) must be an integer index before 'late' (${late})`);
  }
  if (late >= model.config.nCtx) {
    throw new Error(
      `iclScore: loss indices ${early} and ${late} (tokens ${early + 1} and ${late + 1}) need nCtx ≥ ${late + 1}, ` +
        `but the model's nCtx is ${model.config.nCtx}; pass { early, late } to score a shorter context`,
    );
  }
  const length = opts.windowLength ?? model.config.nCtx + 1;
  const available = Math.floor(windows.length / length);
  const nWindows = opts.nWindows ?? Math.min(DEFAULT_ICL_WINDOWS, available);
  const m = lossesAt(model, windows, { ...opts, nWindows, indices: [early, late] });
  const e = new Float64Array(m.nWindows),
    l = new Float64Array(m.nWindows);
  for (let w = 0; w < m.nWindows; w++) {
    e[w] = m.values[2 * w];
    l[w] = m.values[2 * w + 1];
  }
  return iclScoreFromLosses(e, l, { ...opts, early, late });
}
