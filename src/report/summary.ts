/**
 * The one summary of stored runs that the report (its summary table, comparison table and seed
 * bands) and the experiments' printed tables (src/experiments/summary.ts) share: a run's final ICL
 * score, loss@50/500, perplexity, best induction head and few-shot accuracies, the grouping of
 * runs that differ only in seed, and mean ± standard deviation over a group.
 *
 * The n < 2 rule: over fewer than two values the standard deviation is undefined and `meanSd`
 * gives `sd: null` (printed as no "± …"), never 0; `meanSdByKey` gives null for both when a key has
 * no finite value. (src/measure/stats.ts `sd` is the measures' own: 0 below two values, where a
 * bootstrap's standard error of one resample is zero, not absent.)
 */
import { mean, sd } from "../measure/stats.ts";
import type { IclCheckpoint, RunData } from "./data.ts";

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n − 1); null for fewer than two values. */
  sd: number | null;
}

/** Mean and sample standard deviation of values (see the module comment for n < 2). */
export function meanSd(xs: readonly number[]): MeanSd {
  return { mean: mean(xs), sd: xs.length > 1 ? sd(xs) : null };
}

/** The finite values the rows hold under `key` (null, undefined and non-finite left out), in row order. */
export function finiteValues(rows: ReadonlyArray<Record<string, number | null | undefined>>, key: string): number[] {
  return rows.map((r) => r[key]).filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x));
}

/**
 * Per key, the mean and standard deviation over the finite values the rows hold (null, undefined
 * and non-finite values left out; a key no row has finite is null in both).
 */
export function meanSdByKey(
  rows: ReadonlyArray<Record<string, number | null | undefined>>,
  keys: Iterable<string>,
): {
  values: Record<string, number | null>;
  sd: Record<string, number | null>;
} {
  const values: Record<string, number | null> = {},
    sds: Record<string, number | null> = {};
  for (const k of keys) {
    const xs = finiteValues(rows, k);
    const s = xs.length > 0 ? meanSd(xs) : null;
    values[k] = s?.mean ?? null;
    sds[k] = s?.sd ?? null;
  }
  return { values, sd: sds };
}

/** Runs by group label (runs that differ only in seed share one), in first-seen order. */
export function groupRuns(runs: readonly RunData[]): Map<string, RunData[]> {
  const m = new Map<string, RunData[]>();
  for (const r of runs) m.set(r.group, [...(m.get(r.group) ?? []), r]);
  return m;
}

/** The last checkpoint's ICL score (with interval, loss@50 and loss@500), or null. */
export function finalIcl(run: RunData): IclCheckpoint | null {
  return run.icl[run.icl.length - 1] ?? null;
}

/** Best head by induction score at the last head measurement (the first on ties). */
export function bestHead(run: RunData): { layer: number; head: number; induction: number } | null {
  const last = run.heads[run.heads.length - 1];
  if (!last || last.heads.length === 0) return null;
  const h = last.heads.reduce((p, q) => (q.induction > p.induction ? q : p));
  return { layer: h.layer, head: h.head, induction: h.induction };
}

/** The induction score a head must reach to count as an induction head in "first induction head" (the issue's and the corpus tables' threshold). */
export const FIRST_HEAD_THRESHOLD = 0.3;

/** Training tokens at the first checkpoint where some head's induction score is ≥ `threshold`, or null (none yet). */
export function firstInductionHead(run: Pick<RunData, "heads">, threshold = FIRST_HEAD_THRESHOLD): number | null {
  for (const c of run.heads) if (c.heads.some((h) => h.induction >= threshold)) return c.tokens;
  return null;
}

/** exp of the mean loss over positions at the last loss-by-position measurement, or null. */
export function finalPerplexity(run: RunData): number | null {
  const pos = run.positionLoss[run.positionLoss.length - 1];
  const meanLoss = pos ? mean(pos.meanLoss) : null;
  return meanLoss !== null && Number.isFinite(meanLoss) ? Math.exp(meanLoss) : null;
}

/** Each task's accuracy at the most shots measured (that fit the context), at the last checkpoint. */
export function finalTaskAccuracies(run: RunData): Array<{ task: string; shots: number; accuracy: number }> {
  const out: Array<{ task: string; shots: number; accuracy: number }> = [];
  for (const t of run.tasks?.tasks ?? []) {
    for (let i = t.shots.length - 1; i >= 0; i--) {
      const acc = t.accuracy[i];
      if (acc !== null && Number.isFinite(acc)) {
        out.push({ task: t.name, shots: t.shots[i], accuracy: acc });
        break;
      }
    }
  }
  return out;
}

/** A run's final numbers: what the summary and comparison tables print. */
export interface FinalMetrics {
  icl: number | null;
  iclLo: number | null;
  iclHi: number | null;
  loss50: number | null;
  loss500: number | null;
  perplexity: number | null;
  /** The best head's induction score. */
  induction: number | null;
  /** Tokens at the first checkpoint with an induction head (≥ FIRST_HEAD_THRESHOLD), null when none formed. */
  firstHead: number | null;
  /** Last scores of the other ICL measures (`icl@natural`, …), by measure name. */
  extraIcl: Record<string, number>;
  tasks: Array<{ task: string; shots: number; accuracy: number }>;
}

export function finalMetrics(run: RunData): FinalMetrics {
  const last = finalIcl(run);
  return {
    icl: last?.score ?? null,
    iclLo: last?.lo ?? null,
    iclHi: last?.hi ?? null,
    loss50: last?.loss50 ?? null,
    loss500: last?.loss500 ?? null,
    perplexity: finalPerplexity(run),
    induction: bestHead(run)?.induction ?? null,
    firstHead: firstInductionHead(run),
    extraIcl: run.extraIcl,
    tasks: finalTaskAccuracies(run),
  };
}

export interface RunSummary {
  id: string;
  label: string;
  model: string;
  tokens: number;
  status: string;
  /** The last checkpoint's ICL score and interval. */
  score: number | null;
  lo: number | null;
  hi: number | null;
  loss50: number | null;
  loss500: number | null;
  /** Detected phase-change window (tokens), or null with the reason. */
  window: { start: number; end: number; size: number } | null;
  windowReason: string | null;
  /** Best head by induction score at the last head measurement. */
  bestHead: { layer: number; head: number; induction: number } | null;
}

/** One run's row of the report's summary table. */
export function summarize(run: RunData): RunSummary {
  const last = finalIcl(run);
  return {
    id: run.id,
    label: run.label,
    model: run.model,
    tokens: run.info.tokens,
    status: run.info.stale ? "stale" : run.info.status,
    score: last?.score ?? null,
    lo: last?.lo ?? null,
    hi: last?.hi ?? null,
    loss50: last?.loss50 ?? null,
    loss500: last?.loss500 ?? null,
    window: run.phase.status === "found" ? { start: run.phase.start, end: run.phase.end, size: run.phase.size } : null,
    windowReason: run.phase.status === "none" ? run.phase.reason : null,
    bestHead: bestHead(run),
  };
}
