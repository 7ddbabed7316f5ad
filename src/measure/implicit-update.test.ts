/**
 * The implicit update (Dherin et al. 2025, pre-LN residual form): the float64 forward against the
 * engine's, the identity (patched no-context model = model with context, ≤ 1e-10), its failure
 * for wrong patches, rank 1, zero update without context, and the gradient against finite
 * differences. Tiny random models, float64, a few seconds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { implicitUpdateCommand } from "../cli/implicit-update.ts";
import { UserError } from "../cli/errors.ts";
import { saveCheckpoint } from "../model/checkpoint.ts";
import { RunStore } from "../store/run-store.ts";
import { withPrecision } from "../engine/tensor.ts";
import { parseModelConfig } from "../model/config.ts";
import { buildModel, type LanguageModel } from "../model/model.ts";
import { Rng } from "../util/random.ts";
import { randomWindows, tinyModel, useReference } from "./testutil.ts";
import {
  Float64Transformer,
  exactPatch,
  identityCheck,
  implicitUpdate,
  patchFrom,
  patchParts,
  patchedBlockOutput,
  summarizeImplicitUpdates,
} from "./implicit-update.ts";

useReference();

const BASE = { kind: "transformer", nLayers: 2, dModel: 8, nHeads: 2, dHead: 4, dMlp: 12, nCtx: 12, dVocab: 10 };

/** Every parameter redrawn (layer-norm gains around 1, biases nonzero), so no term is trivially 0 or 1. */
function randomModel(overrides: Record<string, unknown> = {}, seed = 1): LanguageModel {
  const model = buildModel(parseModelConfig({ ...BASE, ...overrides }), seed);
  const rng = new Rng(seed + 100);
  for (const [name, p] of model.params) {
    const gain = /ln\d?\.w$|ln_final\.w$/.test(name);
    for (let i = 0; i < p.size; i++) p.data[i] = gain ? 1 + 0.3 * rng.normal() : 0.6 * rng.normal();
  }
  return model;
}

const VARIANTS: Array<[string, Record<string, unknown>]> = [
  ["1 layer", { nLayers: 1 }],
  ["2 layers", {}],
  ["2 layers, no layer norm", { layerNorm: false }],
  ["1 layer, no layer norm", { nLayers: 1, layerNorm: false }],
  ["learned positions", { positions: "learned" }],
  ["rotary positions", { positions: "rotary" }],
  ["shortformer-pre-ln, smeared keys", { positions: "shortformer-pre-ln", smearedKeys: true }],
  ["no positions, 3 layers", { positions: "none", nLayers: 3 }],
];

const tokens = (T: number, seed = 0) => randomWindows(1, T, BASE.dVocab, seed);

test("the float64 forward equals the engine's forward in float64 (reference kernels)", () => {
  for (const [label, o] of VARIANTS) {
    const model = randomModel(o);
    const x = tokens(BASE.nCtx);
    const ours = new Float64Transformer(model).forward(x).logits;
    // The engine's model in float64: the same parameters in Float64Array buffers.
    const ref = withPrecision(Float64Array, () => {
      const m64 = buildModel(model.config, 0);
      for (const [name, p] of m64.params) p.data.set(model.params.get(name)!.data);
      return Float64Array.from(m64.forward(x, 1).logits.data);
    });
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(ref[i] - ours[i]));
    assert.ok(err < 1e-11, `${label}: max |Δlogits| ${err}`);
  }
});

test("identity: the patched no-context block equals the block with context, ≤ 1e-10 at every layer and position", () => {
  for (const [label, o] of VARIANTS) {
    const model = randomModel(o);
    const r = implicitUpdate(model, tokens(BASE.nCtx, 3));
    assert.equal(r.layers.length, model.config.nLayers);
    for (const lu of r.layers) {
      assert.ok(
        lu.identity.block <= 1e-10 && lu.identity.logits <= 1e-10,
        `${label} layer ${lu.layer}: block ${lu.identity.block}, logits ${lu.identity.logits}`,
      );
      // The patch is not trivially zero: the context changes the block.
      assert.ok(Math.max(...lu.normDW.slice(1)) > 1e-3 && Math.max(...lu.normDb.slice(1)) > 1e-3, `${label}: nonzero updates`);
    }
  }
});

