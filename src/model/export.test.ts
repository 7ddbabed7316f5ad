/**
 * Export: names and shapes as documented in export.ts, export → load round trips to identical
 * logits for every kind, a run's checkpoint exports through the runs store, and
 * scripts/check_export.py (what TransformerLens computes from the exported files, written from
 * TransformerLens' source; PyTorch's modules for recurrent models) gets the same logits and
 * per-position losses — and different ones when the config names the wrong convention. Positions
 * "shortformer-pre-ln" go through TransformerLens' split q/k/v inputs with the documented
 * `pre_ln_positions` hook extension; without it the reference refuses or disagrees.
 *
 * The PyTorch checks skip when /usr/bin/python3 cannot import torch and numpy, unless $CI is set
 * or ICL_LAB_REQUIRE_TOOLS=1: then they fail.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { useBackend } from "../engine/backend.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { noGrad, releaseGraph } from "../engine/tensor.ts";
import { Rng } from "../util/random.ts";
import { loadTensors, saveTensors } from "./safetensors.ts";
import { parseModelConfig } from "./config.ts";
import { buildModel, type LanguageModel } from "./model.ts";
import { exportModel, exportRun, exportedShapes, loadExported, transformerLensConfig } from "./export.ts";
import { lossesAt } from "../measure/position-loss.ts";
import { writeWindowsNpy } from "../measure/windows-file.ts";
import { train } from "../train/train.ts";
import { syntheticData } from "../train/fixtures/synthetic-data.ts";
import { skipOrFail } from "../util/test-env.ts";

useBackend(referenceKernels);

const tmp = mkdtempSync(join(tmpdir(), "icl-export-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const script = fileURLToPath(new URL("../../scripts/check_export.py", import.meta.url));

// Dimensions all different, so a swapped axis cannot go unnoticed.
const attn = { nLayers: 2, dModel: 10, nHeads: 3, dHead: 4, nCtx: 7, dVocab: 11 };
const CASES: Record<string, unknown> = {
  "attn-only-shortformer": { kind: "attn-only", ...attn },
  "attn-only-learned": { kind: "attn-only", ...attn, positions: "learned" },
  "attn-only-rotary": { kind: "attn-only", ...attn, positions: "rotary" },
  "attn-only-smeared-shortformer": { kind: "attn-only", ...attn, smearedKeys: true },
  "attn-only-smeared-rotary": { kind: "attn-only", ...attn, positions: "rotary", smearedKeys: true },
  "attn-only-none-noln": { kind: "attn-only", ...attn, positions: "none", layerNorm: false },
  "transformer-learned": { kind: "transformer", ...attn, dMlp: 6, positions: "learned" },
  "transformer-shortformer-smeared": { kind: "transformer", ...attn, dMlp: 6, smearedKeys: true },
  "attn-only-shortformer-pre-ln": { kind: "attn-only", ...attn, positions: "shortformer-pre-ln" },
  "transformer-shortformer-pre-ln-smeared": { kind: "transformer", ...attn, dMlp: 6, positions: "shortformer-pre-ln", smearedKeys: true },
  "attn-only-shortformer-pre-ln-noln": { kind: "attn-only", ...attn, positions: "shortformer-pre-ln", layerNorm: false },
  "mlp-only": { kind: "mlp-only", nLayers: 2, dModel: 10, dMlp: 6, nCtx: 7, dVocab: 11 },
  lstm: { kind: "lstm", nLayers: 2, dModel: 10, dHidden: 5, nCtx: 7, dVocab: 11 },
  rnn: { kind: "rnn", nLayers: 2, dModel: 10, dHidden: 5, nCtx: 7, dVocab: 11 },
};

/** A model whose every parameter (biases, norms, α too) is random, so every layout is exercised. */
function randomModel(config: unknown, seed: number): LanguageModel {
  const model = buildModel(parseModelConfig(config), seed);
  const rng = new Rng(seed + 100);
  for (const p of model.params.values()) for (let i = 0; i < p.size; i++) p.data[i] = 0.4 * rng.normal() + (p.name?.endsWith(".w") ? 1 : 0);
  return model;
}

