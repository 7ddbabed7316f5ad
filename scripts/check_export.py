#!/usr/bin/env python3
"""Computes what TransformerLens would compute for an icl-lab export, independently of icl-lab.

Usage (PyTorch 1.13+ and NumPy, no other packages; torch 1.13 has no safetensors module, so the
file is parsed here by hand):

    /usr/bin/python3 scripts/check_export.py DIR --tokens 1,2,3,4 [--batch 1]
    /usr/bin/python3 scripts/check_export.py DIR --windows W.npy [--windows-per-batch N]
    /usr/bin/python3 scripts/check_export.py --spec SPEC.json

The first form prints {"shape": [B, T, V], "logits": [...]}. The second scores evaluation windows
(int32 [N, L], as `icl-lab measure icl --dump-windows W.npy` writes them; row w feeds tokens
w[0:L-1] and predicts w[1:L]) and prints {"windows": N, "positions": L-1, "loss": [mean loss at
index 0 .. L-2], and when L-1 >= 500 "loss_at_49", "loss_at_499", "icl_score" = loss_at_499 -
loss_at_49} in nats, to compare with `icl-lab measure icl --windows-file W.npy`. The third reads
[{"dir": ..., "tokens": [...], "batch": B}, ...] and prints a JSON list of logits results (one
torch start-up for many folders; src/model/export.test.ts uses it). Threads: $OMP_NUM_THREADS
(default 1).

Attention exports (layout "transformer_lens") are computed from TransformerLens' semantics, driven
only by config.json's `transformer_lens` dict (a HookedTransformerConfig) and the documented
extensions in config.json's `extensions` (EXTENSIONS below: `smear_alpha`, smeared keys;
`pre_ln_positions`, positions added by hooks to the query and key inputs before ln1); an extension
it does not know is refused. icl-lab's own `model` block is never read for them. The reference was
written from TransformerLens' source (files named at each function below, paths under
transformer_lens/ on its main branch; older releases keep some of it in utils.py and
HookedTransformerConfig.py), not from icl-lab's code, so a convention icl-lab gets wrong shows up
as a difference. It refuses a config field it does not implement (a non-default value of a field
that changes the logits) rather than ignore it, and refuses a state dict that
`HookedTransformer.load_state_dict(strict=False)` would load wrongly: a missing weight
(TransformerLens would silently keep its random init) or an extra one (silently dropped), apart
from the declared extensions' tensors.

Positions added before ln1 (icl-lab's "shortformer-pre-ln") are exported as "shortformer" with a
zero pos_embed.W_pos, use_split_qkv_input = true, and the extension `pre_ln_positions`: hooks on
blocks.{l}.hook_q_input / hook_k_input add pos_embed.W_pos_pre_ln[:T] to the per-head inputs
before ln1, as a TransformerLens user does with model.add_hook.

TransformerLens has no positional_embedding_type for "no positions": icl-lab exports such models
as "standard" with an all-zero pos_embed.W_pos, which this reference (like TransformerLens) adds
to the residual stream: exactly a model without positional embedding.

`mlp-only` exports (icl-lab's own layout; TransformerLens cannot hold them) and recurrent exports
(PyTorch nn.Embedding + nn.LSTM / nn.RNN + nn.Linear, loaded with load_state_dict) keep their
direct rebuild. Arithmetic is float64 on the float32 weights.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
DTYPE = torch.float64
TORCH_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}


def mm(a, b):
    """a @ b (batched) in float64 by NumPy: Debian's torch 1.13 is built with a generic BLAS whose
    float64 (b)mm runs 2-4x slower than NumPy's matmul on the same machine."""
    return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))


def fail(msg):
    raise SystemExit(f"check_export.py: {msg}")


