/**
 * The names results are stored under in the runs store: the one vocabulary the trainer writes and
 * every reader (report, dashboard, experiments, CLI) reads, so a name is spelled in one place.
 *
 * The trainer stores a measure's key `k` as `<measure>.k` (src/train/train.ts `storeResults`):
 * numbers as metrics, numeric arrays as vectors, the rest as JSON records. `icl@SOURCE` is the
 * `icl` measure on the held-out windows of one source (`icl@natural`, `icl@common`: see
 * src/experiments/data.ts), stored as `icl@SOURCE.score` etc.
 */

/** Scalar metrics (one value per checkpoint or logging step). */
export const METRIC = {
  trainLoss: "train_loss",
  lr: "lr",
  gradNorm: "grad_norm",
  step: "step",
  tokensPerSecond: "tokens_per_s",
  /** Seconds the checkpoint's measurements took (their share of a run's wall time: the sum over checkpoints). */
  measureSeconds: "measure_s",
  iclScore: "icl.score",
  iclLo: "icl.lo",
  iclHi: "icl.hi",
  iclSe: "icl.se",
  iclLoss50: "icl.loss50",
  iclLoss500: "icl.loss500",
  iclConfidence: "icl.confidence",
  iclNWindows: "icl.nWindows",
  headsBos: "heads.bos",
  headsNSequences: "heads.nSequences",
} as const;

/** Numeric vectors. */
export const VECTOR = {
  positionLoss: "positionLoss.meanLoss",
  positionLossSe: "positionLoss.seLoss",
  tokenLoss: "tokenLoss.losses",
  tokenLossIndices: "tokenLoss.indices",
} as const;

/** JSON records. */
export const RECORD = {
  heads: "heads.heads",
  ablationHeads: "ablation.heads",
  ablationClean: "ablation.clean",
  tasks: "tasks.tasks",
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
export type VectorName = (typeof VECTOR)[keyof typeof VECTOR];
export type RecordName = (typeof RECORD)[keyof typeof RECORD];

/** The name a measure's key is stored under: `stored("icl", "score")` is "icl.score". */
export function stored(measure: string, key: string): string {
  return `${measure}.${key}`;
}

/** The `icl` measure on one source's windows: `iclAt("natural")` is "icl@natural". */
export function iclAt(source: string): `icl@${string}` {
  return `icl@${source}`;
}

/** The source of an `icl@SOURCE` measure name, or null when the name is not one. */
export function iclAtSource(name: string): string | null {
  return /^icl@([a-z][a-z0-9_]*)$/.exec(name)?.[1] ?? null;
}

/** The source an `icl@SOURCE` name reads, for labels: `iclAtLabel("icl@brown")` is "brown". */
export function iclAtLabel(name: string): string {
  return name.slice("icl@".length);
}

/** The ICL score on the natural text of the mixture alone: `iclAt("natural")`. */
export const ICL_NATURAL = "icl@natural";
/** The ICL score on the common evaluation set shared by every run of an experiment: `iclAt("common")`. */
export const ICL_COMMON = "icl@common";

/**
 * The measure name of a stored ICL score other than `icl.score` (`icl@brown.score` → "icl@brown"),
 * or null.
 */
export function extraIclMeasure(metric: string): string | null {
  const m = /^(icl.+)\.score$/.exec(metric);
  return m && m[1] !== "icl" ? m[1] : null;
}

/**
 * The completion record of an experiment's final measurement (src/experiments/runner.ts: its
 * seconds and options, at the checkpoint it measured): `finalRecord("ablation")` is "final.ablation".
 */
export function finalRecord(measure: string): `final.${string}` {
  return `final.${measure}`;
}
