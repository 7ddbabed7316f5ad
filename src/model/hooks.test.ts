/**
 * Hook points: every name hooks.ts lists for a model is captured, with TransformerLens' shapes;
 * the captured tensors are what their names say (scores soften to the pattern, z·W_O + b_O is the
 * attention output, the residual stream adds up); an unknown name is an error naming the hooks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as op from "../engine/ops/index.ts";
import { noGrad, releaseGraph } from "../engine/tensor.ts";
import { parseModelConfig, type ModelConfig } from "./config.ts";
import { blockHooks, hookNames } from "./hooks.ts";
import { buildModel } from "./model.ts";

const V = 9,
  T = 5,
  B = 2,
  d = 8,
  H = 2,
  D = 4;
const configs: Record<string, unknown> = {
  "attn-only shortformer": { kind: "attn-only", nLayers: 2, dModel: d, nHeads: H, dHead: D, nCtx: 8, dVocab: V },
  "transformer learned": { kind: "transformer", nLayers: 1, dModel: d, nHeads: H, dHead: D, dMlp: 12, nCtx: 8, dVocab: V, positions: "learned" },
  "attn-only rotary, no LN": { kind: "attn-only", nLayers: 1, dModel: d, nHeads: H, dHead: D, nCtx: 8, dVocab: V, positions: "rotary", layerNorm: false },
  "mlp-only": { kind: "mlp-only", nLayers: 1, dModel: d, dMlp: 12, nCtx: 8, dVocab: V },
  lstm: { kind: "lstm", nLayers: 2, dModel: d, dHidden: 6, nCtx: 8, dVocab: V },
};
const x = Int32Array.from({ length: B * T }, (_, i) => (i * 4 + 1) % V);

function expectedShape(name: string, c: ModelConfig): number[] {
  if (/attn\.hook_(attn_scores|pattern)$/.test(name)) return [B, H, T, T];
  if (/attn\.hook_[qkvz]$/.test(name)) return [B, T, H, D];
  if (/mlp\.hook_(pre|post)$/.test(name)) return [B, T, (c as { dMlp: number }).dMlp];
  if (/hook_h$/.test(name)) return [B, T, (c as { dHidden: number }).dHidden];
  return [B, T, d];
}

test("every hook a model lists is captured with TransformerLens' shape", () => {
  for (const [what, raw] of Object.entries(configs)) {
    const c = parseModelConfig(raw);
    const names = hookNames(c);
    noGrad(() => {
      const { cache } = buildModel(c, 2).forward(x, B, { hooks: { capture: names } });
      assert.deepEqual([...cache.keys()].sort(), [...names].sort(), what);
      for (const n of names) assert.deepEqual(cache.get(n)!.shape, expectedShape(n, c), `${what}: ${n}`);
    });
    releaseGraph();
  }
});

test("hook tensors are what their names say: softmax(scores) = pattern, z·W_O + b_O = attn_out, resid_post = resid_pre + attn_out", () => {
  const c = parseModelConfig(configs["attn-only shortformer"]);
  const m = buildModel(c, 6);
  const h = blockHooks(1);
  noGrad(() => {
    const { cache } = m.forward(x, B, { hooks: { capture: [h.attnScores, h.pattern, h.z, h.attnOut, h.residPre, h.residPost] } });
    const scores = cache.get(h.attnScores)!.data,
      pattern = cache.get(h.pattern)!.data;
    for (let r = 0; r < B * H * T; r++) {
      const i = r % T;
      let max = -Infinity,
        sum = 0;
      for (let j = 0; j <= i; j++) max = Math.max(max, scores[r * T + j]);
      for (let j = 0; j <= i; j++) sum += Math.exp(scores[r * T + j] - max);
      for (let j = 0; j < T; j++) {
        const want = j <= i ? Math.exp(scores[r * T + j] - max) / sum : 0;
        if (j > i) assert.equal(scores[r * T + j], -Infinity);
        assert.ok(Math.abs(pattern[r * T + j] - want) < 1e-5, `row ${r} key ${j}: ${pattern[r * T + j]} vs ${want}`);
      }
    }
    const z = op.reshape(cache.get(h.z)!, [B, T, H * D]);
    const out = op.add(op.matmul(z, m.params.get("blocks.1.attn.W_O")!), m.params.get("blocks.1.attn.b_O")!);
    const got = cache.get(h.attnOut)!.data,
      pre = cache.get(h.residPre)!.data,
      post = cache.get(h.residPost)!.data;
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(out.data[i] - got[i]) < 1e-5);
      assert.ok(Math.abs(pre[i] + got[i] - post[i]) < 1e-5);
    }
  });
  releaseGraph();
});

test("an unknown or old-style hook name is an error that names the model's hooks", () => {
  const m = buildModel(parseModelConfig(configs["attn-only shortformer"]), 1);
  assert.throws(
    () => m.forward(x, B, { hooks: { capture: ["blocks.0.attn.pattern"] } }),
    /unknown hook 'blocks\.0\.attn\.pattern' for a 2-layer attn-only model; expected TransformerLens names such as hook_embed, hook_pos_embed, blocks\.0\.hook_resid_pre/,
  );
  assert.throws(() => m.forward(x, B, { hooks: { capture: ["blocks.2.hook_resid_pre"] } }), /unknown hook 'blocks\.2\.hook_resid_pre'/);
});
