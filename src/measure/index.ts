/**
 * The measurements of icl-lab, and `MEASURES`: the registry a trainer calls by name at each
 * checkpoint (`measures: ["icl", "heads"]`).
 *
 * Every measure is a pure function (model, fixed inputs, options) → plain JSON-serialisable result
 * (numbers, strings, arrays, objects; no typed arrays), forward-only and deterministic for a seed.
 * The registry adapts each one to a common signature `(model, ctx)`, where ctx holds what stays
 * fixed for a whole run: the evaluation windows and the run's measurement inputs (seed, BOS, token
 * pools, per-measure options: inputs.ts, stored with the run, run-inputs.ts).
 */
import type { LanguageModel } from "../model/model.ts";
import { headAblation, type AblationOptions } from "./ablation.ts";
import { headScores, type HeadScoreOptions, type VocabInfo } from "./heads.ts";
import { iclScore, type IclOptions } from "./icl-score.ts";
import { tokenLossVector, type TokenLossOptions } from "./pca.ts";
import { positionLoss, type PositionLossOptions } from "./position-loss.ts";
import { taskAccuracy, type TaskOptions } from "./tasks.ts";
import type { MeasureInputs } from "./inputs.ts";

export * from "./stats.ts";
export * from "./position-loss.ts";
export * from "./icl-score.ts";
export * from "./heads.ts";
export * from "./ablation.ts";
export * from "./phase-change.ts";
export * from "./loss-bump.ts";
export * from "./pca.ts";
export * from "./tasks.ts";
export * from "./windows-file.ts";
export * from "./inputs.ts";
export * from "./phase-analysis.ts";

/**
 * What a run holds fixed for every checkpoint's measurements: the one context type of the
 * registry and the trainer (which gives `CheckpointContext`: `{ data, tokens, seed, options,
 * inputs }`, src/train/train.ts). The windows come from `windows`, else `data.eval`. With `inputs` (the run's stored measurement
 * inputs), BOS and the token pools come from them, and the seed and options unless `seed` /
 * `options` are given; without, the token frequencies come from `data.tokenCounts` and BOS from
 * `data.eodId` (the end-of-document token) when `vocab` is absent.
 */
/** The trainer's data as the measures read it (structurally: src/train/train.ts `TrainData`). */
export interface MeasureData {
  eval: { windows: Int32Array; length: number };
  tokenCounts?: ArrayLike<number>;
  eodId?: number;
}

export interface MeasureContext {
  /** The run's measurement inputs (seed, BOS, token pools, options): see inputs.ts. */
  inputs?: MeasureInputs;
  /** Evaluation windows [N, windowLength] (row-major token ids), the same at every checkpoint. */
  windows?: Int32Array;
  /** Tokens per window (default the model's nCtx + 1). */
  windowLength?: number;
  /**
   * Seed of every random choice of the measures (bootstrap resamples, head-score sequences, task
   * prompts, the per-token-loss PCA's fixed indices); default 0. Keep it fixed for a run so every
   * checkpoint sees the same sequences, prompts and indices.
   */
  seed?: number;
  /** BOS / end-of-document token and token frequencies (heads, tasks). */
  vocab?: VocabInfo;
  /** Per-measure option overrides. */
  options?: {
    icl?: IclOptions;
    positionLoss?: PositionLossOptions;
    heads?: HeadScoreOptions;
    ablation?: AblationOptions;
    tasks?: TaskOptions;
    tokenLoss?: TokenLossOptions;
  };
  /** The trainer's data (structurally): held-out windows, token counts, end-of-document id. */
  data?: MeasureData;
  /** Training tokens at the checkpoint (given by the trainer; not used by the measures). */
  tokens?: number;
}

/** What the trainer gives every measurement at a checkpoint: the fields it always knows. */
export type CheckpointContext<D extends MeasureData = MeasureData> = MeasureContext & {
  data: D;
  tokens: number;
  seed: number;
  inputs: MeasureInputs;
};

/**
 * A measurement: (model, context) → a JSON-serialisable result (sync or async). `C` narrows the
 * context (the trainer's measures take `CheckpointContext`), `R` the result (the trainer stores an
 * object's fields as `<measure>.<key>`, src/measure/names.ts).
 */
