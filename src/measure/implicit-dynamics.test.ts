/**
 * The implicit dynamics on in-context regression (src/measure/implicit-dynamics.ts): the float64
 * probes against the engine's forward, the identity (patched no-context prediction = the model with
 * i examples, and implicit-update's every-position check on vector inputs, ≤ 1e-10) and its failure
 * for wrong patches, the example gradients against finite differences, and the curves' shapes.
 * Tiny random models on the reference kernels, float64.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { noGrad, releaseGraph } from "../engine/tensor.ts";
import { type RegressionFormat, queryPosition, sampleRegression, sequenceOf } from "../data/synthetic/regression.ts";
import { parseModelConfig } from "../model/config.ts";
import { buildVectorModel, type VectorModel } from "../model/vector-input.ts";
import { Rng } from "../util/random.ts";
import { useReference } from "./testutil.ts";
import { exactPatch, identityCheck, patchFrom, type PatchFn } from "./implicit-update.ts";
import { type BlockProbe, gdCurve, implicitDynamics, recurrentProbe, sequenceDynamics, transformerProbe } from "./implicit-dynamics.ts";

useReference();

const D = 2,
  N = 5;

function randomVectorModel(kind: "transformer" | "lstm" | "rnn", format: RegressionFormat, overrides: Record<string, unknown> = {}, seed = 1): VectorModel {
  const nCtx = format === "paired" ? N + 1 : 2 * N + 1;
  const base =
    kind === "transformer"
      ? { kind, nLayers: 1, dModel: 8, nHeads: 2, dHead: 4, dMlp: 12, nCtx, dVocab: 2, positions: "learned" }
      : { kind, nLayers: 1, dModel: 8, dHidden: 6, nCtx, dVocab: 2 };
  const model = buildVectorModel(parseModelConfig({ ...base, ...overrides }), { dIn: D + 1, seed });
  const rng = new Rng(seed + 100);
  for (const [name, p] of model.params) {
    const gain = /ln\d?\.w$|ln_final\.w$/.test(name);
    for (let i = 0; i < p.size; i++) p.data[i] = gain ? 1 + 0.3 * rng.normal() : 0.5 * rng.normal();
  }
  return model;
}

const batch = (format: RegressionFormat, n = 2, seed = 0) => sampleRegression({ dim: D, context: N, format }, n, new Rng(seed));

const VARIANTS: Array<[string, "transformer" | "lstm" | "rnn", RegressionFormat, Record<string, unknown>]> = [
  ["transformer, paired, no positions", "transformer", "paired", { positions: "none" }],
  ["transformer, interleaved, learned positions", "transformer", "interleaved", {}],
  ["transformer, paired, no layer norm", "transformer", "paired", { layerNorm: false }],
  ["lstm, paired", "lstm", "paired", {}],
  ["rnn, interleaved", "rnn", "interleaved", {}],
];

function probeOf(model: VectorModel, s: ReturnType<typeof batch>): BlockProbe {
  return model.config.kind === "transformer" ? transformerProbe(model, s).probe : recurrentProbe(model, s);
}

for (const [name, kind, format, overrides] of VARIANTS) {
  test(`the float64 probe's prediction with every example equals the engine's forward (${name})`, () => {
    const model = randomVectorModel(kind, format, overrides);
    const b = batch(format);
    const t = queryPosition(format, N);
    const engine = noGrad(() => {
      const { logits } = model.forward(b.inputs, b.batch, { positions: Int32Array.of(t, b.T + t) });
      const out = [logits.data[0], logits.data[2]];
      releaseGraph();
      return out;
    });
    for (let s = 0; s < 2; s++) {
      const p = probeOf(model, sequenceOf(b, s)).direct(N);
      assert.ok(Math.abs(p - engine[s]) < 1e-4 * (1 + Math.abs(p)), `sequence ${s}: float64 ${p} vs engine ${engine[s]}`);
    }
  });

  test(`the patched no-context prediction equals the model with i examples, ≤ 1e-10 (${name})`, () => {
    const model = randomVectorModel(kind, format, overrides);
    const b = batch(format, 3, 1);
    for (let s = 0; s < 3; s++) {
      const q = sequenceOf(b, s);
      const d = sequenceDynamics(probeOf(model, q), q);
      assert.ok(d.identity <= 1e-10, `identity residual ${d.identity}`);
      assert.equal(d.normDW[0], 0, "no context, no update");
      assert.equal(d.icl.length, N + 1);
      assert.equal(d.marginal.length, N);
      assert.ok(Math.abs(d.marginal[0] - d.normDW[1]) < 1e-12, "the first marginal update is ΔW(1)");
      assert.ok(
        d.normDW.slice(1).every((v) => v > 0),
        "the context moves W",
      );
      assert.ok(
        d.cosine.every((c) => Math.abs(c) <= 1 + 1e-12),
        "cosines are cosines",
      );
    }
  });

  test(`explicit GD's example gradient agrees with finite differences (${name})`, () => {
    const model = randomVectorModel(kind, format, overrides);
    const q = sequenceOf(batch(format, 1, 2), 0);
    const probe = probeOf(model, q);
    const j = 2;
    const g = probe.exampleGrad(j, probe.W);
    // ½(ŷ_j − y_j)² with example j read as the query of its own sequence, without context.
    const asQuery = probeOf(model, withQuery(q, j));
    const halfLoss = (W: Float64Array) => 0.5 * (asQuery.predictQuery(W, null) - q.targets[j - 1]) ** 2;
    const h = 1e-6,
      cols = probe.cols;
    for (const idx of [0, Math.floor((probe.rows * cols) / 2) + 1, probe.rows * cols - 1]) {
      const analytic = g.u[Math.floor(idx / cols)] * g.delta[idx % cols];
      const Wp = Float64Array.from(probe.W),
        Wm = Float64Array.from(probe.W);
      Wp[idx] += h;
      Wm[idx] -= h;
      const numeric = (halfLoss(Wp) - halfLoss(Wm)) / (2 * h);
      assert.ok(Math.abs(analytic - numeric) <= 1e-7 + 1e-5 * Math.abs(numeric), `W[${idx}]: analytic ${analytic} vs numeric ${numeric}`);
    }
  });
}

/** The sequence with its query token replaced by example j's (x_j, 0). */
function withQuery(q: ReturnType<typeof batch>, j: number): ReturnType<typeof batch> {
  const D1 = q.dIn,
    t = queryPosition(q.format, q.context);
  const inputs = Float32Array.from(q.inputs);
  inputs.fill(0, t * D1, (t + 1) * D1);
  for (let e = 0; e < D1 - 1; e++) inputs[t * D1 + e] = q.xs[(j - 1) * (D1 - 1) + e];
  return { ...q, inputs };
}

