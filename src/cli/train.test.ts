/**
 * `icl-lab train`: a tiny run from a config file on real data (brown, bytes), and config errors
 * reported as one line with exit code 1 before any data is prepared; `--set` parsing.
 * The same lab then serves `icl-lab runs` and `icl-lab export`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "./errors.ts";
import { applySets, configFromOptions, parseSet } from "./train.ts";
import { PRESETS, presetConfig } from "../experiments/presets.ts";
import { parseTrainConfig, resolveModel } from "../train/config.ts";
import { runCli } from "./test-helpers.ts";

const lab = mkdtempSync(join(tmpdir(), "icl-lab-cli-train-"));
process.on("exit", () => rmSync(lab, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(args, { lab, env: { ...process.env, ICL_LAB_THREADS: "1" } });

const tinyConfig = {
  name: "cli-tiny",
  seed: 2,
  model: { kind: "attn-only", nLayers: 1, dModel: 16, nHeads: 2, dHead: 8, nCtx: 32 },
  data: { sources: { brown: 1 }, tokenizer: { kind: "byte" }, evalWindows: 4 },
  batch: 2,
  tokens: 64 * 12,
  checkpoints: { perDecade: 2 },
  measures: [],
};

test("--set: dotted paths, JSON values else strings, objects created on the way", () => {
  assert.deepEqual(parseSet("model.nLayers=3"), { path: ["model", "nLayers"], value: 3 });
  assert.deepEqual(parseSet("model.positions=rotary"), { path: ["model", "positions"], value: "rotary" });
  assert.deepEqual(parseSet('measures=["icl","heads"]'), { path: ["measures"], value: ["icl", "heads"] });
  assert.deepEqual(parseSet("name=a=b"), { path: ["name"], value: "a=b" });
  const c = applySets({ model: { kind: "lstm" } }, ["model.dHidden=8", "data.sources.zh_poetry=0.5", "model.kind=rnn"]);
  assert.deepEqual(c, { model: { kind: "rnn", dHidden: 8 }, data: { sources: { zh_poetry: 0.5 } } });
  assert.throws(() => parseSet("nLayers"), /--set expects key=value/);
  assert.throws(() => parseSet("model..x=1"), /not a dotted key path/);
  assert.throws(() => applySets({ model: { nLayers: 2 } }, ["model.nLayers.x=1"]), /model\.nLayers is 2, not an object/);
});

test("every preset is a valid training config", () => {
  for (const name of Object.keys(PRESETS)) {
    const c = parseTrainConfig(presetConfig(name));
    resolveModel(c.model, 4096);
  }
  // Copies: changing one does not change the preset.
  (presetConfig("tiny").model as Record<string, unknown>).nLayers = 9;
  assert.equal((presetConfig("tiny").model as Record<string, unknown>).nLayers, 2);
});

test("config errors name the key, before any data is prepared", () => {
  const err = (opts: Parameters<typeof configFromOptions>[0]) => {
    try {
      configFromOptions(opts);
    } catch (e) {
      assert.ok(e instanceof UserError, String(e));
      return e.message;
    }
    assert.fail("expected an error");
  };
  assert.match(err({ preset: "tiny", set: ["model.nLayer=3"] }), /^invalid training config: model: Unrecognized key: "nLayer"$/);
  assert.match(err({ preset: "tiny", set: ["model.nLayers=two"] }), /model\.nLayers: .*expected number, received string/);
  assert.match(err({ preset: "tiny", set: ["optim.lr=-1"] }), /optim\.lr/);
  assert.match(err({ preset: "tiny", set: ['measures=["bogus"]'] }), /unknown measurement 'bogus'/);
  assert.match(err({ preset: "tiny", set: ["model.positions=rotary", "model.dHead=15"] }), /dHead must be even for rotary/);
  assert.match(err({ preset: "nope" }), /unknown preset 'nope' \(known: tiny, /);
  assert.match(err({}), /exactly one of --preset NAME .* or --config FILE/);
  const bad = join(lab, "bad.json");
  writeFileSync(bad, "{ model: 1 }");
  assert.match(err({ config: bad }), /is not valid JSON/);
  assert.match(err({ config: join(lab, "missing.json") }), /does not exist/);
});

test("the command line: one line on stderr and exit 1 for a bad key, a wrong type or a missing file", () => {
  for (const [args, want] of [
    [["--preset", "tiny", "--set", "model.nLayer=3"], /^icl-lab: invalid training config: model: Unrecognized key: "nLayer"\n$/],
    [["--preset", "tiny", "--set", "batch=eight"], /^icl-lab: invalid training config: batch: .*expected number, received string\n$/],
    [["--config", join(lab, "missing.json")], /^icl-lab: --config: .*missing\.json does not exist\n$/],
  ] as const) {
    const r = cli("train", ...args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, want);
    assert.equal(r.stdout, "");
  }
  assert.equal(existsSync(join(lab, "data")), false, "no data was prepared");
});

test("train --config FILE trains on real data (brown, bytes), then runs lists it and export writes it", () => {
  const file = join(lab, "tiny.json");
  writeFileSync(file, JSON.stringify(tinyConfig));
  const r = cli("train", "--config", file, "--set", "seed=3", "--json", "-q");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.match(out.runId, /^cli-tiny-[0-9a-f]{10}$/);
  assert.deepEqual([out.finished, out.tokens, out.kind], [true, 768, "attn-only"]);
  assert.ok(out.trainLoss > 0 && out.trainLoss < Math.log(257) + 0.5, `train loss ${out.trainLoss}`);
  assert.ok(out.checkpoints >= 3);
  assert.ok(existsSync(join(lab, "runs", out.runId, "tokenizer.json")), "the run folder keeps its tokenizer");

  const runs = cli("runs", "--json");
  assert.equal(runs.code, 0, runs.stderr);
  const rows = JSON.parse(runs.stdout);
  assert.deepEqual(
    rows.map((x: { id: string; status: string; tokens: number }) => [x.id, x.status, x.tokens]),
    [[out.runId, "finished", 768]],
  );
  assert.equal(rows[0].trainLoss, out.trainLoss);

  const table = cli("runs");
  assert.match(table.stdout, /^id +kind +status +tokens +train_loss +icl\.score\n/);
  assert.match(table.stdout, new RegExp(`${out.runId} +attn-only +finished +768 +\\d\\.\\d{4} +—`));

  const ex = cli("export", out.runId, "--out", join(lab, "exp"), "--json");
  assert.equal(ex.code, 0, ex.stderr);
  const e = JSON.parse(ex.stdout);
  assert.deepEqual([e.tokens, e.layout], [768, "transformer_lens"]);
  const cfg = JSON.parse(readFileSync(join(lab, "exp", "config.json"), "utf8"));
  assert.deepEqual([cfg.model.dVocab, cfg.transformer_lens.d_vocab, cfg.files.tokenizer], [257, 257, "tokenizer.json"]);
  assert.equal(readFileSync(join(lab, "exp", "tokenizer.json"), "utf8"), readFileSync(join(lab, "runs", out.runId, "tokenizer.json"), "utf8"));

  // Running the same command again finds the run finished and trains nothing more.
  const again = cli("train", "--config", file, "--set", "seed=3", "--json", "-q");
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual([JSON.parse(again.stdout).runId, JSON.parse(again.stdout).tokens], [out.runId, 768]);
});