const BATCH = 2,
  T = 7;
function tokensFor(seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: BATCH * T }, () => rng.int(11));
}

function logits(model: LanguageModel, tokens: Int32Array): Float32Array {
  const out = noGrad(() => Float32Array.from(model.forward(tokens, BATCH).logits.data));
  releaseGraph();
  return out;
}

test("attention models export TransformerLens names and shapes; W_Q splits heads as documented", () => {
  const model = randomModel({ ...(CASES["attn-only-smeared-rotary"] as object), positions: "shortformer" }, 1);
  const dir = join(tmp, "names");
  exportModel(model, dir);
  const { tensors, metadata } = loadTensors(join(dir, "model.safetensors"));
  const H = 3,
    d = 10,
    D = 4;
  const want: Record<string, number[]> = {
    "embed.W_E": [11, d],
    "pos_embed.W_pos": [7, d],
    "ln_final.w": [d],
    "ln_final.b": [d],
    "unembed.W_U": [d, 11],
    "unembed.b_U": [11],
  };
  for (const l of [0, 1]) {
    Object.assign(want, {
      [`blocks.${l}.ln1.w`]: [d],
      [`blocks.${l}.ln1.b`]: [d],
      [`blocks.${l}.attn.W_Q`]: [H, d, D],
      [`blocks.${l}.attn.W_K`]: [H, d, D],
      [`blocks.${l}.attn.W_V`]: [H, d, D],
      [`blocks.${l}.attn.b_Q`]: [H, D],
      [`blocks.${l}.attn.b_K`]: [H, D],
      [`blocks.${l}.attn.b_V`]: [H, D],
      [`blocks.${l}.attn.W_O`]: [H, D, d],
      [`blocks.${l}.attn.b_O`]: [d],
      [`blocks.${l}.attn.smear_alpha`]: [H],
    });
  }
  assert.deepEqual(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape])), want);
  // TL W_Q[h, i, j] = ours W_Q[i, h·D + j]; W_O [H·D, d] → [H, D, d] keeps the order.
  const ours = model.params.get("blocks.1.attn.W_Q")!.data,
    theirs = tensors["blocks.1.attn.W_Q"].data;
  for (const [h, i, j] of [
    [0, 0, 0],
    [2, 9, 3],
    [1, 4, 2],
  ])
    assert.equal(theirs[(h * d + i) * D + j], ours[i * H * D + h * D + j]);
  assert.deepEqual(Array.from(tensors["blocks.0.attn.W_O"].data as Float32Array), Array.from(model.params.get("blocks.0.attn.W_O")!.data));
  assert.equal(metadata.layout, "transformer_lens");

  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  assert.deepEqual(cfg.transformer_lens, {
    model_name: "icl-lab-attn-only-2l",
    n_layers: 2,
    d_model: 10,
    n_heads: 3,
    d_head: 4,
    d_mlp: null,
    n_ctx: 7,
    d_vocab: 11,
    d_vocab_out: 11,
    act_fn: null,
    normalization_type: "LN",
    positional_embedding_type: "shortformer",
    rotary_dim: null,
    rotary_base: 10000,
    rotary_adjacent_pairs: false,
    attn_only: true,
    eps: 1e-5,
    use_attn_scale: true,
    attn_scale: 2,
    default_prepend_bos: false,
  });
  assert.equal(cfg.model.kind, "attn-only");
  assert.match(cfg.extensions.smear_alpha, /sigmoid/);
});

