#!/usr/bin/env python3
"""Golden values for the model zoo, computed once by PyTorch and committed as JSON.

Usage (from the repository root; PyTorch 1.13+, no other packages):

    OMP_NUM_THREADS=2 /usr/bin/python3 scripts/golden/make_golden.py

writes src/model/golden/<case>.json, which src/model/golden.test.ts loads into our models.

Each case is a tiny model with fixed weights (drawn here from a fixed seed, std ~0.3 so that the
gradients are not tiny), fixed input tokens and targets. The models are rebuilt here from the
architecture description in src/model/transformer.ts and src/model/recurrent.ts, written
independently with PyTorch ops (nn.LSTM / nn.RNN for the recurrences), and evaluated in float64:
the loss is the mean cross-entropy over all B*T positions, and the gradient of every parameter is
saved in our layout.

Weights are rounded to 5 significant digits and then to float32 *before* the float64 forward
pass, so the JSON holds exactly the weights the golden values were computed from (JavaScript's
Float32Array and torch both round the decimal to float64, then to float32: the same value). The
golden loss and gradients are therefore float64 values for float32-exact weights; the test's
tolerance absorbs only our float32 arithmetic.

Layout mapping (ours -> PyTorch), as documented in transformer.ts / recurrent.ts:
  attn.W_Q|W_K|W_V [dModel, H*D], used as x @ W  (nn.Linear's weight would be W^T)
  attn.W_O [H*D, dModel]; mlp.W_in [dModel, dMlp]; mlp.W_out [dMlp, dModel]; unembed.W_U [d, V]
  lstm.{l}.W_ih [dIn, 4H]   = weight_ih_l{l}^T (gate order i, f, g, o, as PyTorch)
  lstm.{l}.W_hh [H, 4H]     = weight_hh_l{l}^T
  lstm.{l}.b [4H]           = bias_ih_l{l} + bias_hh_l{l}  (here bias_hh is held at zero, so the
                              gradient of b is the gradient of bias_ih)
  rnn.* likewise with one gate (tanh).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT_DIR = os.path.join(ROOT, "src", "model", "golden")
DTYPE = torch.float64
WEIGHT_DIGITS = 5  # significant digits of the stored weights
GRAD_DIGITS = 8  # significant digits of the stored golden values (float64 truth; plenty for 1e-4)


# ---- parameters --------------------------------------------------------------------------------

class Params:
    """Parameters in creation order, drawn from one seeded generator, float32-exact, in float64."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.p = {}

    def _add(self, name, values):
        rounded = [float(f"{v:.{WEIGHT_DIGITS}g}") for v in values.flatten().tolist()]
        t = torch.tensor(rounded, dtype=torch.float32).reshape(values.shape).to(DTYPE)
        t.requires_grad_(True)
        assert name not in self.p, name
        self.p[name] = t
        return t

    def normal(self, name, shape, std=0.3, mean=0.0):
        return self._add(name, mean + std * torch.randn(shape, generator=self.gen, dtype=torch.float64))

    def __getitem__(self, name):
        return self.p[name]


def attention_params(ps, c, with_mlp):
    d, hd = c["dModel"], c["nHeads"] * c["dHead"]
    ps.normal("embed.W_E", [c["dVocab"], d])
    if c["positions"] in ("shortformer", "shortformer-pre-ln", "learned"):
        ps.normal("pos_embed.W_pos", [c["nCtx"], d])
    for l in range(c["nLayers"]):
        if c["layerNorm"]:
            ps.normal(f"blocks.{l}.ln1.w", [d], std=0.2, mean=1.0)
            ps.normal(f"blocks.{l}.ln1.b", [d], std=0.2)
        for m in "QKV":
            ps.normal(f"blocks.{l}.attn.W_{m}", [d, hd])
        for m in "QKV":
            ps.normal(f"blocks.{l}.attn.b_{m}", [hd], std=0.2)
        ps.normal(f"blocks.{l}.attn.W_O", [hd, d])
        ps.normal(f"blocks.{l}.attn.b_O", [d], std=0.2)
        if c["smearedKeys"]:
            ps.normal(f"blocks.{l}.attn.smear_alpha", [c["nHeads"]], std=1.0)
        if with_mlp:
            mlp_params(ps, c, l)
    unembed_params(ps, c, d)