test("implicit-update's every-position identity holds on vector inputs (≤ 1e-10) and fails for wrong patches", () => {
  for (const [, kind, format, overrides] of VARIANTS.filter((v) => v[1] === "transformer")) {
    const model = randomVectorModel(kind, format, overrides);
    const { net, trace } = transformerProbe(model, sequenceOf(batch(format), 0));
    const ok = identityCheck(net, trace, 0);
    assert.ok(ok.block <= 1e-10 && ok.logits <= 1e-10, `identity ${ok.block}, ${ok.logits}`);
    const wrongLeft: PatchFn = (n, parts, l) => patchFrom(n, l, parts.u0, parts.uC, parts.uC, exactPatch(n, parts, l).db);
    const noDb: PatchFn = (n, parts, l) => ({ ...exactPatch(n, parts, l), db: new Float64Array(n.d) });
    for (const wrong of [wrongLeft, noDb]) {
      const bad = identityCheck(net, trace, 0, wrong);
      assert.ok(bad.block > 1e-3, `a wrong patch must fail the check, residual ${bad.block}`);
    }
  }
});

test("the query-level identity fails without the residual patch Δb (transformer)", () => {
  const model = randomVectorModel("transformer", "paired", { positions: "none" });
  const q = sequenceOf(batch("paired"), 0);
  const probe = transformerProbe(model, q).probe;
  const broken: BlockProbe = { ...probe, db: () => null };
  assert.ok(sequenceDynamics(broken, q).identity > 1e-3);
});

test("gdCurve() stays at the no-context loss with rate 0 and moves with a positive rate", () => {
  const model = randomVectorModel("lstm", "paired");
  const q = sequenceOf(batch("paired"), 0);
  const probe = recurrentProbe(model, q);
  const flat = gdCurve(probe, q, 0);
  assert.equal(flat.length, N + 1);
  assert.ok(flat.every((v) => v === flat[0]));
  const moved = gdCurve(probe, q, 0.1);
  assert.equal(moved[0], flat[0]);
  assert.notEqual(moved[N], flat[0]);
});

test("implicitDynamics() summarises a batch: curve lengths, identities, the tuned rate from the grid", () => {
  const model = randomVectorModel("transformer", "paired", { positions: "none" });
  const s = implicitDynamics(model, batch("paired", 3, 4), { lrGrid: [0.01, 0.1] });
  assert.equal(s.kind, "transformer");
  for (const k of ["icl", "iclDwOnly", "gdDherin", "gdTuned", "leastSquares", "normDW"] as const) assert.equal(s[k].length, N + 1, k);
  assert.equal(s.marginal.length, N);
  assert.ok(s.identityQuery <= 1e-10 && s.identityAll !== null && s.identityAll <= 1e-10);
  assert.ok([0.01, 0.1].includes(s.tunedLr));
  assert.ok(s.randomCosine > 0 && s.randomCosine < 1);
});