def load_safetensors(path):
    """{name: tensor} from a safetensors file: u64 LE header length, JSON header, data section."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        dtype = TORCH_DTYPES[e["dtype"]]
        buf = bytearray(data[begin:end])
        t = torch.frombuffer(buf, dtype=dtype) if end > begin else torch.zeros(0, dtype=dtype)
        out[name] = t.reshape(e["shape"]).to(DTYPE)
    return out


# ---------------------------------------------------------------------------------------------
# The TransformerLens config: defaults of the fields the reference implements, fields that do not
# change logits computed from token ids, and the defaults other fields must keep.
# (transformer_lens/config/hooked_transformer_config.py and transformer_lens_config.py.)

IMPLEMENTED = {
    "n_layers": None, "d_model": None, "n_heads": -1, "d_head": None, "d_mlp": None, "n_ctx": None,
    "d_vocab": -1, "d_vocab_out": -1, "act_fn": "relu", "eps": 1e-5, "normalization_type": "LN",
    "positional_embedding_type": "standard", "attn_only": False, "use_attn_scale": True,
    "attn_scale": -1.0, "rotary_dim": None, "rotary_base": 10000, "rotary_adjacent_pairs": False,
    "use_split_qkv_input": False,
}
NEUTRAL = {
    "model_name", "default_prepend_bos", "tokenizer_name", "tokenizer_prepends_bos", "seed",
    "init_weights", "init_mode", "initializer_range", "device", "n_devices", "n_params",
    "use_attn_result", "use_hook_mlp_in", "use_attn_in", "use_hook_tokens",
    "from_checkpoint", "checkpoint_index", "checkpoint_label_type", "checkpoint_value",
    "trust_remote_code", "load_in_4bit", "default_padding_side",
}
MUST_BE_DEFAULT = {
    "attention_dir": "causal", "parallel_attn_mlp": False, "final_rms": False, "gated_mlp": False,
    "scale_attn_by_inverse_layer_idx": False, "use_local_attn": False, "window_size": None,
    "attn_types": None, "post_embedding_ln": False, "n_key_value_heads": None, "use_qk_norm": False,
    "use_normalization_before_and_after": False, "attn_scores_soft_cap": -1.0,
    "output_logits_soft_cap": -1.0, "use_NTK_by_parts_rope": False, "use_yarn_rope": False,
    "rotary_scaling_factor": 1.0, "rotary_base_local": None, "num_experts": None,
    "experts_per_token": None, "original_architecture": None, "tie_word_embeddings": False,
    "ungroup_grouped_query_attention": False, "relative_attention_max_distance": None,
    "relative_attention_num_buckets": None,
}


def resolve_config(tl):
    """The HookedTransformerConfig the dict gives, with TransformerLens' __post_init__ defaults."""
    for k, v in tl.items():
        if k in MUST_BE_DEFAULT and v != MUST_BE_DEFAULT[k]:
            fail(f"transformer_lens.{k} = {v!r} is not implemented by this reference (expected {MUST_BE_DEFAULT[k]!r})")
        if k not in IMPLEMENTED and k not in NEUTRAL and k not in MUST_BE_DEFAULT:
            fail(f"transformer_lens.{k} is not a HookedTransformerConfig field this reference knows")
    c = {**IMPLEMENTED, **{k: v for k, v in tl.items() if k in IMPLEMENTED}}
    for k in ("n_layers", "d_model", "d_head", "n_ctx"):
        if c[k] is None:
            fail(f"transformer_lens.{k} is required")
    if c["d_vocab"] == -1:
        fail("transformer_lens.d_vocab is required (there is no tokenizer to infer it from)")
    if c["n_heads"] == -1:  # TransformerLensConfig.__post_init__
        c["n_heads"] = c["d_model"] // c["d_head"]
    if c["d_vocab_out"] == -1:  # HookedTransformerConfig.__post_init__
        c["d_vocab_out"] = c["d_vocab"]
    if c["d_mlp"] is None:  # TransformerLensConfig.__post_init__
        c["d_mlp"] = 4 * c["d_model"]
    if c["use_attn_scale"] and c["attn_scale"] == -1.0:
        c["attn_scale"] = math.sqrt(c["d_head"])
    if not c["use_attn_scale"]:
        c["attn_scale"] = 1.0
    pos = c["positional_embedding_type"]
    if pos not in ("standard", "shortformer", "rotary"):
        fail(f"transformer_lens.positional_embedding_type {pos!r} is not implemented (standard, shortformer, rotary)")
    if pos == "rotary" and c["rotary_dim"] is None:
        c["rotary_dim"] = c["d_head"]
    if c["normalization_type"] not in ("LN", None):
        fail(f"transformer_lens.normalization_type {c['normalization_type']!r} is not implemented (\"LN\" or null)")
    if not c["attn_only"] and c["act_fn"] not in ACTIVATIONS:
        fail(f"transformer_lens.act_fn {c['act_fn']!r} is not implemented ({', '.join(ACTIVATIONS)})")
    return c


