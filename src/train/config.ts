/**
 * The training configuration: a model, the data it sees, the optimiser and schedule, the token
 * budget, when to checkpoint and what to measure there. Strict (an unknown key is an error that
 * names it); the resolved config is stored with every run, and its hash is the run's identity.
 */
import { z } from "zod";
import { ModelConfig, formatIssues } from "../model/config.ts";
import { createHash } from "node:crypto";
import { canonicalJson } from "../util/json.ts";
import { PRECISIONS, defaultPrecision, type Precision } from "../engine/precision.ts";
export { canonicalJson };

export const OptimConfig = z.strictObject({
  lr: z.number().positive().default(1e-3),
  /** Linear warm-up length, in tokens. */
  warmupTokens: z.number().int().min(0).default(0),
  schedule: z.enum(["cosine", "constant"]).default("constant"),
  /** The cosine schedule's final learning rate as a fraction of lr. */
  minLrRatio: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().min(0).default(0.01),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.99),
  eps: z.number().positive().default(1e-8),
  /** Global gradient-norm clipping threshold (0 = off). */
  clip: z.number().min(0).default(1),
});

export const DataConfig = z.strictObject({
  /** Mixture weights by source id (the embedded default when omitted). */
  sources: z.record(z.string(), z.number().positive()).optional(),
  tokenizer: z
    .union([
      z.strictObject({ kind: z.literal("byte") }),
      z.strictObject({ kind: z.literal("bpe"), vocab: z.number().int().min(260).default(4096), sources: z.array(z.string()).optional() }),
    ])
    .default({ kind: "byte" }),
  /** Unique training tokens (the data size); the stream repeats epochs to reach the budget. */
  uniqueTokens: z.number().int().positive().optional(),
  /** Evaluation windows (held-out) measured at every checkpoint. */
  evalWindows: z.number().int().positive().default(256),
  evalPolicy: z.enum(["document", "packed"]).default("packed"),
  /** Extra options passed to the data pipeline (e.g. synthetic ingredients); see src/data. */
  options: z.record(z.string(), z.unknown()).optional(),
});

export const CheckpointConfig = z.strictObject({
  /** Log-spaced measurement checkpoints per decade of training tokens. */
  perDecade: z.number().min(0).default(8),
  /** The first checkpoint (tokens); default: one step. */
  first: z.number().int().positive().optional(),
  /** Seconds between resume checkpoints (optimizer state included), besides the measured ones. */
  resumeEverySeconds: z.number().positive().default(60),
});

export const TrainConfig = z.strictObject({
  /** A name for the run (its id is name + a hash of the config). */
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "letters, digits, '.', '_' or '-' (1-64)")
    .optional(),
  experiment: z.string().optional(),
  seed: z.number().int().min(0).default(0),
  model: z.unknown(),
  data: DataConfig.default({ tokenizer: { kind: "byte" }, evalWindows: 256, evalPolicy: "packed" }),
  optim: OptimConfig.default({
    lr: 1e-3,
    warmupTokens: 0,
    schedule: "constant",
    minLrRatio: 0.1,
    weightDecay: 0.01,
    beta1: 0.9,
    beta2: 0.99,
    eps: 1e-8,
    clip: 1,
  }),
  /** Sequences per step; each has model.nCtx tokens. */
  batch: z.number().int().positive().default(8),
  /** Training tokens in all (rounded up to whole steps). */
  tokens: z.number().int().positive(),
  checkpoints: CheckpointConfig.default({ perDecade: 8, resumeEverySeconds: 60 }),
  /**
   * Precision of the matrix products in training and at checkpoints (src/engine/precision.ts):
   * when omitted, ICL_LAB_PRECISION or the CPU's default, resolved once and stored with the run.
   */
  precision: z.enum(PRECISIONS as [Precision, ...Precision[]]).optional(),
  /** Measurements run at every checkpoint, by name (see src/measure), and `icl@SOURCE`. */
  measures: z.array(z.string()).default(["icl"]),
  /** Option overrides per measurement, e.g. { "heads": { "nSequences": 4 } } (see src/measure/index.ts). */
  measureOptions: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

export type TrainConfig = Omit<z.infer<typeof TrainConfig>, "model"> & { model: ModelConfig };
export type TrainConfigInput = z.input<typeof TrainConfig>;

/**
 * Validates a training config. `dVocab` of the model may be omitted: the tokenizer sets it.
 * Model validation is deferred to `resolveModel` once the vocabulary size is known.
 */
export function parseTrainConfig(input: unknown): Omit<z.infer<typeof TrainConfig>, "model"> & { model: Record<string, unknown> } {
  const r = TrainConfig.safeParse(input);
  if (!r.success) throw new Error(`invalid training config: ${formatIssues(r.error)}`);
  if (r.data.model === null || typeof r.data.model !== "object" || Array.isArray(r.data.model)) {
    throw new Error("invalid training config: model: expected an object with a 'kind'");
  }
  return { ...r.data, precision: r.data.precision ?? defaultPrecision(), model: r.data.model as Record<string, unknown> };
}

/** The model config with dVocab from the tokenizer (an explicit, different dVocab is an error). */
export function resolveModel(model: Record<string, unknown>, vocabSize: number): ModelConfig {
  if (model.dVocab !== undefined && model.dVocab !== vocabSize) {
    throw new Error(`invalid training config: model.dVocab is ${String(model.dVocab)} but the tokenizer has ${vocabSize} tokens`);
  }
  const r = ModelConfig.safeParse({ ...model, dVocab: vocabSize });
  if (!r.success) throw new Error(`invalid training config: ${formatIssues(r.error, "model")}`);
  return r.data;
}

/** The run id: the name (or model kind) and 10 hex digits of the resolved config's hash. */
export function runIdFor(config: TrainConfig): string {
  // fp32 is hashed as if the key were absent, so that runs from before the key keep their ids.
  const { precision, ...rest } = config;
  const hashed = precision === "bf16" ? config : rest;
  const h = createHash("sha256").update(canonicalJson(hashed)).digest("hex").slice(0, 10);
  return `${config.name ?? config.model.kind}-${h}`;
}
