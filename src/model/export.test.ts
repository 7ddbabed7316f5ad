/**
 * Export: names and shapes as documented in export.ts, export → load round trips to identical
 * logits for every kind, and a run's checkpoint exports through the runs store
 * (export-python.test.ts checks the exported files against PyTorch and TransformerLens' semantics).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBackend } from "../engine/backend.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { noGrad } from "../engine/tensor.ts";
import { loadTensors, saveTensors } from "./safetensors.ts";
import { parseModelConfig } from "./config.ts";
import { exportModel, exportRun, exportedShapes, loadExported, transformerLensConfig } from "./export.ts";
import { train } from "../train/train.ts";
import { syntheticData } from "../train/fixtures/synthetic-data.ts";
import { attn, CASES, logits, logits2, randomModel, tokensFor } from "./fixtures/export-cases.ts";

useBackend(referenceKernels);

const tmp = mkdtempSync(join(tmpdir(), "icl-export-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

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