# ---------------------------------------------------------------------------------------------
# icl-lab's documented extensions (config.json `extensions`): extra tensors TransformerLens'
# load_state_dict(strict=False) drops, applied with hooks. Each: the tensors it adds (name ->
# shape from the resolved config). Any other extension is refused.

def _smear_tensors(c):
    return {f"blocks.{l}.attn.smear_alpha": [c["n_heads"]] for l in range(c["n_layers"])}


def _pre_ln_tensors(c):
    return {"pos_embed.W_pos_pre_ln": [c["n_ctx"], c["d_model"]]}


EXTENSIONS = {"smear_alpha": _smear_tensors, "pre_ln_positions": _pre_ln_tensors}


def resolve_extensions(ext, c):
    """The set of extension names, refusing unknown ones and ones this config cannot host."""
    names = set(ext or {})
    unknown = sorted(names - set(EXTENSIONS))
    if unknown:
        fail(f"extensions {', '.join(unknown)} are not implemented by this reference (known: {', '.join(sorted(EXTENSIONS))})")
    if "pre_ln_positions" in names and not c["use_split_qkv_input"]:
        # HookedTransformer.check_hooks_to_add: hook_q_input / hook_k_input need use_split_qkv_input.
        fail("extension pre_ln_positions hooks blocks.{l}.hook_q_input / hook_k_input, which TransformerLens "
             "refuses unless transformer_lens.use_split_qkv_input is true")
    return names


def expected_shapes(c, extensions):
    """The weights HookedTransformer(cfg) has (buffers such as masks and rotary tables are not weights)."""
    d, H, D, V = c["d_model"], c["n_heads"], c["d_head"], c["d_vocab"]
    ln = c["normalization_type"] == "LN"
    want = {"embed.W_E": [V, d]}
    if c["positional_embedding_type"] != "rotary":  # HookedTransformer.__init__: no PosEmbed for rotary
        want["pos_embed.W_pos"] = [c["n_ctx"], d]
    for l in range(c["n_layers"]):
        p = f"blocks.{l}"
        if ln:
            want.update({f"{p}.ln1.w": [d], f"{p}.ln1.b": [d]})
        for m in "QKV":
            want.update({f"{p}.attn.W_{m}": [H, d, D], f"{p}.attn.b_{m}": [H, D]})
        want.update({f"{p}.attn.W_O": [H, D, d], f"{p}.attn.b_O": [d]})
        if not c["attn_only"]:
            if ln:
                want.update({f"{p}.ln2.w": [d], f"{p}.ln2.b": [d]})
            want.update({f"{p}.mlp.W_in": [d, c["d_mlp"]], f"{p}.mlp.b_in": [c["d_mlp"]],
                         f"{p}.mlp.W_out": [c["d_mlp"], d], f"{p}.mlp.b_out": [d]})
    if ln:
        want.update({"ln_final.w": [d], "ln_final.b": [d]})
    want.update({"unembed.W_U": [d, c["d_vocab_out"]], "unembed.b_U": [c["d_vocab_out"]]})
    for name in sorted(extensions):
        want.update(EXTENSIONS[name](c))
    return want


