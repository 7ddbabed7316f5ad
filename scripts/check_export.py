#!/usr/bin/env python3
"""Rebuilds an icl-lab export in plain PyTorch and prints its logits, to check the export.

Usage (PyTorch 1.13+, no other packages; torch 1.13 has no safetensors module, so the file is
parsed here by hand):

    /usr/bin/python3 scripts/check_export.py DIR --tokens 1,2,3,4 [--batch 1]
    /usr/bin/python3 scripts/check_export.py --spec SPEC.json

The first form prints {"shape": [B, T, V], "logits": [...]} for one folder; the second reads
[{"dir": ..., "tokens": [...], "batch": B}, ...] and prints a JSON list of such results (one torch
start-up for many folders; src/model/export.test.ts uses it).

The models are rebuilt from the exported layouts only (see src/model/export.ts), independently of
icl-lab's code: attention models from TransformerLens-style tensors with einsums over heads,
recurrent models by loading the state dict into nn.Embedding + nn.LSTM / nn.RNN + nn.Linear.
Arithmetic is float64 on the float32 weights.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
DTYPE = torch.float64
TORCH_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}


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


def layer_norm(sd, prefix, x, enabled):
    if not enabled:
        return x
    return F.layer_norm(x, (x.shape[-1],), sd[prefix + ".w"], sd[prefix + ".b"], eps=1e-5)


def rotary(x, D):
    """GPT-NeoX rotary on x [B, T, H, D]: halves rotate together, theta = t / 10000^(2i/D)."""
    T, half = x.shape[1], D // 2
    inv = 1.0 / (10000.0 ** (torch.arange(half, dtype=DTYPE) * 2 / D))
    theta = torch.arange(T, dtype=DTYPE)[:, None] * inv[None, :]
    cos = torch.cat([theta.cos(), theta.cos()], -1)[None, :, None, :]
    sin = torch.cat([theta.sin(), theta.sin()], -1)[None, :, None, :]
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


def attention_forward(sd, tl, tokens):
    """TransformerLens layout: W_Q [H, d, D], b_Q [H, D], W_O [H, D, d]; positions per config."""
    B, T = tokens.shape
    ln = tl["normalization_type"] == "LN"
    pos = tl["positional_embedding_type"]
    resid = sd["embed.W_E"][tokens]  # [B, T, d]
    W_pos = sd["pos_embed.W_pos"][:T] if "pos_embed.W_pos" in sd else None
    if pos == "standard":
        resid = resid + W_pos
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(tl["n_layers"]):
        p = f"blocks.{l}"
        x_v = layer_norm(sd, p + ".ln1", resid, ln)
        x_qk = layer_norm(sd, p + ".ln1", resid + W_pos, ln) if pos == "shortformer" else x_v
        q = torch.einsum("btd,hde->bthe", x_qk, sd[p + ".attn.W_Q"]) + sd[p + ".attn.b_Q"]  # [B, T, H, D]
        k = torch.einsum("btd,hde->bthe", x_qk, sd[p + ".attn.W_K"]) + sd[p + ".attn.b_K"]
        v = torch.einsum("btd,hde->bthe", x_v, sd[p + ".attn.W_V"]) + sd[p + ".attn.b_V"]
        D = q.shape[-1]
        if pos == "rotary":
            q, k = rotary(q, D), rotary(k, D)
        if p + ".attn.smear_alpha" in sd:  # icl-lab extension: smeared keys
            s = torch.sigmoid(sd[p + ".attn.smear_alpha"])[None, None, :, None]
            prev = torch.cat([k[:, :1], k[:, :-1]], 1)
            k = s * k + (1 - s) * prev
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(D)
        scores = scores.masked_fill(~causal, float("-inf"))
        z = torch.einsum("bhqk,bkhe->bqhe", scores.softmax(-1), v)  # [B, T, H, D]
        resid = resid + torch.einsum("bqhe,hed->bqd", z, sd[p + ".attn.W_O"]) + sd[p + ".attn.b_O"]
        if not tl["attn_only"]:
            resid = mlp(sd, p, resid, ln)
    x = layer_norm(sd, "ln_final", resid, ln)
    return x @ sd["unembed.W_U"] + sd["unembed.b_U"]


def mlp(sd, p, resid, ln):
    x = layer_norm(sd, p + ".ln2", resid, ln)
    h = F.gelu(x @ sd[p + ".mlp.W_in"] + sd[p + ".mlp.b_in"], approximate="tanh")
    return resid + h @ sd[p + ".mlp.W_out"] + sd[p + ".mlp.b_out"]


def mlp_only_forward(sd, model, tokens):
    resid = sd["embed.W_E"][tokens]
    for l in range(model["nLayers"]):
        resid = mlp(sd, f"blocks.{l}", resid, model["layerNorm"])
    x = layer_norm(sd, "ln_final", resid, model["layerNorm"])
    return x @ sd["unembed.W_U"] + sd["unembed.b_U"]


def recurrent_forward(sd, modules, tokens):
    """nn.Embedding -> nn.LSTM / nn.RNN (batch_first, zero initial states) -> nn.Linear."""
    built = {}
    for name, m in modules.items():
        mod = getattr(torch.nn, m["class"])(**m["kwargs"]).to(DTYPE)
        own = {k[len(name) + 1 :]: v for k, v in sd.items() if k.startswith(name + ".")}
        mod.load_state_dict(own, strict=True)
        built[name] = mod
    rec = [n for n in built if n not in ("embed", "unembed")][0]
    with torch.no_grad():
        hs, _ = built[rec](built["embed"](tokens))
        return built["unembed"](hs)


def logits_of(folder, tokens, batch):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    sd = load_safetensors(os.path.join(folder, cfg["files"]["weights"]))
    tok = torch.tensor(tokens, dtype=torch.long).reshape(batch, -1)
    with torch.no_grad():
        if cfg["layout"] == "transformer_lens":
            out = attention_forward(sd, cfg["transformer_lens"], tok)
        elif cfg["layout"] == "icl_lab_mlp_only":
            out = mlp_only_forward(sd, cfg["model"], tok)
        elif cfg["layout"] in ("torch_lstm", "torch_rnn"):
            out = recurrent_forward(sd, cfg["torch"], tok)
        else:
            raise SystemExit(f"check_export.py: unknown layout {cfg['layout']!r} in {folder}")
    return {"shape": list(out.shape), "logits": out.flatten().tolist()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--tokens", help="comma-separated token ids")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--spec", help="JSON file: [{dir, tokens, batch}, ...]")
    a = ap.parse_args()
    if a.spec:
        with open(a.spec) as f:
            spec = json.load(f)
        json.dump([logits_of(s["dir"], s["tokens"], s.get("batch", 1)) for s in spec], sys.stdout)
    elif a.dir and a.tokens:
        json.dump(logits_of(a.dir, [int(x) for x in a.tokens.split(",")], a.batch), sys.stdout)
    else:
        ap.error("give DIR --tokens ... or --spec FILE")
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