test("transformerLensConfig() names TransformerLens' type for each positions and gelu_new for op.gelu (tanh)", () => {
  const tl = (extra: object) => transformerLensConfig(parseModelConfig({ kind: "transformer", ...attn, dMlp: 6, ...extra }))!;
  assert.deepEqual(
    ["shortformer", "learned", "rotary", "none", "shortformer-pre-ln"].map((positions) => tl({ positions }).positional_embedding_type),
    ["shortformer", "standard", "rotary", "standard", "shortformer"],
  );
  // Only pre-ln positions need the split q/k/v inputs (their hook points).
  assert.deepEqual(
    ["shortformer", "learned", "rotary", "none", "shortformer-pre-ln"].map((positions) => tl({ positions }).use_split_qkv_input),
    [undefined, undefined, undefined, undefined, true],
  );
  assert.deepEqual([tl({}).act_fn, tl({}).d_mlp, tl({}).attn_only], ["gelu_new", 6, false]);
  assert.deepEqual([tl({ positions: "rotary" }).rotary_dim, tl({ positions: "rotary" }).rotary_adjacent_pairs], [4, false]);
  assert.equal(tl({ layerNorm: false }).normalization_type, null);
  assert.equal(transformerLensConfig(parseModelConfig(CASES.lstm)), null);
});

test("a shortformer-pre-ln model exports as TransformerLens shortformer: zero W_pos, split q/k/v inputs, W_pos_pre_ln and its hook documented", () => {
  const model = randomModel(CASES["attn-only-shortformer-pre-ln"], 3);
  const dir = join(tmp, "pre-ln");
  exportModel(model, dir);
  const { tensors } = loadTensors(join(dir, "model.safetensors"));
  assert.deepEqual(
    [tensors["pos_embed.W_pos"].shape, tensors["pos_embed.W_pos_pre_ln"].shape],
    [
      [7, 10],
      [7, 10],
    ],
  );
  assert.ok((tensors["pos_embed.W_pos"].data as Float32Array).every((x) => x === 0));
  assert.deepEqual(Array.from(tensors["pos_embed.W_pos_pre_ln"].data as Float32Array), Array.from(model.params.get("pos_embed.W_pos")!.data));
  assert.deepEqual(
    exportedShapes(model.config)
      .map((e) => e.name)
      .slice(0, 3),
    ["embed.W_E", "pos_embed.W_pos", "pos_embed.W_pos_pre_ln"],
  );
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  assert.equal(cfg.model.positions, "shortformer-pre-ln");
  assert.deepEqual([cfg.transformer_lens.positional_embedding_type, cfg.transformer_lens.use_split_qkv_input], ["shortformer", true]);
  assert.deepEqual(Object.keys(cfg.extensions), ["pre_ln_positions"]);
  for (const s of [
    "W_pos_pre_ln[:T] (broadcast over heads)",
    "blocks.{l}.hook_q_input",
    "blocks.{l}.hook_k_input",
    "strict=False",
    "add_hook(",
    "run_with_hooks(",
  ]) {
    assert.ok(cfg.extensions.pre_ln_positions.includes(s), s);
  }
  // A nonzero W_pos in such a folder is not what was exported: refused on load.
  const { icl_lab_sha256: _a, icl_lab_header_sha256: _b, ...meta } = loadTensors(join(dir, "model.safetensors")).metadata;
  (tensors["pos_embed.W_pos"].data as Float32Array)[5] = 0.5;
  saveTensors(join(dir, "model.safetensors"), tensors, { metadata: meta });
  assert.throws(() => loadExported(dir), /tensor 'pos_embed\.W_pos' must be zero for a model with positions "shortformer-pre-ln"/);
});