def mlp_params(ps, c, l):
    d = c["dModel"]
    if c["layerNorm"]:
        ps.normal(f"blocks.{l}.ln2.w", [d], std=0.2, mean=1.0)
        ps.normal(f"blocks.{l}.ln2.b", [d], std=0.2)
    ps.normal(f"blocks.{l}.mlp.W_in", [d, c["dMlp"]])
    ps.normal(f"blocks.{l}.mlp.b_in", [c["dMlp"]], std=0.2)
    ps.normal(f"blocks.{l}.mlp.W_out", [c["dMlp"], d])
    ps.normal(f"blocks.{l}.mlp.b_out", [d], std=0.2)


def unembed_params(ps, c, d):
    if c.get("layerNorm", False):
        ps.normal("ln_final.w", [d], std=0.2, mean=1.0)
        ps.normal("ln_final.b", [d], std=0.2)
    ps.normal("unembed.W_U", [d, c["dVocab"]])
    ps.normal("unembed.b_U", [c["dVocab"]], std=0.2)


def recurrent_params(ps, c, cell):
    H, G = c["dHidden"], 4 if cell == "lstm" else 1
    ps.normal("embed.W_E", [c["dVocab"], c["dModel"]])
    for l in range(c["nLayers"]):
        d_in = c["dModel"] if l == 0 else H
        ps.normal(f"{cell}.{l}.W_ih", [d_in, G * H])
        ps.normal(f"{cell}.{l}.W_hh", [H, G * H])
        ps.normal(f"{cell}.{l}.b", [G * H], std=0.2)
    unembed_params(ps, {**c, "layerNorm": False}, H)


# ---- forward passes (PyTorch) ------------------------------------------------------------------

def layer_norm(ps, prefix, x, enabled):
    if not enabled:
        return x
    return F.layer_norm(x, (x.shape[-1],), ps[f"{prefix}.w"], ps[f"{prefix}.b"], eps=1e-5)


