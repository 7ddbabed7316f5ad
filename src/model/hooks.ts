/**
 * Hook points: the names of the activations a forward pass can return (`hooks.capture`), defined
 * once. The names and shapes are TransformerLens' (HookedTransformer, TransformerBlock, Attention,
 * MLP; https://transformerlensorg.github.io/TransformerLens/), so code written against a
 * TransformerLens `ActivationCache` reads ours with the same keys:
 *
 *   hook_embed                       [B, T, dModel]  token embeddings
 *   hook_pos_embed                   [B, T, dModel]  position embeddings (learned / shortformer)
 *   blocks.{l}.hook_resid_pre        [B, T, dModel]  residual stream into block l
 *   blocks.{l}.ln1.hook_normalized   [B, T, dModel]  ln1 output (the value input)
 *   blocks.{l}.attn.hook_q|k|v       [B, T, nHeads, dHead]  (k after smearing for smeared keys)
 *   blocks.{l}.attn.hook_attn_scores [B, nHeads, T, T]  q·kᵀ/√dHead, −∞ above the diagonal
 *   blocks.{l}.attn.hook_pattern     [B, nHeads, T, T]  softmax of the scores (query × key)
 *   blocks.{l}.attn.hook_z           [B, T, nHeads, dHead]  per-head outputs before W_O
 *   blocks.{l}.hook_attn_out         [B, T, dModel]  attention output (after W_O, b_O)
 *   blocks.{l}.hook_resid_mid        [B, T, dModel]  between attention and MLP (transformer)
 *   blocks.{l}.ln2.hook_normalized   [B, T, dModel]  ln2 output
 *   blocks.{l}.mlp.hook_pre|hook_post [B, T, dMlp]  MLP hidden before / after GELU
 *   blocks.{l}.hook_mlp_out          [B, T, dModel]
 *   blocks.{l}.hook_resid_post       [B, T, dModel]  residual stream out of block l
 *   ln_final.hook_normalized         [B, T, dModel] (or [n, dModel] at requested positions)
 *
 * Recurrent models have no TransformerLens counterpart: `lstm.{l}.hook_h` / `rnn.{l}.hook_h`
 * [B, T, dHidden] are the hidden states of layer l.
 */
import { isAttentionModel, type ModelConfig } from "./config.ts";

export const HOOK_EMBED = "hook_embed";
export const HOOK_POS_EMBED = "hook_pos_embed";
export const HOOK_LN_FINAL = "ln_final.hook_normalized";

/** Hook names of block `l`. */
export function blockHooks(l: number) {
  const b = `blocks.${l}`;
  return {
    residPre: `${b}.hook_resid_pre`,
    ln1: `${b}.ln1.hook_normalized`,
    q: `${b}.attn.hook_q`,
    k: `${b}.attn.hook_k`,
    v: `${b}.attn.hook_v`,
    attnScores: `${b}.attn.hook_attn_scores`,
    pattern: `${b}.attn.hook_pattern`,
    z: `${b}.attn.hook_z`,
    attnOut: `${b}.hook_attn_out`,
    residMid: `${b}.hook_resid_mid`,
    ln2: `${b}.ln2.hook_normalized`,
    mlpPre: `${b}.mlp.hook_pre`,
    mlpPost: `${b}.mlp.hook_post`,
    mlpOut: `${b}.hook_mlp_out`,
    residPost: `${b}.hook_resid_post`,
  } as const;
}

/** `blocks.{l}.attn.hook_pattern` for every layer: what head scores and ablations capture. */
export function patternHooks(nLayers: number): string[] {
  return Array.from({ length: nLayers }, (_, l) => blockHooks(l).pattern);
}

/** The hidden states of recurrent layer `l` (no TransformerLens counterpart). */
export function recurrentHook(cell: "lstm" | "rnn", l: number): string {
  return `${cell}.${l}.hook_h`;
}

/** Every hook name a model of `config` provides, in forward order. */
export function hookNames(config: ModelConfig): string[] {
  const names = [HOOK_EMBED];
  if (config.kind === "lstm" || config.kind === "rnn") {
    for (let l = 0; l < config.nLayers; l++) names.push(recurrentHook(config.kind, l));
    return names;
  }
  const attention = isAttentionModel(config);
  if (attention && config.positions !== "rotary" && config.positions !== "none") names.push(HOOK_POS_EMBED);
  const mlp = config.kind !== "attn-only";
  for (let l = 0; l < config.nLayers; l++) {
    const h = blockHooks(l);
    names.push(h.residPre);
    if (attention) {
      if (config.layerNorm) names.push(h.ln1);
      names.push(h.q, h.k, h.v, h.attnScores, h.pattern, h.z, h.attnOut);
      if (mlp) names.push(h.residMid);
    }
    if (mlp) {
      if (config.layerNorm) names.push(h.ln2);
      names.push(h.mlpPre, h.mlpPost, h.mlpOut);
    }
    names.push(h.residPost);
  }
  if (config.layerNorm) names.push(HOOK_LN_FINAL);
  return names;
}

/** Throws, naming the model's hooks, when a requested name is not one of them. */
export function checkHookNames(config: ModelConfig, wanted: readonly string[]): void {
  if (wanted.length === 0) return;
  const known = new Set(hookNames(config));
  const bad = wanted.filter((n) => !known.has(n));
  if (bad.length > 0) {
    throw new Error(
      `hooks.capture: unknown hook ${bad.map((n) => `'${n}'`).join(", ")} for a ${config.nLayers}-layer ${config.kind} model; ` +
        `expected TransformerLens names such as ${hookNames(config).slice(0, 8).join(", ")} … (src/model/hooks.ts)`,
    );
  }
}
