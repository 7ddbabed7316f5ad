/**
 * The model interface every architecture implements, the hook vocabulary, and `buildModel`,
 * which dispatches on the config's `kind` through a typed table.
 *
 * Inputs are token ids [B, T] (row-major Int32Array, T ≤ nCtx). Outputs are logits [B, T, dVocab],
 * or [n, dVocab] for the n flat positions (b·T + t) a caller asks for — the ICL score needs two
 * positions per window, and the unembedding of all 512 would be most of the forward pass.
 *
 * Hook points (`hooks.capture`) use TransformerLens' names and shapes, defined once in hooks.ts:
 * `blocks.{l}.attn.hook_pattern` [B, H, T, T], `blocks.{l}.attn.hook_z` [B, T, H, dHead], …
 */
import type { Tensor } from "../engine/tensor.ts";
import type { ModelConfig, ModelKind } from "./config.ts";
import { buildAttnOnly, buildMlpOnly, buildTransformer } from "./transformer.ts";
import { buildLstm, buildRnn } from "./recurrent.ts";

export interface HeadRef {
  layer: number;
  head: number;
}

export interface HookOptions {
  /** Hook names whose tensors are returned in `cache` (valid until the graph is released). */
  capture?: readonly string[];
  /** Heads whose output (z) is zeroed: zero-ablation. */
  ablate?: readonly HeadRef[];
  /**
   * Attention patterns to use instead of computed ones, by layer ([B, H, T, T] each): with
   * `ablate`, this is the pattern-preserving ablation (patterns frozen from a clean run).
   */
  patterns?: ReadonlyMap<number, Tensor>;
}

export interface ForwardOptions {
  /** Flat positions b·T + t whose logits are wanted; all positions when omitted. */
  positions?: Int32Array;
  hooks?: HookOptions;
}

export interface ForwardResult {
  /** [B, T, dVocab], or [positions.length, dVocab] when positions were given. */
  logits: Tensor;
  cache: Map<string, Tensor>;
}

export interface LanguageModel {
  readonly config: ModelConfig;
  /** Parameters by canonical name (see init.ts for names, shapes and initialisation). */
  readonly params: ReadonlyMap<string, Tensor>;
  forward(tokens: Int32Array, batch: number, opts?: ForwardOptions): ForwardResult;
}

export type Builder<C extends ModelConfig = ModelConfig> = (config: C, seed: number) => LanguageModel;

const builders: { [K in ModelKind]: Builder<Extract<ModelConfig, { kind: K }>> } = {
  "attn-only": buildAttnOnly,
  transformer: buildTransformer,
  "mlp-only": buildMlpOnly,
  lstm: buildLstm,
  rnn: buildRnn,
};

/** Builds a freshly initialised model (deterministic for a seed). */
export function buildModel(config: ModelConfig, seed = 0): LanguageModel {
  return (builders[config.kind] as Builder)(config, seed);
}

export function parameterCount(model: LanguageModel): number {
  let n = 0;
  for (const p of model.params.values()) n += p.size;
  return n;
}

/** Validates tokens for a forward pass and returns T. */
export function checkTokens(config: ModelConfig, tokens: Int32Array, batch: number): number {
  if (!Number.isInteger(batch) || batch < 1 || tokens.length % batch !== 0) {
    throw new Error(`forward: ${tokens.length} tokens cannot be split into batch=${batch} rows`);
  }
  const T = tokens.length / batch;
  if (T > config.nCtx) throw new Error(`forward: sequence length ${T} exceeds the model's nCtx=${config.nCtx}`);
  return T;
}
