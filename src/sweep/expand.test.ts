/**
 * Expansion: the product of the axes with seeds innermost, run ids equal to the trainer's, every
 * run's config checked before anything runs, and problems attributed to the spec field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBackend } from "../engine/backend.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { train } from "../train/train.ts";
import { data, measures } from "./fixtures/synthetic.ts";
import { baseConfig, expandSweep, formatVaried } from "./expand.ts";
import { parseSweepSpec } from "./spec.ts";

useBackend(referenceKernels);

const model = { kind: "attn-only", nLayers: 1, dModel: 8, nHeads: 2, dHead: 4, nCtx: 8, dVocab: 13 };
const base = { model, batch: 2, tokens: 64, checkpoints: { perDecade: 1 }, measures: ["probe"] };
const measureNames = Object.keys(measures);
const expand = (spec: Record<string, unknown>) => expandSweep(parseSweepSpec({ name: "g", base, ...spec }), { measureNames });

test("expandSweep() is the product of the axes, first slowest, seeds innermost", async () => {
  const runs = await expand({ axes: { "model.nLayers": [1, 2], "optim.lr": [0.01, 0.001] }, seeds: [0, 7] });
  assert.equal(runs.length, 8);
  assert.deepEqual(
    runs.slice(0, 3).map((r) => formatVaried(r.varied)),
    ["model.nLayers=1 optim.lr=0.01 seed=0", "model.nLayers=1 optim.lr=0.01 seed=7", "model.nLayers=1 optim.lr=0.001 seed=0"],
  );
  assert.equal(runs[7].config.seed, 7);
  assert.equal((runs[7].config.model as { nLayers: number }).nLayers, 2);
  assert.equal(new Set(runs.map((r) => r.id)).size, 8);
  assert.ok(runs.every((r) => r.id.startsWith("g-") && r.resolved.experiment === "g"));
  // No axes: the base config is the one run.
  assert.equal((await expand({})).length, 1);
});

test("a run id from the expansion is the id the trainer gives the run", async () => {
  const [run] = await expand({ seeds: [3] });
  const lab = mkdtempSync(join(tmpdir(), "icl-sweep-expand-"));
  try {
    const r = await train(run.config, { lab, data, measures, progress: "none" });
    assert.equal(r.runId, run.id);
  } finally {
    rmSync(lab, { recursive: true, force: true });
  }
});

test("each expanded config is checked with the trainer's parser; the message names the spec field", async () => {
  const bad = async (spec: Record<string, unknown>, pattern: RegExp) => assert.rejects(expand(spec), pattern);
  await bad({ axes: { "model.nLayer": [1, 2] } }, /^SpecError: axes\.model\.nLayer: unknown config key \(2 of 2 runs invalid\)$/);
  await bad({ axes: { "model.nLayers": [1, 0] } }, /axes\.model\.nLayers\[1\]: Too small: expected number to be >=1 \(1 of 2 runs invalid\)/);
  await bad({ axes: { "optimizer.lr": [0.1] } }, /axes\.optimizer\.lr: unknown config key 'optimizer'/);
  await bad({ axes: { data: [{ evalWindows: 0 }] } }, /axes\.data\[0\]\.evalWindows: Too small/);
  await bad({ axes: { measures: [["probe"], ["nope"]] } }, /axes\.measures\[1\]\[0\]: unknown measurement 'nope' \(known: probe\)/);
  await bad(
    { axes: { "model.positions": ["rotary"] }, base: { ...base, model: { ...model, dHead: 3, nHeads: 1 } } },
    /run model\.positions=rotary: invalid model config: model\.dHead must be even for rotary positions/,
  );
  await bad({ base: { ...base, batch: "2" } }, /base\.batch: /);
  await bad({ base: { ...base, tokens: undefined } }, /base\.tokens: /);
  await bad({ axes: { "batch.size": [1] } }, /axes\.batch\.size: batch is 2 in the base config, not an object/);
  await bad({ axes: { "model.nLayers": [1, 1] } }, /axes: runs 1 \(model\.nLayers=1\) and 2 \(model\.nLayers=1\) have the same config/);
});

test("a preset is the base's starting point; the sweep's name names the runs", async () => {
  const spec = parseSweepSpec({ name: "from-preset", preset: "tiny", base: { tokens: 1000, measures: [] } });
  const b = baseConfig(spec);
  assert.equal(b.name, "from-preset");
  assert.equal(b.experiment, "from-preset");
  assert.equal(b.tokens, 1000);
  assert.equal((b.model as { dModel: number }).dModel, 64); // from the preset
  assert.rejects(expandSweep(parseSweepSpec({ name: "p", preset: "nope" }), { measureNames }), /preset: unknown preset 'nope'/);
  assert.equal(baseConfig(parseSweepSpec({ name: "n", base: { ...base, name: "mine", experiment: "e" } })).name, "mine");
});