test("identity fails when the patch is wrong: Δb dropped, or u_0 replaced by u_C", () => {
  const model = randomModel();
  const net = new Float64Transformer(model);
  const tr = net.forward(tokens(BASE.nCtx, 4));
  for (let l = 0; l < net.L; l++) {
    const noDb = identityCheck(net, tr, l, (n, p, layer) => ({ ...exactPatch(n, p, layer), db: new Float64Array(n.d) }));
    const uC = identityCheck(net, tr, l, (n, p, layer) =>
      patchFrom(
        n,
        layer,
        p.u0,
        p.uC,
        p.uC,
        p.aC.map((v, i) => v - p.a0[i]),
      ),
    );
    const noDw = identityCheck(net, tr, l, (n, p, layer) => ({ ...exactPatch(n, p, layer), dWin: new Float64Array(n.d * n.dMlp) }));
    for (const [name, r] of [
      ["Δb dropped", noDb],
      ["u_0 → u_C", uC],
      ["ΔW dropped", noDw],
    ] as const) {
      assert.ok(r.block > 1e-3 && r.logits > 1e-3, `layer ${l}, ${name}: block ${r.block}, logits ${r.logits}`);
    }
  }
});

test("ΔW_in is rank 1 and u_0·(W_in + ΔW_in) = u_C·W_in", () => {
  const model = randomModel();
  const net = new Float64Transformer(model);
  // Distinct tokens before t: a repeated token with a position-free value path gives a_C = a_0.
  const tr = net.forward(Int32Array.from({ length: BASE.nCtx }, (_, i) => i % BASE.dVocab));
  const { d, dMlp } = net;
  for (let l = 0; l < net.L; l++) {
    for (const t of [1, 5, BASE.nCtx - 1]) {
      const parts = patchParts(net, tr, l, t);
      const { dWin } = exactPatch(net, parts, l);
      // Every 2×2 minor vanishes.
      let scale = 0,
        minor = 0;
      for (const v of dWin) scale = Math.max(scale, Math.abs(v));
      for (let a = 0; a < d; a++)
        for (let b = a + 1; b < d; b++)
          for (let c = 0; c < dMlp; c++)
            for (let e = c + 1; e < dMlp; e++) {
              minor = Math.max(minor, Math.abs(dWin[a * dMlp + c] * dWin[b * dMlp + e] - dWin[a * dMlp + e] * dWin[b * dMlp + c]));
            }
      assert.ok(scale > 1e-3 && minor <= 1e-12 * scale * scale, `layer ${l} t ${t}: max minor ${minor}, scale ${scale}`);
      const W = net.param(`blocks.${l}.mlp.W_in`);
      for (let c = 0; c < dMlp; c++) {
        let lhs = 0,
          rhs = 0;
        for (let r = 0; r < d; r++) {
          lhs += parts.u0[r] * (W[r * dMlp + c] + dWin[r * dMlp + c]);
          rhs += parts.uC[r] * W[r * dMlp + c];
        }
        assert.ok(Math.abs(lhs - rhs) <= 1e-12, `layer ${l} t ${t} column ${c}: ${lhs} vs ${rhs}`);
      }
    }
  }
});

