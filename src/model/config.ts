/**
 * Model configurations: a tagged union on `kind`, with TransformerLens' dimension names
 * (nLayers, dModel, nHeads, dHead, dMlp, nCtx, dVocab). Parsed with zod in strict mode, so an
 * unknown key or a wrong type is an error that names the key.
 */
import { z } from "zod";

export const POSITIONS = ["shortformer", "learned", "rotary", "none", "shortformer-pre-ln"] as const;
export type Positions = (typeof POSITIONS)[number];

const common = {
  nLayers: z.number().int().min(1).max(64),
  dModel: z.number().int().min(1),
  nCtx: z.number().int().min(1),
  dVocab: z.number().int().min(2),
  /** Standard deviation scale of the initialisation (see init.ts). */
  initScale: z.number().positive().default(1),
};

const attention = {
  nHeads: z.number().int().min(1),
  dHead: z.number().int().min(1),
  /**
   * How positions enter: `shortformer` adds learned position embeddings to the query and key
   * inputs only, after the block's layer norm (TransformerLens' attn-only models:
   * `q_in = k_in = ln1(resid) + W_pos`, `v_in = ln1(resid)`), `learned` adds them to the
   * residual stream, `rotary` rotates queries and keys, `none` uses no positional information.
   * `shortformer-pre-ln` is icl-lab 0.1's convention (`q_in = k_in = ln1(resid + W_pos)`), kept
   * so checkpoints written before checkpoint format 2 still load and the lab's calibrated setting
   * keeps its phase change; TransformerLens has no such mode and reproduces it with two hooks
   * (src/model/export.ts, `extensions.pre_ln_positions`).
   */
  positions: z.enum(POSITIONS).default("shortformer"),
  /** Per head a trainable α: k_j ← σ(α)·k_j + (1 − σ(α))·k_{j−1}. */
  smearedKeys: z.boolean().default(false),
  /** Layer norm before each block and before the unembedding (TransformerLens default). */
  layerNorm: z.boolean().default(true),
};

export const AttnOnlyConfig = z.strictObject({ kind: z.literal("attn-only"), ...common, ...attention });
export const TransformerConfig = z.strictObject({
  kind: z.literal("transformer"),
  ...common,
  ...attention,
  dMlp: z.number().int().min(1),
});
export const MlpOnlyConfig = z.strictObject({
  kind: z.literal("mlp-only"),
  ...common,
  dMlp: z.number().int().min(1),
  layerNorm: z.boolean().default(true),
});
export const LstmConfig = z.strictObject({ kind: z.literal("lstm"), ...common, dHidden: z.number().int().min(1) });
export const RnnConfig = z.strictObject({ kind: z.literal("rnn"), ...common, dHidden: z.number().int().min(1) });

export const ModelConfig = z.discriminatedUnion("kind", [AttnOnlyConfig, TransformerConfig, MlpOnlyConfig, LstmConfig, RnnConfig]);
export type ModelConfig = z.infer<typeof ModelConfig>;
export type ModelKind = ModelConfig["kind"];
export type AttentionConfig = z.infer<typeof AttnOnlyConfig> | z.infer<typeof TransformerConfig>;

/** Formats zod issues as one line per problem: `model.nHeads: expected number, received string`. */
export function formatIssues(error: z.ZodError, prefix = ""): string {
  return error.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** Parses and validates a model config, throwing one clear error for every problem found. */
export function parseModelConfig(input: unknown): ModelConfig {
  const r = ModelConfig.safeParse(input);
  if (!r.success) throw new Error(`invalid model config: ${formatIssues(r.error, "model")}`);
  const c = r.data;
  if ((c.kind === "attn-only" || c.kind === "transformer") && c.positions === "rotary" && c.dHead % 2 !== 0) {
    throw new Error(`invalid model config: model.dHead must be even for rotary positions, found ${c.dHead}`);
  }
  return c;
}

export function isAttentionModel(c: ModelConfig): c is AttentionConfig {
  return c.kind === "attn-only" || c.kind === "transformer";
}
