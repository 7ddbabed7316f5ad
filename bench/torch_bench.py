#!/usr/bin/env python3
"""PyTorch peer for `npm run bench`: the same training step (forward + backward + AdamW) on the
same configurations as icl-lab's engine, so the two are measured in one run on one machine.

The attention-only model mirrors src/model/transformer.ts: token embedding; per layer a
layer-normed shortformer attention block (positions added to the query/key inputs only), causal
softmax attention, output projection, residual add; final layer norm and unembedding. The LSTM is
nn.Embedding → nn.LSTM(num_layers=2) → nn.Linear, as src/model/recurrent.ts.

Run it as mission.md says PyTorch is fastest here:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=SkylakeX \
  OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_bench.py --config attn-2l-v4096
Prints one JSON line per precision: {"config": ..., "precision": "fp32" | "bf16", "tokens_per_s": median, "runs": [...]}.
`--precisions fp32,bf16` measures both in one process, interleaved (repeat r of fp32, then of bf16, ...);
bf16 is PyTorch's mixed precision on the CPU, `torch.autocast("cpu", dtype=torch.bfloat16)` around
the forward pass and the loss (autocast keeps the loss in fp32), master weights and AdamW in fp32.
"""
import contextlib
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class AttnOnly(nn.Module):
    def __init__(self, n_layers, d_model, n_heads, d_head, n_ctx, d_vocab):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_head
        self.W_E = nn.Embedding(d_vocab, d_model)
        self.W_pos = nn.Parameter(torch.randn(n_ctx, d_model) * 0.02)
        self.blocks = nn.ModuleList()
        for _ in range(n_layers):
            b = nn.Module()
            b.ln1 = nn.LayerNorm(d_model)
            b.q = nn.Linear(d_model, n_heads * d_head)
            b.k = nn.Linear(d_model, n_heads * d_head)
            b.v = nn.Linear(d_model, n_heads * d_head)
            b.o = nn.Linear(n_heads * d_head, d_model)
            self.blocks.append(b)
        self.ln_final = nn.LayerNorm(d_model)
        self.W_U = nn.Linear(d_model, d_vocab)

    def forward(self, tokens):
        B, T = tokens.shape
        H, D = self.n_heads, self.d_head
        resid = self.W_E(tokens)
        pos = self.W_pos[:T]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        for b in self.blocks:
            xv = b.ln1(resid)
            xqk = b.ln1(resid + pos)
            q = b.q(xqk).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
            k = b.k(xqk).view(B, T, H, D).transpose(1, 2)
            v = b.v(xv).view(B, T, H, D).transpose(1, 2)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)
            scores = scores.masked_fill(mask, float("-inf"))
            z = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * D)
            resid = resid + b.o(z)
        return self.W_U(self.ln_final(resid))


class Lstm(nn.Module):
    def __init__(self, n_layers, d_model, d_hidden, d_vocab):
        super().__init__()
        self.W_E = nn.Embedding(d_vocab, d_model)
        self.lstm = nn.LSTM(d_model, d_hidden, num_layers=n_layers, batch_first=True)
        self.W_U = nn.Linear(d_hidden, d_vocab)

    def forward(self, tokens):
        h, _ = self.lstm(self.W_E(tokens))
        return self.W_U(h)


# The configurations of bench/train.ts (keep the two in step).
CONFIGS = {
    "attn-2l-v4096": dict(kind="attn-only", n_layers=2, d_model=256, n_heads=8, d_head=32, n_ctx=512, d_vocab=4096, batch=8),
    "attn-2l-v256": dict(kind="attn-only", n_layers=2, d_model=256, n_heads=8, d_head=32, n_ctx=512, d_vocab=256, batch=8),
    "lstm-2l-v4096": dict(kind="lstm", n_layers=2, d_model=256, d_hidden=256, n_ctx=512, d_vocab=4096, batch=8),
    # The demo's 2-layer model (src/experiments/common.ts DEMO: bytes, shortformer pre-LN positions).
    "demo": dict(kind="attn-only", n_layers=2, d_model=64, n_heads=2, d_head=32, n_ctx=512, d_vocab=257, batch=2),
}


def build(c):
    if c["kind"] == "attn-only":
        return AttnOnly(c["n_layers"], c["d_model"], c["n_heads"], c["d_head"], c["n_ctx"], c["d_vocab"])
    return Lstm(c["n_layers"], c["d_model"], c["d_hidden"], c["d_vocab"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precisions", default="fp32")
    a = ap.parse_args()
    c = CONFIGS[a.config]
    precisions = a.precisions.split(",")
    for p in precisions:
        if p not in ("fp32", "bf16"):
            raise SystemExit(f"--precisions: unknown precision '{p}' (fp32 or bf16)")
    B, T, V = c["batch"], c["n_ctx"], c["d_vocab"]
    torch.manual_seed(0)
    x = torch.randint(0, V, (B, T + 1))
    runners = {}
    for p in precisions:
        torch.manual_seed(0)
        model = build(c)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)

        def step(model=model, opt=opt, p=p):
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if p == "bf16" else contextlib.nullcontext()
            with ctx:
                logits = model(x[:, :-1])
                loss = F.cross_entropy(logits.reshape(-1, V), x[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        for _ in range(a.warmup):
            step()
        runners[p] = step
    runs = {p: [] for p in precisions}
    for _ in range(a.repeats):
        for p in precisions:
            t0 = time.perf_counter()
            for _ in range(a.steps):
                runners[p]()
            runs[p].append(a.steps * B * T / (time.perf_counter() - t0))
    for p in precisions:
        print(json.dumps({"config": a.config, "precision": p, "threads": torch.get_num_threads(), "tokens_per_s": statistics.median(runs[p]), "runs": runs[p]}))


if __name__ == "__main__":
    main()