test("recurrent models export PyTorch nn.LSTM / nn.RNN names: weights transposed, bias_hh zero", () => {
  for (const kind of ["lstm", "rnn"]) {
    const model = randomModel(CASES[kind], 2);
    const dir = join(tmp, `names-${kind}`);
    exportModel(model, dir);
    const { tensors } = loadTensors(join(dir, "model.safetensors"));
    const G = kind === "lstm" ? 20 : 5;
    assert.deepEqual(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape])), {
      "embed.weight": [11, 10],
      [`${kind}.weight_ih_l0`]: [G, 10],
      [`${kind}.weight_hh_l0`]: [G, 5],
      [`${kind}.bias_ih_l0`]: [G],
      [`${kind}.bias_hh_l0`]: [G],
      [`${kind}.weight_ih_l1`]: [G, 5],
      [`${kind}.weight_hh_l1`]: [G, 5],
      [`${kind}.bias_ih_l1`]: [G],
      [`${kind}.bias_hh_l1`]: [G],
      "unembed.weight": [11, 5],
      "unembed.bias": [11],
    });
    const W = model.params.get(`${kind}.0.W_ih`)!.data; // [10, G]
    assert.equal(tensors[`${kind}.weight_ih_l0`].data[3 * 10 + 7], W[7 * G + 3]);
    assert.ok((tensors[`${kind}.bias_hh_l1`].data as Float32Array).every((x) => x === 0));
    assert.deepEqual(exportedShapes(model.config).map((e) => e.name)[1], `${kind}.weight_ih_l0`);
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    assert.deepEqual(cfg.torch[kind].kwargs, {
      input_size: 10,
      hidden_size: 5,
      num_layers: 2,
      bias: true,
      batch_first: true,
      ...(kind === "rnn" ? { nonlinearity: "tanh" } : {}),
    });
    assert.equal(cfg.transformer_lens, null);
  }
});

test("export → loadExported gives identical logits for every kind", () => {
  let seed = 10;
  for (const [name, config] of Object.entries(CASES)) {
    const model = randomModel(config, seed++);
    const dir = join(tmp, `rt-${name}`);
    writeFileSync(join(tmp, "tok.json"), '{"model": "a tokenizer"}');
    exportModel(model, dir, { tokenizerPath: join(tmp, "tok.json") });
    const back = loadExported(dir);
    assert.deepEqual(back.config, model.config, name);
    const tokens = tokensFor(seed);
    assert.deepEqual(logits(back, tokens), logits(model, tokens), name);
    assert.equal(readFileSync(join(dir, "tokenizer.json"), "utf8"), '{"model": "a tokenizer"}');
    assert.deepEqual(readFileSync(join(dir, "config.json"), "utf8").match(/\.tmp-/g), null);
  }
});

test("loadExported refuses a folder whose files disagree, and wrong shapes, naming the tensor", () => {
  const a = join(tmp, "mix-a"),
    b = join(tmp, "mix-b");
  exportModel(randomModel(CASES.lstm, 1), a);
  exportModel(randomModel(CASES.rnn, 1), b);
  writeFileSync(join(a, "config.json"), readFileSync(join(b, "config.json")));
  assert.throws(() => loadExported(a), /describe different models/);
  const c = join(tmp, "mix-c");
  exportModel(randomModel(CASES.lstm, 1), c);
  const cfg = JSON.parse(readFileSync(join(c, "config.json"), "utf8"));
  assert.throws(() => loadExported(join(tmp, "nowhere")), /config\.json does not exist/);
  const { tensors, metadata } = loadTensors(join(c, "model.safetensors"));
  const { icl_lab_sha256: _a, icl_lab_header_sha256: _b, ...meta } = metadata;
  tensors["lstm.weight_hh_l1"].shape = [5, 20];
  saveTensors(join(c, "model.safetensors"), tensors, { metadata: meta });
  assert.throws(() => loadExported(c), /tensor 'lstm\.weight_hh_l1' has shape \[5, 20\], expected \[20, 5\]/);
  delete tensors["lstm.weight_hh_l1"];
  saveTensors(join(c, "model.safetensors"), tensors, { metadata: meta });
  assert.throws(() => loadExported(c), /has no tensor 'lstm\.weight_hh_l1'/);
  cfg.format_version = 99;
  writeFileSync(join(c, "config.json"), JSON.stringify(cfg));
  assert.throws(() => loadExported(c), /version 99/);
});

