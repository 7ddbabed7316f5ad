/**
 * config.json's descriptions of an exported model for Python: the TransformerLens
 * HookedTransformerConfig fields (attention models), the PyTorch modules (recurrent models), and the
 * icl-lab extensions TransformerLens needs hooks for (export.ts's header gives the layouts).
 */
import { isAttentionModel, type ModelConfig, type Positions } from "./config.ts";
import { PRE_LN_POSITIONS_TENSOR } from "./export-layout.ts";

/**
 * TransformerLens' positional_embedding_type for each of ours ("shortformer-pre-ln": "shortformer"
 * with a zero W_pos, plus the pre_ln_positions extension).
 */
const TL_POSITIONS: Record<Positions, "shortformer" | "standard" | "rotary"> = {
  shortformer: "shortformer",
  learned: "standard",
  rotary: "rotary",
  none: "standard",
  "shortformer-pre-ln": "shortformer",
};

/**
 * The TransformerLens HookedTransformerConfig fields of an attention model (only fields it accepts;
 * TransformerLens ≥ 2.2), null for other kinds. Positions "shortformer-pre-ln" add
 * use_split_qkv_input = true: the hook points their extension needs (see the file's header).
 */
export function transformerLensConfig(c: ModelConfig): Record<string, unknown> | null {
  if (!isAttentionModel(c)) return null;
  const posType = TL_POSITIONS[c.positions];
  return {
    model_name: `icl-lab-${c.kind}-${c.nLayers}l`,
    n_layers: c.nLayers,
    d_model: c.dModel,
    n_heads: c.nHeads,
    d_head: c.dHead,
    d_mlp: c.kind === "transformer" ? c.dMlp : null,
    n_ctx: c.nCtx,
    d_vocab: c.dVocab,
    d_vocab_out: c.dVocab,
    act_fn: c.kind === "transformer" ? "gelu_new" : null,
    normalization_type: c.layerNorm ? "LN" : null,
    positional_embedding_type: posType,
    rotary_dim: c.positions === "rotary" ? c.dHead : null,
    rotary_base: 10000,
    // Ours turns dimension i with i + dHead/2 (transformer.ts rotary()): GPT-NeoX, not GPT-J.
    rotary_adjacent_pairs: false,
    attn_only: c.kind === "attn-only",
    eps: 1e-5,
    use_attn_scale: true,
    attn_scale: Math.sqrt(c.dHead),
    // icl-lab's windows have no BOS token; only matters when TransformerLens tokenizes a string.
    default_prepend_bos: false,
    // blocks.{l}.hook_q_input / hook_k_input (resid_pre per head, before ln1) exist only with it.
    ...(c.positions === "shortformer-pre-ln" ? { use_split_qkv_input: true } : {}),
  };
}

/** config.json `extensions`: what TransformerLens needs beyond its config and state dict. */
export function extensionsOf(c: ModelConfig): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isAttentionModel(c)) return out;
  if (c.positions === "shortformer-pre-ln") {
    out.pre_ln_positions =
      `${PRE_LN_POSITIONS_TENSOR} [n_ctx, d_model]: positions added BEFORE ln1 to the query and key inputs ` +
      "(q_in = k_in = ln1(resid_pre + W_pos_pre_ln[:T]), v_in = ln1(resid_pre)). pos_embed.W_pos is zero, so TransformerLens' own " +
      "shortformer addition (after ln1) adds nothing; add W_pos_pre_ln[:T] (broadcast over heads) to blocks.{l}.hook_q_input and " +
      "blocks.{l}.hook_k_input of every layer (they exist because use_split_qkv_input is true: resid_pre repeated per head, " +
      "[batch, pos, n_heads, d_model], before ln1). load_state_dict(strict=False) ignores this tensor; without the hook the model " +
      "has no positions. In Python (model = HookedTransformer(HookedTransformerConfig(**config['transformer_lens']))): " +
      "sd = safetensors.torch.load_file('model.safetensors'); model.load_state_dict(sd, strict=False); " +
      "W = sd['pos_embed.W_pos_pre_ln']; " +
      "def add_pos(x, hook): return x + W[: x.shape[1], None, :].to(x.device, x.dtype); " +
      "model.add_hook(lambda name: name.endswith(('hook_q_input', 'hook_k_input')), add_pos, is_permanent=True) " +
      "(or per call: model.run_with_hooks(tokens, fwd_hooks=[(lambda name: name.endswith(('hook_q_input', 'hook_k_input')), add_pos)]))";
  }
  if (c.smearedKeys) {
    out.smear_alpha =
      "blocks.{l}.attn.smear_alpha [n_heads]: k_j <- sigmoid(a_h)*k_j + (1 - sigmoid(a_h))*k_{j-1} after the key projection (and rotary); position 0 keeps its key. TransformerLens has no such parameter (load_state_dict(strict=False) drops it): apply it with a hook on blocks.{l}.attn.hook_rot_k (rotary) or blocks.{l}.attn.hook_k";
  }
  return out;
}

export function torchModules(c: ModelConfig): Record<string, { class: string; kwargs: Record<string, unknown> }> | null {
  if (c.kind !== "lstm" && c.kind !== "rnn") return null;
  const rec = { input_size: c.dModel, hidden_size: c.dHidden, num_layers: c.nLayers, bias: true, batch_first: true };
  return {
    embed: { class: "Embedding", kwargs: { num_embeddings: c.dVocab, embedding_dim: c.dModel } },
    [c.kind]: c.kind === "lstm" ? { class: "LSTM", kwargs: rec } : { class: "RNN", kwargs: { ...rec, nonlinearity: "tanh" } },
    unembed: { class: "Linear", kwargs: { in_features: c.dHidden, out_features: c.dVocab, bias: true } },
  };
}
