/**
 * The trainer's contracts with the data pipeline and the measurements: what a data factory gives
 * (a resumable batch sampler, held-out windows, token counts), what a measurement is given and
 * what it returns (src/train/train.ts trains with them; src/train/measures.ts resolves and stores).
 */
import type { JsonValue } from "../model/checkpoint.ts";
import type { CheckpointContext, MeasureFn as MeasureFnOf } from "../measure/index.ts";
import type { TrainConfig } from "./config.ts";

/** A stream of training windows with a state that can be saved and restored exactly. */
export interface BatchSampler {
  /** [batch, nCtx + 1] token ids: inputs are [:, :nCtx], targets [:, 1:]. */
  nextBatch(batch: number): Int32Array;
  state(): JsonValue;
  restore(state: JsonValue): void;
}

/** What the trainer needs from the data pipeline. */
export interface TrainData {
  vocabSize: number;
  sampler: BatchSampler;
  /** Held-out evaluation windows [n, length] (length = nCtx + 1). */
  eval: { windows: Int32Array; n: number; length: number };
  /** Token frequencies over the training data (some head scores exclude frequent tokens). */
  tokenCounts?: Float64Array;
  /** The tokenizer file to copy into the run folder (export), when there is one. */
  tokenizerPath?: string;
  /** End-of-document token id (used as BOS by head scores and tasks). */
  eodId?: number;
  /** Evaluation windows of one source of the mixture (or "natural"), for `icl@SOURCE` measures. */
  evalFor?(sourceId: string): { windows: Int32Array; n: number; length: number };
  description?: string;
}

export type DataFactory = (config: TrainConfig, lab: string) => Promise<TrainData>;

/**
 * Context given to measurements at a checkpoint: src/measure's one context type, with the data,
 * tokens, seed, options and inputs (seed, BOS, token pools, stored with the run) the trainer gives.
 */
export type MeasureContext = CheckpointContext<TrainData>;

/** A measurement's result: scalars become metrics, arrays become vectors (`name.key`). */
export type MeasureValue = number | null | number[] | { data: ArrayLike<number>; shape: number[] } | JsonValue;
/** src/measure's one measurement type, taking the trainer's context; its result's fields are stored. */
export type MeasureFn = MeasureFnOf<MeasureContext, object>;
