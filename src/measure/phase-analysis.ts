/**
 * The phase-change analysis of a run's stored series, in one place for every reader (the report's
 * data, src/report/data.ts, and `icl-lab measure phase`): the ICL score's drop (compared with its
 * own noise: the median bootstrap standard error of the checkpoints' scores, when stored), the best
 * head's induction-score rise and the training loss's bump (phase-change.ts).
 *
 * The series go in as stored; points the detectors cannot use are left out here, the same way for
 * every caller: tokens ≤ 0 (log axes), non-finite values, head lists that are not lists of heads.
 */
import { detectLossBump, type LossBump } from "./loss-bump.ts";
import { iclPhaseChange, inductionPhaseChange, type HeadCheckpoint, type PhaseChange, type TrajectoryPoint } from "./phase-change.ts";
import { median } from "./stats.ts";

export interface PhaseSeries {
  /** ICL score at each checkpoint, with its bootstrap standard error where stored. */
  icl: ReadonlyArray<{ tokens: number; value: number; se?: number | null }>;
  /** Head scores at each checkpoint (the `heads.heads` records). */
  heads: ReadonlyArray<{ tokens: number; heads: unknown }>;
  /** Training loss. */
  loss: readonly TrajectoryPoint[];
}

export interface PhaseAnalysis {
  /** Phase change of the ICL score (a drop). */
  icl: PhaseChange;
  /** The noise `icl` was judged against: the median bootstrap se, or null when none is stored (then estimated from the scores). */
  iclNoise: number | null;
  /** Rise of the best head's induction score. */
  induction: PhaseChange & { layer: number | null; head: number | null };
  /** Bump of the training loss. */
  lossBump: LossBump;
}

/** A list of heads (objects with a numeric layer and head). */
export function isHeadList(v: unknown): v is HeadCheckpoint["heads"] {
  return (
    Array.isArray(v) &&
    v.every(
      (h) => h !== null && typeof h === "object" && typeof (h as { layer: unknown }).layer === "number" && typeof (h as { head: unknown }).head === "number",
    )
  );
}

const usable = (p: { tokens: number; value: number }) => p.tokens > 0 && Number.isFinite(p.value);

export function phaseAnalysis(series: PhaseSeries): PhaseAnalysis {
  const icl = series.icl.filter(usable);
  const ses = icl.map((p) => p.se).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const iclNoise = ses.length > 0 ? median(Float64Array.from(ses)) : null;
  const heads = series.heads.filter((c) => c.tokens > 0 && isHeadList(c.heads)).map((c) => ({ tokens: c.tokens, heads: c.heads as HeadCheckpoint["heads"] }));
  return {
    icl: iclPhaseChange(
      icl.map((p) => ({ tokens: p.tokens, value: p.value })),
      iclNoise !== null ? { noise: iclNoise } : {},
    ),
    iclNoise,
    induction: inductionPhaseChange(heads),
    lossBump: detectLossBump(series.loss.filter(usable).map((p) => ({ tokens: p.tokens, value: p.value }))),
  };
}