test("exportRun exports a run's last (or chosen) checkpoint from the runs store", async () => {
  const lab = join(tmp, "lab");
  const r = await train(
    {
      name: "exp",
      seed: 1,
      model: { kind: "attn-only", nLayers: 1, dModel: 8, nHeads: 2, dHead: 4, nCtx: 8 },
      batch: 2,
      tokens: 16 * 6,
      checkpoints: { perDecade: 2 },
      measures: [],
    },
    { lab, progress: "none", measures: {}, data: async (c) => syntheticData({ vocab: 13, nCtx: c.model.nCtx, evalWindows: 2, seed: c.seed }) },
  );
  const out = exportRun(r.runId, { lab });
  assert.equal(out.tokens, r.tokens);
  assert.equal(out.dir, join(lab, "exports", `${r.runId}-${r.tokens}`));
  const back = loadExported(out.dir);
  const tokens = Int32Array.from({ length: 16 }, (_, i) => (i * 5) % 13);
  const want = noGrad(() => Float32Array.from(r.model.forward(tokens, 2).logits.data));
  assert.deepEqual(logits2(back, tokens), want);
  const cfg = JSON.parse(readFileSync(join(out.dir, "config.json"), "utf8"));
  assert.deepEqual([cfg.run.id, cfg.run.tokens, cfg.run.train.seed], [r.runId, r.tokens, 1]);

  const first = exportRun(r.runId, { lab, checkpoint: 16, out: join(tmp, "first") });
  assert.equal(first.tokens, 16);
  assert.throws(() => exportRun(r.runId, { lab, checkpoint: 17 }), /has no checkpoint at 17 tokens; it has 16, .*96/);
  assert.throws(() => exportRun("nope-123", { lab }), /run 'nope-123' does not exist/);
});

function logits2(model: LanguageModel, tokens: Int32Array): Float32Array {
  const out = noGrad(() => Float32Array.from(model.forward(tokens, 2).logits.data));
  releaseGraph();
  return out;
}

function torchAvailable(): string | null {
  if (!existsSync("/usr/bin/python3")) return "/usr/bin/python3 does not exist";
  const r = spawnSync("/usr/bin/python3", ["-c", "import torch, numpy"], { encoding: "utf8" });
  return r.status === 0 ? null : `PyTorch and NumPy are not importable by /usr/bin/python3 (${(r.stderr || "").trim().split("\n").pop()})`;
}

/** True when the PyTorch check can run; skips the test, or fails it when $CI or ICL_LAB_REQUIRE_TOOLS=1 asks for the check. */
function needTorch(t: TestContext): boolean {
  const why = torchAvailable();
  if (why === null) return true;
  skipOrFail(t, `${why} (install python3-torch and python3-numpy: bash scripts/install-system.sh --test)`);
  return false;
}

function spawnScript(args: string[]) {
  return spawnSync("/usr/bin/python3", [script, ...args], {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "1" },
    maxBuffer: 64 << 20,
  });
}

