/**
 * What an experiment is: a name, what it trains and why, the outcome the anchor paper leads us to
 * expect, and a function from options to the training configs it runs. Definitions are data plus
 * one `configs()` function; runner.ts trains them (resuming what the lab holds), measures, reports
 * and summarises. The registry is index.ts.
 */
import type { TrainConfigInput } from "../train/config.ts";
import type { Availability } from "../data/sources/types.ts";
import type { ICL_COMMON, ICL_NATURAL } from "../measure/names.ts";

/** The columns an experiment's summary table can show (summary.ts computes and formats them). */
export type SummaryColumnKey =
  | "params"
  | "tokens"
  | "unique"
  | "epochs"
  | "icl"
  | typeof ICL_NATURAL
  | typeof ICL_COMMON
  | "loss50"
  | "loss500"
  | "perplexity"
  | "induction"
  | "firstHead"
  | "window"
  | "tasks";

/** A corpus given on the command line: a source id already known, or a name and a path to add. */
export interface CorpusArg {
  name: string;
  path?: string;
}

/**
 * The size of everything an experiment trains: `default` is the calibrated setting the expected
 * outcomes are about; `smoke` is a tiny configuration (width 16 models, ~20k tokens, a few
 * evaluation windows) that checks the pipeline end to end in seconds; its numbers mean nothing.
 */
export type ExperimentScale = "default" | "smoke";

export interface ExperimentOptions {
  /** Seeds per configuration, 0..seeds−1 (default: the experiment's). */
  seeds?: number;
  /** Training tokens per run (default: the experiment's, or 20,480 at the smoke scale). */
  tokens?: number;
  /**
   * A wall-time limit in minutes: the tokens per run become the largest budget that fits on this
   * machine, from throughput measured here (src/experiments/budget.ts); excludes `tokens`.
   */
  minutes?: number;
  /** The user's corpora (what each experiment does with them is in its description). */
  corpus?: CorpusArg[];
  /** Source ids to compare instead of the experiment's default domains (corpus experiments only). */
  domains?: string[];
  scale?: ExperimentScale;
}

/** The options with every default filled in. */
export interface ResolvedOptions {
  seeds: number;
  tokens: number;
  /** Source ids of the user's corpora (already registered in the lab). */
  corpus: string[];
  /** The domains given (null: the experiment's defaults). */
  domains: string[] | null;
  scale: ExperimentScale;
}

/** What `configs()` may ask about the lab's data (each answer may build or fetch a corpus). */
export interface PlanContext {
  lab: string;
  log: (line: string) => void;
  /** Whether a source can be built here (never downloads). */
  available(sourceId: string): Promise<Availability>;
  /** Training tokens of a source (after the held-out split) under a tokenizer; builds its token store. */
  trainingTokens(sourceId: string, tokenizer: { kind: "byte" } | { kind: "bpe"; vocab: number; sources?: string[] }): Promise<number>;
}

/** One measurement run once on the last checkpoint of each finished run (not at every checkpoint). */
export interface FinalMeasure {
  /** A measure of src/measure's registry. */
  measure: "ablation";
  /** Options for it (merged over the run's measureOptions for the same measure). */
  options?: Record<string, unknown>;
  /** Whether it applies to a run (e.g. ablation: models with attention heads). */
  appliesTo?: (config: TrainConfigInput) => boolean;
}

export interface ExperimentPlan {
  configs: TrainConfigInput[];
  /** What the plan left out or chose, and why (printed, and written into the summary). */
  notes: string[];
}

export interface ExperimentDefinition {
  name: string;
  /** One line. */
  title: string;
  /** What it trains, at what size, and the expected wall time on 2 cores. */
  description: string;
  /** What --corpus does for this experiment. */
  corpusHelp: string;
  /** What --domains does, for the experiments that take it (the others reject it). */
  domainsHelp?: string;
  /** The anchor paper's finding and what this experiment is expected to show, at the default size. */
  expected: string;
  defaults: { seeds: number; tokens: number };
  /**
   * Where the calibrated setting formed its first induction head (≥ 0.3), for the note `--minutes`
   * and `--tokens` give when the budget is below it (the runs would end before any head forms).
   */
  headsFrom?: { tokens: number; what: string };
  /** The training configs (each with `experiment` = name and a distinct `name`). */
  configs(opts: ResolvedOptions, ctx: PlanContext): Promise<ExperimentPlan>;
  finalMeasures?: FinalMeasure[];
  /** Columns of the summary printed at the end (see summary.ts). */
  summary: SummaryColumnKey[];
}