def check_state_dict(sd, c, extensions, where):
    want = expected_shapes(c, extensions)
    missing = [k for k in want if k not in sd]
    extra = [k for k in sd if k not in want]
    if missing:
        fail(f"{where}: no tensor {', '.join(missing)} (TransformerLens would keep its random initialisation)")
    if extra:
        fail(f"{where}: unexpected tensor {', '.join(extra)} (load_state_dict(strict=False) would drop it)")
    for k, s in want.items():
        if list(sd[k].shape) != s:
            fail(f"{where}: tensor {k} has shape {list(sd[k].shape)}, TransformerLens expects {s}")


# ---------------------------------------------------------------------------------------------
# The forward pass, piece by piece as TransformerLens computes it.

def layer_norm(x, w, b, eps):
    """components/layer_norm.py LayerNorm.forward: centre, divide by sqrt(mean(x^2) + eps), w, b."""
    x = x - x.mean(-1, keepdim=True)
    return x / (x.pow(2).mean(-1, keepdim=True) + eps).sqrt() * w + b


def norm(sd, c, name, x):
    """normalization_type "LN" -> LayerNorm; None -> nn.Identity (components/transformer_block.py)."""
    return layer_norm(x, sd[name + ".w"], sd[name + ".b"], c["eps"]) if c["normalization_type"] == "LN" else x


def _gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


# utilities/activation_functions.py SUPPORTED_ACTIVATIONS: "gelu" is torch's F.gelu (exact, erf);
# "gelu_new", "gelu_pytorch_tanh" and "gelu_fast" are GPT-2's tanh approximation.
ACTIVATIONS = {
    "gelu": _gelu_erf,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "relu": lambda x: x.clamp(min=0),
    "silu": lambda x: x * torch.sigmoid(x),
}


