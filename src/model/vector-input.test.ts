import assert from "node:assert/strict";
import { test } from "node:test";
import * as op from "../engine/ops/index.ts";
import { nativeKernelsOrNull, useBackend } from "../engine/backend.ts";
import type { Kernels } from "../engine/kernels.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { noGrad, releaseGraph, tensor, withPrecision } from "../engine/tensor.ts";
import { parseModelConfig, type ModelConfig } from "./config.ts";
import { buildModel } from "./model.ts";
import { buildVectorModel, type VectorModel } from "./vector-input.ts";

const V = 5,
  T = 5,
  B = 2,
  D_IN = 3;

/** The four architectures of the classification experiment, tiny. */
const CONFIGS: Record<string, ModelConfig> = {
  "attn-only": parseModelConfig({ kind: "attn-only", nLayers: 2, dModel: 8, nHeads: 2, dHead: 4, nCtx: 8, dVocab: V, positions: "learned" }),
  transformer: parseModelConfig({ kind: "transformer", nLayers: 2, dModel: 8, nHeads: 2, dHead: 4, dMlp: 12, nCtx: 8, dVocab: V, positions: "shortformer" }),
  lstm: parseModelConfig({ kind: "lstm", nLayers: 2, dModel: 6, dHidden: 7, nCtx: 8, dVocab: V }),
  rnn: parseModelConfig({ kind: "rnn", nLayers: 1, dModel: 6, dHidden: 7, nCtx: 8, dVocab: V }),
};

function inputs(seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: B * T * D_IN }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

const targets = Int32Array.of(1, 3);
const last = Int32Array.of(T - 1, 2 * T - 1);

/** Cross-entropy at each sequence's last position. */
function loss(model: VectorModel, x: Float32Array | ReturnType<typeof tensor>) {
  return op.crossEntropy(model.forward(x, B, { positions: last }).logits, targets);
}

for (const [name, config] of Object.entries(CONFIGS)) {
  test(`forwardEmbeddings() of the token embeddings is forward() of the tokens, bit for bit (${name})`, () => {
    const model = buildModel(config, 3);
    const tokens = Int32Array.of(0, 4, 2, 2, 1, 3, 3, 0, 1, 4);
    noGrad(() => {
      const a = model.forward(tokens, B).logits.data.slice();
      const emb = op.embedding(model.params.get("embed.W_E")!, tokens, [B, T]);
      const b = model.forwardEmbeddings!(emb).logits.data.slice();
      assert.deepEqual(Array.from(b), Array.from(a));
    });
    releaseGraph();
  });

  test(`vector-input gradients (inputs and every parameter) match finite differences, float64 reference kernels (${name})`, () => {
    const prev = useBackend(referenceKernels);
    try {
      withPrecision(Float64Array, () => {
        const model = buildVectorModel(config, { dIn: D_IN, seed: 1 });
        assert.ok(!model.params.has("embed.W_E"), "the unused token embedding is not trained");
        assert.ok(model.params.has("input.W_in") && model.params.has("input.b_in"));
        const x = tensor(inputs(7), [B, T, D_IN], { requiresGrad: true });
        loss(model, x).backward();
        const checks: Array<{ what: string; data: Float32Array | Float64Array; grad: Float64Array }> = [
          { what: "x", data: x.data, grad: Float64Array.from(x.grad!) },
        ];
        for (const [pname, p] of model.params) checks.push({ what: pname, data: p.data, grad: Float64Array.from(p.grad ?? new Float64Array(p.size)) });
        releaseGraph();
        const h = 1e-6;
        for (const c of checks) {
          // Up to 6 elements per tensor, spread over it.
          const n = c.data.length;
          for (const i of new Set([0, Math.floor(n / 5), Math.floor(n / 2), Math.floor((3 * n) / 4), n - 1])) {
            const orig = c.data[i];
            c.data[i] = orig + h;
            const lp = noGrad(() => loss(model, x).item());
            c.data[i] = orig - h;
            const lm = noGrad(() => loss(model, x).item());
            c.data[i] = orig;
            releaseGraph();
            const numeric = (lp - lm) / (2 * h);
            assert.ok(Math.abs(c.grad[i] - numeric) <= 1e-6 + 1e-5 * Math.abs(numeric), `${name} ${c.what}[${i}]: analytic ${c.grad[i]} vs numeric ${numeric}`);
          }
        }
      });
    } finally {
      useBackend(prev ?? referenceKernels);
    }
  });

  test(`vector-input logits and gradients agree between the native and the reference kernels (${name})`, (t) => {
    const native = nativeKernelsOrNull().kernels;
    if (native === null) {
      t.skip("the native addon is not built");
      return;
    }
    const run = (k: Kernels) => {
      const prev = useBackend(k);
      try {
        const model = buildVectorModel(config, { dIn: D_IN, seed: 2 });
        const { logits } = model.forward(inputs(11), B);
        const out = logits.data.slice();
        const l = op.crossEntropy(op.gatherRows(op.reshape(logits, [B * T, V]), last), targets);
        l.backward();
        const grads = new Map([...model.params].map(([n, p]) => [n, p.grad!.slice()]));
        releaseGraph();
        return { out, grads };
      } finally {
        useBackend(prev ?? referenceKernels);
      }
    };
    const a = run(referenceKernels),
      b = run(native);
    const close = (x: number, y: number) => Math.abs(x - y) <= 1e-5 + 1e-4 * Math.abs(y);
    a.out.forEach((v, i) => assert.ok(close(b.out[i], v), `logit ${i}: native ${b.out[i]} vs reference ${v}`));
    for (const [n, g] of a.grads) g.forEach((v, i) => assert.ok(close(b.grads.get(n)![i], v), `${n}[${i}]: native ${b.grads.get(n)![i]} vs reference ${v}`));
  });
}

test("buildVectorModel() leaves the wrapped model's parameters those of buildModel() for the seed", () => {
  const m = buildVectorModel(CONFIGS["attn-only"], { dIn: D_IN, seed: 4 });
  const ref = buildModel(CONFIGS["attn-only"], 4);
  for (const [n, p] of ref.params) assert.deepEqual(Array.from(m.model.params.get(n)!.data), Array.from(p.data), n);
});

test("VectorModel.forward() names the expected shape when the input does not fit", () => {
  const m = buildVectorModel(CONFIGS.rnn, { dIn: D_IN, seed: 0 });
  assert.throws(() => m.forward(new Float32Array(7), 2), /'x' must have shape \[B=2, T, dIn=3\]/);
  assert.throws(() => buildVectorModel(CONFIGS.rnn, { dIn: 0 }), /'dIn' must be a positive integer/);
});