export type MeasureFn<C extends MeasureContext = MeasureContext, R = unknown> = (model: LanguageModel, ctx: C) => R | Promise<R>;

interface Resolved {
  windows: () => Int32Array;
  windowLength: number | undefined;
  seed: number;
  vocab: VocabInfo;
  pools: MeasureInputs["pools"] | undefined;
  options: NonNullable<MeasureContext["options"]>;
}

function resolve(ctx: MeasureContext): Resolved {
  const windows = ctx.windows ?? ctx.data?.eval.windows;
  const inputs = ctx.inputs;
  return {
    // Only the loss measures need windows; the error names both places they may come from.
    windows: () => {
      if (windows === undefined) throw new Error("measure: the context has no evaluation windows (expected ctx.windows or ctx.data.eval.windows)");
      return windows;
    },
    windowLength: ctx.windowLength ?? (ctx.windows === undefined ? ctx.data?.eval.length : undefined),
    seed: ctx.seed ?? inputs?.seed ?? 0,
    // The pools exclude the inputs' BOS: the two come together or not at all.
    vocab: inputs !== undefined ? { bos: inputs.bos } : (ctx.vocab ?? { bos: ctx.data?.eodId ?? null, frequencies: ctx.data?.tokenCounts }),
    pools: inputs?.pools,
    options: ctx.options ?? (inputs?.options as MeasureContext["options"]) ?? {},
  };
}

/**
 * The measures by name. Each returns a JSON-serialisable object:
 *   - icl: ICL score, loss@50, loss@500, bootstrap interval (icl-score.ts; up to 20,000 windows);
 *   - positionLoss: mean loss at every index 0..nCtx−1 with standard errors;
 *   - heads: induction / prefix-matching / previous-token / copying scores of every head ([] for
 *     models without attention);
 *   - ablation: ICL score with each head zero- and pattern-preserving-ablated (500 windows);
 *   - tasks: few-shot accuracy against shots;
 *   - tokenLoss: the loss at one fixed random index per window, the row the per-token-loss PCA
 *     collects at each checkpoint (lossPcaTrajectories combines the rows afterwards).
 */
export const MEASURES = {
  icl: (model, ctx) => {
    const r = resolve(ctx);
    return iclScore(model, r.windows(), { windowLength: r.windowLength, seed: r.seed, ...r.options.icl });
  },
  positionLoss: (model, ctx) => {
    const r = resolve(ctx);
    return positionLoss(model, r.windows(), { windowLength: r.windowLength, ...r.options.positionLoss });
  },
  heads: (model, ctx) => {
    const r = resolve(ctx);
    return headScores(model, { seed: r.seed, vocab: r.vocab, pool: r.pools?.heads, ...r.options.heads });
  },
  ablation: (model, ctx) => {
    const r = resolve(ctx);
    return headAblation(model, r.windows(), { windowLength: r.windowLength, seed: r.seed, ...r.options.ablation });
  },
  tasks: (model, ctx) => {
    const r = resolve(ctx);
    return taskAccuracy(model, { seed: r.seed, vocab: r.vocab, pool: r.pools?.tasks, ...r.options.tasks });
  },
  tokenLoss: (model, ctx) => {
    const r = resolve(ctx);
    return tokenLossVector(model, r.windows(), { windowLength: r.windowLength, seed: r.seed, ...r.options.tokenLoss });
  },
} satisfies Record<string, MeasureFn<MeasureContext, object>>;

export type MeasureName = keyof typeof MEASURES;
export const MEASURE_NAMES = Object.keys(MEASURES) as MeasureName[];

/**
 * Runs the named measures in order and returns their results by name. Every name is checked
 * before anything runs: an unknown one is an error listing the known ones.
 */
export function runMeasures(model: LanguageModel, names: readonly string[], ctx: MeasureContext): Record<string, unknown> {
  for (const name of names) {
    if (!Object.hasOwn(MEASURES, name)) throw new Error(`unknown measure '${name}'; expected one of ${MEASURE_NAMES.join(", ")}`);
  }
  const out: Record<string, unknown> = {};
  const measures: Record<string, MeasureFn> = MEASURES;
  for (const name of names) out[name] = measures[name](model, ctx);
  return out;
}