test("without context the update is exactly zero: position 0, and context length 0 at any query", () => {
  const model = randomModel();
  const r = implicitUpdate(model, tokens(BASE.nCtx, 6), { positions: [0, 7], draws: 2 });
  for (const lu of r.layers) {
    assert.equal(lu.normDW[0], 0);
    assert.equal(lu.normDb[0], 0);
    const [q0, q7] = lu.dynamics;
    assert.deepEqual([q0.normDW, q0.normDb, q0.marginal], [[0], [0], []]);
    assert.equal(q7.normDW[0], 0);
    assert.equal(q7.normDb[0], 0);
    assert.equal(q7.normDW.length, 8);
    assert.equal(q7.marginal.length, 7);
    // The full-context end of the dynamics is the per-position update.
    assert.ok(Math.abs(q7.normDW[7] - lu.normDW[7]) <= 1e-12 * lu.normDW[7]);
    assert.ok(Math.abs(q7.normDb[7] - lu.normDb[7]) <= 1e-12 * lu.normDb[7]);
  }
  // The patch of position 0 is exactly zero, and the patched block is the block.
  const net = new Float64Transformer(model);
  const tr = net.forward(tokens(BASE.nCtx, 6));
  const p = exactPatch(net, patchParts(net, tr, 0, 0), 0);
  assert.ok(p.dWin.every((v) => v === 0) && p.db.every((v) => v === 0));
  assert.deepEqual(Array.from(patchedBlockOutput(net, tr, 0, 0, p)), Array.from(tr.layers[0].y.subarray(0, net.d)));
});

test("the gradient through one MLP matches central finite differences (through deeper blocks, every position mode)", () => {
  for (const [label, o] of VARIANTS) {
    const model = randomModel(o, 2);
    const net = new Float64Transformer(model);
    const x = tokens(BASE.nCtx, 7);
    const tr = net.forward(x);
    const { d, dMlp } = net;
    const rng = new Rng(9);
    for (let l = 0; l < net.L; l++) {
      for (const j of [0, 4, BASE.nCtx - 2]) {
        const { u, delta } = net.mlpGradient(tr, l, j, x[j + 1]);
        const W = net.param(`blocks.${l}.mlp.W_in`);
        for (let k = 0; k < 4; k++) {
          const r = rng.int(d),
            c = rng.int(dMlp),
            eps = 1e-5;
          const lossAt = (e: number) => {
            const wIn = Float64Array.from(W);
            wIn[r * dMlp + c] += e;
            return net.loss(net.forward(x, { mlpWeights: { layer: l, position: j, wIn } }), j, x[j + 1]);
          };
          const fd = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
          const an = u[r] * delta[c];
          assert.ok(
            Math.abs(fd - an) <= 1e-7 * Math.max(1, Math.abs(an)),
            `${label} layer ${l} j ${j} W_in[${r},${c}]: analytic ${an}, finite differences ${fd}`,
          );
        }
      }
    }
  }
});

test("dynamics: cosines are in [−1, 1], the random baseline is small, the summary reads them", () => {
  const model = randomModel({ dModel: 16, dMlp: 32, nCtx: 16 });
  const results = [0, 1].map((s) => implicitUpdate(model, tokens(16, 10 + s), { positions: [15, 9], draws: 8, seed: s }));
  for (const r of results) {
    for (const lu of r.layers) {
      for (const q of lu.dynamics) {
        assert.equal(q.cosine.length, q.position);
        for (const c of q.cosine) assert.ok(Math.abs(c) <= 1 + 1e-12, `cosine ${c}`);
        for (const c of q.randomCosine) assert.ok(c >= 0 && c < 0.5, `random |cosine| ${c}`);
      }
    }
  }
  const s = summarizeImplicitUpdates(results);
  assert.equal(s.length, 2);
  for (const row of s) {
    assert.ok(row.identityLogits <= 1e-10);
    assert.ok(Number.isFinite(row.decaySlope) && Number.isFinite(row.marginalAt[1]) && Number.isFinite(row.marginalAt[10]));
    assert.ok(Number.isNaN(row.marginalAt[100]), "no query has 100 context tokens");
    // E|cos| of a random Gaussian matrix with a fixed one ≈ √(2/π)/√(dModel·dMlp) ≈ 0.035.
    assert.ok(row.randomAbsCosine > 0.01 && row.randomAbsCosine < 0.08, `random baseline ${row.randomAbsCosine}`);
  }
});

