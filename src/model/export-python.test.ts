/**
 * scripts/check_export.py against our exports (the files alone): what TransformerLens computes from
 * them (written from TransformerLens' source; PyTorch's modules for recurrent models) gets the same
 * logits and per-position losses as icl-lab — and different ones when the config names the wrong
 * convention. Positions
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
import { Rng } from "../util/random.ts";
import { loadTensors, saveTensors } from "./safetensors.ts";
import type { LanguageModel } from "./model.ts";
import { exportModel } from "./export.ts";
import { lossesAt } from "../measure/position-loss.ts";
import { writeWindowsNpy } from "../measure/windows-file.ts";
import { skipOrFail } from "../util/test-env.ts";

import { BATCH, CASES, logits, randomModel, T, tokensFor } from "./fixtures/export-cases.ts";

useBackend(referenceKernels);

const tmp = mkdtempSync(join(tmpdir(), "icl-export-python-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const script = fileURLToPath(new URL("../../scripts/check_export.py", import.meta.url));

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