def rotary_tables(c, T):
    """components/abstract_attention.py calculate_sin_cos_rotary: frequency i of rotary_dim/2 is
    base^(i / (rotary_dim/2)); with rotary_adjacent_pairs each is repeated in place (d 2) (GPT-J),
    else the list is repeated (2 d) so dimension i pairs with i + rotary_dim/2 (GPT-NeoX)."""
    R = c["rotary_dim"]
    freq = float(c["rotary_base"]) ** (torch.arange(R // 2, dtype=DTYPE) / (R / 2))
    freq = freq.repeat_interleave(2) if c["rotary_adjacent_pairs"] else freq.repeat(2)
    angles = torch.arange(T, dtype=DTYPE)[:, None] / freq[None, :]  # [T, R]
    return angles.cos()[None, :, None, :], angles.sin()[None, :, None, :]


def apply_rotary(c, x, tables):
    """abstract_attention.py apply_rotary / rotate_every_two on x [B, T, H, D]: only the first
    rotary_dim dimensions turn; the partner of each is negated-and-swapped as its layout says."""
    R = c["rotary_dim"]
    xr, xp = x[..., :R], x[..., R:]
    if c["rotary_adjacent_pairs"]:
        flip = torch.stack([-xr[..., 1::2], xr[..., ::2]], -1).flatten(-2)
    else:
        flip = torch.cat([-xr[..., R // 2 :], xr[..., : R // 2]], -1)
    cos, sin = tables
    return torch.cat([xr * cos + flip * sin, xp], -1)


def smear(k, alpha):
    """icl-lab extension (config.json `extensions.smear_alpha`): k_j <- s*k_j + (1-s)*k_{j-1},
    s = sigmoid(alpha_h), after the key projection and rotary; position 0 keeps its key."""
    s = torch.sigmoid(alpha)[None, None, :, None]
    prev = torch.cat([k[:, :1], k[:, :-1]], 1)
    return s * k + (1 - s) * prev


def attention(sd, c, p, q_in, k_in, v_in, rope, smeared):
    """abstract_attention.py AbstractAttention.forward: per-head projections (calculate_qkv_matrices:
    utilities/attention.py simple_attn_linear on inputs [B, T, d], complex_attn_linear on per-head
    inputs [B, T, H, d] when use_split_qkv_input), rotary on q and k, scores / attn_scale, causal
    mask (-inf where the key comes after the query), softmax, z = pattern @ v, out = z @ W_O + b_O. The pattern is computed
    in NumPy, in place: this torch's float64 softmax is several times slower."""
    B, T, d = q_in.shape[0], q_in.shape[1], q_in.shape[-1]
    H, D = c["n_heads"], c["d_head"]

    def proj(x, m):
        if x.dim() == 4:  # complex_attn_linear: q[b, t, h, e] = sum_i x[b, t, h, i] W[h, i, e] + b[h, e]
            y = mm(x.permute(2, 0, 1, 3).reshape(H, B * T, d), sd[f"{p}.W_{m}"])  # [H, B*T, D]
            return y.reshape(H, B, T, D).permute(1, 2, 0, 3) + sd[f"{p}.b_{m}"]
        # simple_attn_linear: q[b, t, h, e] = sum_i x[b, t, i] W[h, i, e] + b[h, e]
        W = sd[f"{p}.W_{m}"].permute(1, 0, 2).reshape(d, H * D)
        return mm(x, W).reshape(B, T, H, D) + sd[f"{p}.b_{m}"]  # [B, T, H, D]

    q, k, v = proj(q_in, "Q"), proj(k_in, "K"), proj(v_in, "V")
    if rope is not None:
        q, k = apply_rotary(c, q, rope), apply_rotary(c, k, rope)
    if smeared:
        k = smear(k, sd[p + ".smear_alpha"])
    s = np.matmul(q.permute(0, 2, 1, 3).numpy(), k.permute(0, 2, 3, 1).numpy())  # [B, H, Tq, Tk]
    s /= c["attn_scale"]
    s += np.triu(np.full((T, T), -np.inf), 1)  # + 0 where key <= query, else -inf
    s -= s.max(-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(-1, keepdims=True)
    z = mm(torch.from_numpy(s), v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)  # [B, T, H, D]
    # out[b, t, :] = sum_{h, e} z[b, t, h, e] W_O[h, e, :] + b_O
    return mm(z.reshape(B, T, H * D), sd[p + ".W_O"].reshape(H * D, d)) + sd[p + ".b_O"]


def pre_ln_positions_hook(sd, T):
    """icl-lab extension (config.json `extensions.pre_ln_positions`): a forward hook on
    blocks.{l}.hook_q_input and hook_k_input (x [B, T, H, d], resid_pre per head, before ln1)
    returning x + W_pos_pre_ln[:T] broadcast over batch and heads."""
    W = sd["pos_embed.W_pos_pre_ln"][:T, None, :]  # [T, 1, d]
    return lambda x: x + W


def transformer_lens_forward(sd, c, extensions, tokens):
    """HookedTransformer.forward on token ids [B, T] -> logits [B, T, d_vocab_out], with the
    extensions' hooks."""
    T = tokens.shape[1]
    if T > c["n_ctx"]:
        fail(f"{T} tokens per row exceed transformer_lens.n_ctx = {c['n_ctx']}")
    pos = c["positional_embedding_type"]
    resid = sd["embed.W_E"][tokens]  # components/embed.py: W_E[tokens]  [B, T, d]
    shortformer_pos = None
    # HookedTransformer.get_residual: "standard" adds W_pos[:T] to the residual stream;
    # "shortformer" keeps it aside for the blocks' query and key inputs; "rotary" has none.
    if pos == "standard":
        resid = resid + sd["pos_embed.W_pos"][:T]
    elif pos == "shortformer":
        shortformer_pos = sd["pos_embed.W_pos"][:T]
    rope = rotary_tables(c, T) if pos == "rotary" else None
    act = ACTIVATIONS.get(c["act_fn"])
    split = c["use_split_qkv_input"]
    H = c["n_heads"]
    # Forward hooks: hook point (without "blocks.{l}.") -> functions applied in order.
    hooks = {"hook_q_input": [], "hook_k_input": [], "hook_v_input": []}
    if "pre_ln_positions" in extensions:
        add = pre_ln_positions_hook(sd, T)
        hooks["hook_q_input"].append(add)
        hooks["hook_k_input"].append(add)

    def hooked(name, x):
        for f in hooks[name]:
            x = f(x)
        return x

    if split and shortformer_pos is not None:  # repeat_along_head_dimension: [T, d] -> [T, H, d]
        shortformer_pos = shortformer_pos[:, None, :].expand(T, H, shortformer_pos.shape[-1])
    for l in range(c["n_layers"]):
        p = f"blocks.{l}"
        # components/transformer_block.py TransformerBlock.forward: with use_split_qkv_input the
        # q/k/v inputs are resid_pre repeated per head ([B, T, H, d], utilities
        # repeat_along_head_dimension) through hook_q_input / hook_k_input / hook_v_input, else
        # resid_pre itself; then query_input = ln1(q_in) + shortformer_pos_embed (repeated per head
        # with split inputs), key_input likewise, value_input = ln1(v_in);
        # resid_mid = resid_pre + attn_out; resid_post = resid_mid + mlp(ln2(resid_mid)) unless attn_only.
        if split:
            per_head = resid[:, :, None, :].expand(-1, -1, H, -1)
            q_in, k_in, v_in = (hooked(n, per_head) for n in ("hook_q_input", "hook_k_input", "hook_v_input"))
        else:
            q_in = k_in = v_in = resid
        xq, xk, xv = (norm(sd, c, p + ".ln1", x) for x in (q_in, k_in, v_in))
        if shortformer_pos is not None:
            xq, xk = xq + shortformer_pos, xk + shortformer_pos
        resid = resid + attention(sd, c, p + ".attn", xq, xk, xv, rope, "smear_alpha" in extensions)
        if not c["attn_only"]:
            # components/mlps/mlp.py MLP.forward: act(x @ W_in + b_in) @ W_out + b_out
            h = act(mm(norm(sd, c, p + ".ln2", resid), sd[p + ".mlp.W_in"]) + sd[p + ".mlp.b_in"])
            resid = resid + mm(h, sd[p + ".mlp.W_out"]) + sd[p + ".mlp.b_out"]
    # HookedTransformer.forward: ln_final only when normalization_type is not None;
    # components/unembed.py: residual @ W_U + b_U.
    x = norm(sd, c, "ln_final", resid)
    return mm(x, sd["unembed.W_U"]) + sd["unembed.b_U"]


# ---------------------------------------------------------------------------------------------
# The other layouts: icl-lab's own mlp-only layout and PyTorch's recurrent modules.

def mlp_only_forward(sd, model, tokens):
    ln = model["layerNorm"]

    def n(name, x):
        return F.layer_norm(x, (x.shape[-1],), sd[name + ".w"], sd[name + ".b"], eps=1e-5) if ln else x

    resid = sd["embed.W_E"][tokens]
    for l in range(model["nLayers"]):
        p = f"blocks.{l}"
        h = F.gelu(n(p + ".ln2", resid) @ sd[p + ".mlp.W_in"] + sd[p + ".mlp.b_in"], approximate="tanh")
        resid = resid + h @ sd[p + ".mlp.W_out"] + sd[p + ".mlp.b_out"]
    return n("ln_final", resid) @ sd["unembed.W_U"] + sd["unembed.b_U"]


def recurrent_forward(sd, modules, tokens):
    """nn.Embedding -> nn.LSTM / nn.RNN (batch_first, zero initial states) -> nn.Linear."""
    built = {}
    for name, m in modules.items():
        mod = getattr(torch.nn, m["class"])(**m["kwargs"]).to(DTYPE)
        own = {k[len(name) + 1 :]: v for k, v in sd.items() if k.startswith(name + ".")}
        mod.load_state_dict(own, strict=True)
        built[name] = mod
    rec = [n for n in built if n not in ("embed", "unembed")][0]
    hs, _ = built[rec](built["embed"](tokens))
    return built["unembed"](hs)


def load_export(folder):
    """(forward(tokens [B, T]) -> logits [B, T, V], {"n_ctx", "n_heads"}) for an export folder."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    sd = load_safetensors(os.path.join(folder, cfg["files"]["weights"]))
    layout = cfg["layout"]
    if layout == "transformer_lens":
        if cfg.get("transformer_lens") is None:
            fail(f"{folder}: config.json has no transformer_lens config")
        c = resolve_config(cfg["transformer_lens"])
        extensions = resolve_extensions(cfg.get("extensions"), c)
        check_state_dict(sd, c, extensions, folder)
        return (lambda tok: transformer_lens_forward(sd, c, extensions, tok)), {"n_ctx": c["n_ctx"], "n_heads": c["n_heads"]}
    if layout == "icl_lab_mlp_only":
        return (lambda tok: mlp_only_forward(sd, cfg["model"], tok)), {"n_ctx": cfg["model"]["nCtx"], "n_heads": 0}
    if layout in ("torch_lstm", "torch_rnn"):
        return (lambda tok: recurrent_forward(sd, cfg["torch"], tok)), {"n_ctx": cfg["model"]["nCtx"], "n_heads": 0}
    fail(f"unknown layout {layout!r} in {folder}")


def logits_of(folder, tokens, batch):
    forward, _ = load_export(folder)
    tok = torch.tensor(tokens, dtype=torch.long).reshape(batch, -1)
    with torch.no_grad():
        out = forward(tok)
    return {"shape": list(out.shape), "logits": out.flatten().tolist()}


def window_losses(folder, path, per_batch=None):
    """Mean loss (nats) at each index over the windows in an .npy file: index i predicts w[i+1]."""
    w = np.load(path)
    if w.ndim != 2 or w.shape[1] < 2:
        fail(f"{path}: expected windows [N, nCtx + 1], found shape {list(w.shape)}")
    forward, info = load_export(folder)
    N, T = w.shape[0], w.shape[1] - 1
    if T > info["n_ctx"]:
        fail(f"{path}: windows feed {T} tokens, more than the model's n_ctx = {info['n_ctx']}")
    windows = torch.from_numpy(w.astype(np.int64))
    if per_batch is None:  # logits [b, T, V] and a few [b, H, T, T] score tensors, float64, ~256 MB
        with torch.no_grad():
            V = forward(windows[:1, :1]).shape[-1]
        per_batch = max(1, (256 << 20) // (8 * T * (2 * V + 3 * info["n_heads"] * T)))
    total = torch.zeros(T, dtype=DTYPE)
    with torch.no_grad():
        for s in range(0, N, per_batch):
            chunk = windows[s : s + per_batch]
            logits = forward(chunk[:, :-1])  # [b, T, V]
            target = chunk[:, 1:]
            loss = logits.logsumexp(-1) - logits.gather(-1, target[..., None])[..., 0]  # [b, T]
            total += loss.sum(0)
    mean = total / N
    out = {"windows": N, "positions": T, "loss": mean.tolist()}
    if T >= 500:
        out.update({"loss_at_49": mean[49].item(), "loss_at_499": mean[499].item(),
                    "icl_score": (mean[499] - mean[49]).item()})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--tokens", help="comma-separated token ids")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--windows", help=".npy int32 [N, nCtx + 1]: print the mean loss at each position")
    ap.add_argument("--windows-per-batch", type=int, help="windows per forward pass (default: by memory)")
    ap.add_argument("--spec", help="JSON file: [{dir, tokens, batch}, ...]")
    a = ap.parse_args()
    if a.spec:
        with open(a.spec) as f:
            spec = json.load(f)
        json.dump([logits_of(s["dir"], s["tokens"], s.get("batch", 1)) for s in spec], sys.stdout)
    elif a.dir and a.windows:
        json.dump(window_losses(a.dir, a.windows, a.windows_per_batch), sys.stdout)
    elif a.dir and a.tokens:
        json.dump(logits_of(a.dir, [int(x) for x in a.tokens.split(",")], a.batch), sys.stdout)
    else:
        ap.error("give DIR --tokens ..., DIR --windows W.npy, or --spec FILE")
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