test("implicitUpdate refuses models that are not transformers, and positions outside the sequence", () => {
  assert.throws(() => implicitUpdate(tinyModel("attn-only"), tokens(8)), /must be a transformer \(attention \+ MLP\), found kind 'attn-only'/);
  assert.throws(() => implicitUpdate(randomModel(), tokens(8), { positions: [8] }), /position 8 is outside the sequence \[0, 8\)/);
});

/** A lab with one stored run of `model` (random parameters) and its checkpoint at 640 tokens. */
function labWithRun(id: string, model: LanguageModel): string {
  const lab = mkdtempSync(join(tmpdir(), "icl-implicit-"));
  const store = RunStore.open(lab);
  try {
    store.createRun({ id, kind: model.config.kind, config: { name: id, model: model.config, data: { evalWindows: 4 } } });
    const params: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, p] of model.params) params[name] = { data: Float32Array.from(p.data), shape: [...p.shape] };
    const saved = saveCheckpoint(join(store.runDir(id), "checkpoints"), 640, { params });
    store.addCheckpoint(id, { tokens: 640, step: 1, path: saved.path, sha256: saved.sha256 });
    store.setStatus(id, "finished");
  } finally {
    store.close();
  }
  return lab;
}

test("implicitUpdateCommand: a table per layer from a stored transformer run; JSON with the raw measurement", async () => {
  const model = randomModel();
  const lab = labWithRun("tf", model);
  try {
    const lines: string[] = [];
    const loadWindows = async (_c: unknown, _lab: string, n: number) => randomWindows(n + 1, BASE.nCtx + 1, BASE.dVocab, 1);
    const r = await implicitUpdateCommand({ run: "tf", lab, windows: "2", positions: "11,5" }, { log: (l) => lines.push(l), loadWindows });
    assert.equal(r.checkpoint, 640);
    assert.deepEqual(r.positions, [11, 5]);
    assert.equal(r.layers.length, 2);
    for (const s of r.layers) assert.ok(s.identityLogits <= 1e-10 && s.identityBlock <= 1e-10, JSON.stringify(s));
    const text = lines.join("\n");
    assert.match(text, /run tf at 640 tokens, 2 evaluation windows, dynamics at positions 11, 5/);
    assert.match(text, /^L0 /m);
    assert.match(text, /^L1 /m);
    const json: string[] = [];
    await implicitUpdateCommand({ run: "tf", lab, json: true }, { log: (l) => json.push(l), loadWindows });
    const parsed = JSON.parse(json.join("\n"));
    assert.deepEqual(parsed.positions, [11, 5], "default positions: nCtx − 1 and nCtx/2 − 1");
    assert.equal(parsed.results.length, 2);
  } finally {
    rmSync(lab, { recursive: true, force: true });
  }
});

test("implicitUpdateCommand refuses a run that is not a transformer, naming its kind, and bad positions", async () => {
  const lab = labWithRun("attn", tinyModel("attn-only"));
  try {
    await assert.rejects(
      implicitUpdateCommand({ run: "attn", lab }, { log: () => {} }),
      (e: Error) => e instanceof UserError && /run 'attn' is a 'attn-only' model; the implicit update needs a 'transformer'/.test(e.message),
    );
    await assert.rejects(implicitUpdateCommand({ run: "nope", lab }, { log: () => {} }), /no run 'nope'/);
  } finally {
    rmSync(lab, { recursive: true, force: true });
  }
  const lab2 = labWithRun("tf", randomModel());
  try {
    await assert.rejects(
      implicitUpdateCommand({ run: "tf", lab: lab2, positions: "12" }, { log: () => {} }),
      /--positions: 12 is outside the model's positions 0\.\.11/,
    );
  } finally {
    rmSync(lab2, { recursive: true, force: true });
  }
});