function runScript(args: string[]): string {
  const r = spawnScript(args);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Relative 1e-4 (of the value or of the RMS of all values, whichever is larger); the first miss, or null. */
function mismatch(ours: ArrayLike<number>, theirs: ArrayLike<number>, what: string): string | null {
  let ss = 0;
  for (let k = 0; k < theirs.length; k++) ss += theirs[k] * theirs[k];
  const rms = Math.sqrt(ss / theirs.length);
  for (let k = 0; k < theirs.length; k++) {
    const tol = 1e-4 * Math.max(Math.abs(theirs[k]), rms);
    if (!(Math.abs(ours[k] - theirs[k]) <= tol)) return `${what} ${k} is ${ours[k]}, PyTorch ${theirs[k]} (tolerance ${tol.toExponential(2)})`;
  }
  return null;
}

test("PyTorch rebuilds every kind from the exported files alone and gets our logits (relative 1e-4)", (t: TestContext) => {
  if (!needTorch(t)) return;
  const spec: Array<{ dir: string; tokens: number[]; batch: number }> = [];
  const ours: Float32Array[] = [];
  let seed = 40;
  for (const [name, config] of Object.entries(CASES)) {
    const model = randomModel(config, seed++);
    const dir = join(tmp, `torch-${name}`);
    exportModel(model, dir);
    const tokens = tokensFor(seed);
    spec.push({ dir, tokens: Array.from(tokens), batch: BATCH });
    ours.push(logits(model, tokens));
  }
  writeFileSync(join(tmp, "spec.json"), JSON.stringify(spec));
  const results = JSON.parse(runScript(["--spec", join(tmp, "spec.json")])) as Array<{ shape: number[]; logits: number[] }>;
  Object.keys(CASES).forEach((name, i) => {
    assert.deepEqual(results[i].shape, [BATCH, T, 11], name);
    assert.equal(mismatch(ours[i], results[i].logits, `${name}: logit`), null);
  });
});

test("check_export.py --windows gives our per-position loss and ICL score (relative 1e-4) on .npy windows", (t: TestContext) => {
  if (!needTorch(t)) return;
  const nCtx = 512,
    N = 3;
  const base = { kind: "transformer", nLayers: 2, dModel: 8, nHeads: 2, dHead: 4, dMlp: 6, nCtx, dVocab: 11 };
  const rng = new Rng(61);
  const windows = Int32Array.from({ length: N * (nCtx + 1) }, () => rng.int(11));
  writeWindowsNpy(join(tmp, "windows.npy"), windows, { length: nCtx + 1 });
  const models: Array<[string, object]> = [
    ["shortformer, smeared keys", { ...base, smearedKeys: true }],
    ["shortformer-pre-ln", { ...base, positions: "shortformer-pre-ln" }],
  ];
  models.forEach(([name, config], i) => {
    const model = randomModel(config, 60 + i);
    const dir = join(tmp, `windows-model-${i}`);
    exportModel(model, dir);
    const m = lossesAt(model, windows, { indices: Array.from({ length: nCtx }, (_, i) => i), batchSize: N });
    const ours = Array.from({ length: nCtx }, (_, i) => {
      let s = 0;
      for (let w = 0; w < N; w++) s += m.values[w * nCtx + i];
      return s / N;
    });
    const r = JSON.parse(runScript([dir, "--windows", join(tmp, "windows.npy"), "--windows-per-batch", "2"])) as {
      windows: number;
      positions: number;
      loss: number[];
      loss_at_49: number;
      loss_at_499: number;
      icl_score: number;
    };
    assert.deepEqual([r.windows, r.positions, r.loss.length], [N, nCtx, nCtx], name);
    assert.equal(mismatch(ours, r.loss, `${name}: loss at index`), null);
    assert.equal(mismatch([ours[49], ours[499]], [r.loss_at_49, r.loss_at_499], `${name}: loss at 49/499`), null);
    assert.ok(Math.abs(r.icl_score - (r.loss_at_499 - r.loss_at_49)) < 1e-12, name);
  });
});

test("check_export.py disagrees when config.json names the wrong convention (the check can fail)", (t: TestContext) => {
  if (!needTorch(t)) return;
  // The two GELUs differ by at most 4.4e-4 (near x = −2.5, where GELU itself is −0.015): MLP
  // pre-activations held near −3 and a large W_out make that difference visible in the logits.
  const mlpNearMinus3 = (m: LanguageModel) => {
    for (const l of [0, 1]) {
      m.params.get(`blocks.${l}.mlp.b_in`)!.data.fill(-3);
      for (const [name, f] of [
        ["W_in", 0.25],
        ["W_out", 300],
      ] as const)
        m.params.get(`blocks.${l}.mlp.${name}`)!.data.forEach((x, i, a) => {
          a[i] = x * f;
        });
    }
  };
  // Each: a model, the TransformerLens field a wrong export would write, and its wrong value.
  const wrong: Array<[string, unknown, string, unknown, ((m: LanguageModel) => void)?]> = [
    ["shortformer as standard", CASES["attn-only-shortformer"], "positional_embedding_type", "standard"],
    ["rotary as GPT-J pairs", CASES["attn-only-rotary"], "rotary_adjacent_pairs", true],
    ["tanh GELU as erf GELU", CASES["transformer-learned"], "act_fn", "gelu", mlpNearMinus3],
    ["no attention scale", CASES["attn-only-learned"], "use_attn_scale", false],
  ];
  const spec: Array<{ dir: string; tokens: number[]; batch: number }> = [];
  const ours: Float32Array[] = [];
  wrong.forEach(([name, config, field, value, tune], i) => {
    const model = randomModel(config, 70 + i);
    tune?.(model);
    const dir = join(tmp, `wrong-${i}`);
    exportModel(model, dir);
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    assert.notDeepEqual(cfg.transformer_lens[field], value, name);
    cfg.transformer_lens[field] = value;
    writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
    const tokens = tokensFor(80 + i);
    spec.push({ dir, tokens: Array.from(tokens), batch: BATCH });
    ours.push(logits(model, tokens));
  });
  writeFileSync(join(tmp, "wrong.json"), JSON.stringify(spec));
  const results = JSON.parse(runScript(["--spec", join(tmp, "wrong.json")])) as Array<{ logits: number[] }>;
  wrong.forEach(([name], i) => assert.notEqual(mismatch(ours[i], results[i].logits, "logit"), null, `${name}: the reference agreed`));
});

test("check_export.py refuses or disagrees with a shortformer-pre-ln export whose hook extension is dropped (the check can fail)", (t: TestContext) => {
  if (!needTorch(t)) return;
  const make = (name: string, seed: number) => {
    const model = randomModel(CASES["transformer-shortformer-pre-ln-smeared"], seed);
    const dir = join(tmp, `pre-ln-wrong-${name}`);
    exportModel(model, dir);
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    const { tensors, metadata } = loadTensors(join(dir, "model.safetensors"));
    const { icl_lab_sha256: _a, icl_lab_header_sha256: _b, ...meta } = metadata;
    const save = () => {
      writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
      saveTensors(join(dir, "model.safetensors"), tensors, { metadata: meta });
    };
    return { model, dir, cfg, tensors, save };
  };
  const tokens = Array.from(tokensFor(95));
  // The extension dropped from config.json, its tensor kept: TransformerLens would drop the tensor.
  const kept = make("kept", 90);
  delete kept.cfg.extensions.pre_ln_positions;
  kept.save();
  let r = spawnScript([kept.dir, "--tokens", tokens.join(","), "--batch", String(BATCH)]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unexpected tensor pos_embed\.W_pos_pre_ln/);
  // The extension kept but use_split_qkv_input false: TransformerLens has no hook_q_input to add it at.
  const noSplit = make("no-split", 91);
  noSplit.cfg.transformer_lens.use_split_qkv_input = false;
  noSplit.save();
  r = spawnScript([noSplit.dir, "--tokens", tokens.join(","), "--batch", String(BATCH)]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /use_split_qkv_input/);
  // What TransformerLens computes without the hook (the extension and its tensor dropped), and the
  // trained positions put back as TransformerLens' own shortformer W_pos (added after ln1): both differ.
  const dropped = make("dropped", 92);
  delete dropped.cfg.extensions.pre_ln_positions;
  delete dropped.tensors["pos_embed.W_pos_pre_ln"];
  dropped.save();
  const after = make("after-ln1", 93);
  delete after.cfg.extensions.pre_ln_positions;
  after.tensors["pos_embed.W_pos"] = after.tensors["pos_embed.W_pos_pre_ln"];
  delete after.tensors["pos_embed.W_pos_pre_ln"];
  after.save();
  const cases = [
    ["no hook", dropped],
    ["positions after ln1", after],
  ] as const;
  writeFileSync(join(tmp, "pre-ln-wrong.json"), JSON.stringify(cases.map(([, c]) => ({ dir: c.dir, tokens, batch: BATCH }))));
  const results = JSON.parse(runScript(["--spec", join(tmp, "pre-ln-wrong.json")])) as Array<{ logits: number[] }>;
  cases.forEach(([name, c], i) => {
    assert.notEqual(mismatch(logits(c.model, Int32Array.from(tokens)), results[i].logits, "logit"), null, `${name}: the reference agreed`);
  });
});