def rotate(x, T, D):
    """GPT-NeoX rotary on x [B, H, T, D]: halves rotate together, theta_{t,i} = t / 10000^(2i/D)."""
    half = D // 2
    inv_freq = 1.0 / (10000.0 ** (torch.arange(half, dtype=DTYPE) * 2 / D))
    theta = torch.arange(T, dtype=DTYPE)[:, None] * inv_freq[None, :]  # [T, half]
    cos = torch.cat([theta.cos(), theta.cos()], dim=-1)  # [T, D]
    sin = torch.cat([theta.sin(), theta.sin()], dim=-1)
    x1, x2 = x[..., :half], x[..., half:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def attention_forward(ps, c, tokens, with_mlp):
    B, T = tokens.shape
    H, D = c["nHeads"], c["dHead"]
    resid = F.embedding(tokens, ps["embed.W_E"])  # [B, T, d]
    if c["positions"] == "learned":
        resid = resid + ps["pos_embed.W_pos"][:T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(c["nLayers"]):
        pre = f"blocks.{l}"
        x_v = layer_norm(ps, f"{pre}.ln1", resid, c["layerNorm"])
        if c["positions"] == "shortformer":
            # Shortformer as TransformerLens' TransformerBlock: positions are added to the
            # normalised query/key input (ln1(resid) + W_pos); values see ln1(resid) alone.
            x_qk = x_v + ps["pos_embed.W_pos"][:T]
        elif c["positions"] == "shortformer-pre-ln":
            # icl-lab 0.1's convention: positions added before ln1 (ln1(resid + W_pos)).
            x_qk = layer_norm(ps, f"{pre}.ln1", resid + ps["pos_embed.W_pos"][:T], c["layerNorm"])
        else:
            x_qk = x_v

        def heads(x, m):  # x @ W + b, split into [B, H, T, D]
            y = x @ ps[f"{pre}.attn.W_{m}"] + ps[f"{pre}.attn.b_{m}"]
            return y.reshape(B, T, H, D).permute(0, 2, 1, 3)

        q, k, v = heads(x_qk, "Q"), heads(x_qk, "K"), heads(x_v, "V")
        if c["positions"] == "rotary":
            q, k = rotate(q, T, D), rotate(k, T, D)
        if c["smearedKeys"]:
            # k_j <- s*k_j + (1-s)*k_{j-1} per head (s = sigmoid(alpha_h)); position 0 keeps its key.
            s = torch.sigmoid(ps[f"{pre}.attn.smear_alpha"]).reshape(1, H, 1, 1)
            prev = torch.cat([k[:, :, :1], k[:, :, :-1]], dim=2)
            k = s * k + (1 - s) * prev
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)  # [B, H, Tq, Tk]
        scores = scores.masked_fill(~causal, float("-inf"))
        z = torch.softmax(scores, dim=-1) @ v  # [B, H, T, D]
        z = z.permute(0, 2, 1, 3).reshape(B, T, H * D)
        resid = resid + z @ ps[f"{pre}.attn.W_O"] + ps[f"{pre}.attn.b_O"]
        if with_mlp:
            x = layer_norm(ps, f"{pre}.ln2", resid, c["layerNorm"])
            h = F.gelu(x @ ps[f"{pre}.mlp.W_in"] + ps[f"{pre}.mlp.b_in"], approximate="tanh")
            resid = resid + h @ ps[f"{pre}.mlp.W_out"] + ps[f"{pre}.mlp.b_out"]
    x = layer_norm(ps, "ln_final", resid, c["layerNorm"])
    return x @ ps["unembed.W_U"] + ps["unembed.b_U"]


def mlp_only_params(ps, c):
    ps.normal("embed.W_E", [c["dVocab"], c["dModel"]])
    for l in range(c["nLayers"]):
        mlp_params(ps, c, l)
    unembed_params(ps, c, c["dModel"])


def mlp_only_forward(ps, c, tokens):
    resid = F.embedding(tokens, ps["embed.W_E"])
    for l in range(c["nLayers"]):
        pre = f"blocks.{l}"
        x = layer_norm(ps, f"{pre}.ln2", resid, c["layerNorm"])
        h = F.gelu(x @ ps[f"{pre}.mlp.W_in"] + ps[f"{pre}.mlp.b_in"], approximate="tanh")
        resid = resid + h @ ps[f"{pre}.mlp.W_out"] + ps[f"{pre}.mlp.b_out"]
    x = layer_norm(ps, "ln_final", resid, c["layerNorm"])
    return x @ ps["unembed.W_U"] + ps["unembed.b_U"]


def recurrent_forward(ps, c, tokens, cell):
    """nn.LSTM / nn.RNN (zero initial states) run on our weights, bias_hh held at zero.

    The module's Parameters are replaced by plain tensors computed from ours (transposes), so
    autograd carries the gradients back to our layout.
    """
    H, L = c["dHidden"], c["nLayers"]
    Mod = torch.nn.LSTM if cell == "lstm" else torch.nn.RNN
    kwargs = {} if cell == "lstm" else {"nonlinearity": "tanh"}
    mod = Mod(c["dModel"], H, num_layers=L, bias=True, batch_first=True, **kwargs).to(DTYPE)
    # Replace the module's Parameters by tensors computed from ours, so autograd reaches ours.
    for l in range(L):
        for attr in (f"weight_ih_l{l}", f"weight_hh_l{l}", f"bias_ih_l{l}", f"bias_hh_l{l}"):
            delattr(mod, attr)
        setattr(mod, f"weight_ih_l{l}", ps[f"{cell}.{l}.W_ih"].t())
        setattr(mod, f"weight_hh_l{l}", ps[f"{cell}.{l}.W_hh"].t())
        setattr(mod, f"bias_ih_l{l}", ps[f"{cell}.{l}.b"])
        setattr(mod, f"bias_hh_l{l}", torch.zeros_like(ps[f"{cell}.{l}.b"]))
    mod._flat_weights = [getattr(mod, n) for n in mod._flat_weights_names]
    x = F.embedding(tokens, ps["embed.W_E"])  # [B, T, dModel]
    hs, _ = mod(x)  # zero initial states
    return hs @ ps["unembed.W_U"] + ps["unembed.b_U"]


# ---- cases -------------------------------------------------------------------------------------

ATTN_DEFAULTS = {"initScale": 1, "positions": "shortformer", "smearedKeys": False, "layerNorm": True}

CASES = [
    ("attn-only", 1, {"kind": "attn-only", "nLayers": 2, "dModel": 16, "nHeads": 2, "dHead": 8, "nCtx": 8, "dVocab": 13}),
    ("attn-only-shortformer-pre-ln", 1, {"kind": "attn-only", "nLayers": 2, "dModel": 16, "nHeads": 2, "dHead": 8, "nCtx": 8,
                                         "dVocab": 13, "positions": "shortformer-pre-ln"}),
    ("attn-only-rotary-smeared", 2, {"kind": "attn-only", "nLayers": 2, "dModel": 16, "nHeads": 2, "dHead": 8,
                                     "nCtx": 8, "dVocab": 13, "positions": "rotary", "smearedKeys": True}),
    ("transformer-learned", 3, {"kind": "transformer", "nLayers": 2, "dModel": 8, "nHeads": 2, "dHead": 4,
                                "dMlp": 16, "nCtx": 8, "dVocab": 13, "positions": "learned"}),
    ("mlp-only-no-ln", 4, {"kind": "mlp-only", "nLayers": 2, "dModel": 8, "dMlp": 16, "nCtx": 8, "dVocab": 13,
                           "layerNorm": False}),
    ("lstm", 5, {"kind": "lstm", "nLayers": 2, "dModel": 8, "dHidden": 8, "nCtx": 8, "dVocab": 13}),
    ("rnn", 6, {"kind": "rnn", "nLayers": 2, "dModel": 8, "dHidden": 8, "nCtx": 8, "dVocab": 13}),
]
BATCH = 2


def full_config(c):
    if c["kind"] in ("attn-only", "transformer"):
        return {**ATTN_DEFAULTS, **c}
    if c["kind"] == "mlp-only":
        return {"initScale": 1, "layerNorm": True, **c}
    return {"initScale": 1, **c}


def run_case(name, seed, config):
    c = full_config(config)
    ps = Params(seed)
    kind = c["kind"]
    if kind in ("attn-only", "transformer"):
        attention_params(ps, c, kind == "transformer")
        forward = lambda tok: attention_forward(ps, c, tok, kind == "transformer")
    elif kind == "mlp-only":
        mlp_only_params(ps, c)
        forward = lambda tok: mlp_only_forward(ps, c, tok)
    else:
        recurrent_params(ps, c, kind)
        forward = lambda tok: recurrent_forward(ps, c, tok, kind)
    T, V = c["nCtx"], c["dVocab"]
    tokens = torch.randint(0, V, (BATCH, T), generator=ps.gen)
    targets = torch.randint(0, V, (BATCH, T), generator=ps.gen)
    logits = forward(tokens)
    assert logits.shape == (BATCH, T, V), logits.shape
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="mean")
    loss.backward()

    def num(v, digits):
        return float(f"{v:.{digits}g}")

    params, grads = {}, {}
    for n, p in ps.p.items():
        params[n] = {"shape": list(p.shape), "data": [num(v, WEIGHT_DIGITS) for v in p.detach().flatten().tolist()]}
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        grads[n] = {"shape": list(p.shape), "data": [num(v, GRAD_DIGITS) for v in g.flatten().tolist()]}
    return {
        "_comment": "Generated by scripts/golden/make_golden.py (PyTorch, float64 from float32-exact weights); do not edit.",
        "torch": torch.__version__,
        "seed": seed,
        "config": c,
        "batch": BATCH,
        "tokens": tokens.flatten().tolist(),
        "targets": targets.flatten().tolist(),
        "loss": num(loss.item(), GRAD_DIGITS),
        "logits_sample": [num(v, GRAD_DIGITS) for v in logits.detach().reshape(-1, V)[0].tolist()],
        "params": params,
        "grads": grads,
    }


def dump(obj):
    """JSON with one line per tensor, so diffs stay readable."""
    lines = ["{"]
    items = list(obj.items())
    for i, (k, v) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        if k in ("params", "grads"):
            lines.append(f"  {json.dumps(k)}: {{")
            sub = list(v.items())
            for j, (n, t) in enumerate(sub):
                s2 = "," if j < len(sub) - 1 else ""
                lines.append(f"    {json.dumps(n)}: {json.dumps(t, separators=(',', ':'))}{s2}")
            lines.append(f"  }}{sep}")
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}{sep}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    only = set(sys.argv[1:])
    for name, seed, config in CASES:
        if only and name not in only:
            continue
        obj = run_case(name, seed, config)
        path = os.path.join(OUT_DIR, f"{name}.json")
        with open(path, "w") as f:
            f.write(dump(obj))
        n = sum(len(t["data"]) for t in obj["params"].values())
        print(f"{path}: {n} parameters, loss {obj['loss']:.6f}, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
