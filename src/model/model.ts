/**
 * The model interface every architecture implements (defined in common.ts, re-exported here), the
 * hook vocabulary, and `buildModel`, which dispatches on the config's `kind` through a typed table.
 *
 * Inputs are token ids [B, T] (row-major Int32Array, T ≤ nCtx). Outputs are logits [B, T, dVocab],
 * or [n, dVocab] for the n flat positions (b·T + t) a caller asks for — the ICL score needs two
 * positions per window, and the unembedding of all 512 would be most of the forward pass.
 *
 * Hook points (`hooks.capture`) use TransformerLens' names and shapes, defined once in hooks.ts:
 * `blocks.{l}.attn.hook_pattern` [B, H, T, T], `blocks.{l}.attn.hook_z` [B, T, H, dHead], …
 */
import type { ModelConfig, ModelKind } from "./config.ts";
import type { Builder, LanguageModel } from "./common.ts";
import { buildAttnOnly, buildMlpOnly, buildTransformer } from "./transformer.ts";
import { buildLstm, buildRnn } from "./recurrent.ts";

// The interface lives in common.ts (below the architectures); importers keep reading it here.
export { checkTokens, type Builder, type ForwardOptions, type ForwardResult, type HeadRef, type HookOptions, type LanguageModel } from "./common.ts";

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
