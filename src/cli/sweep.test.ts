/**
 * `icl-lab sweep`: --dry-run lists the expanded runs; a malformed spec is one line naming the
 * field, exit 1; a local sweep trains the grid and prints its table, and running it again skips
 * every finished run; `sweep status` shows where each run stands.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "./test-helpers.ts";

const synthetic = fileURLToPath(new URL("../sweep/fixtures/synthetic.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "icl-lab-cli-sweep-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const lab = join(dir, "lab");

const cli = (...args: string[]) => runCli(args, { timeout: 60_000 });

const spec = join(dir, "grid.yaml");
writeFileSync(
  spec,
  `
name: cli-grid
base:
  model: { kind: attn-only, nLayers: 1, dModel: 16, nHeads: 2, dHead: 8, nCtx: 16, dVocab: 13 }
  batch: 2
  tokens: 1600
  checkpoints: { perDecade: 1 }
  measures: [probe]
axes:
  model.nLayers: [1, 2]
seeds: [0, 1]
`,
);

test("sweep --dry-run prints each run's id and the values it varies", () => {
  const r = cli("sweep", spec, "--dry-run", "--data-module", synthetic);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines[0], "sweep cli-grid: 4 runs (model.nLayers × seed)");
  assert.match(lines[1], /^#\s+run\s+model\.nLayers\s+seed$/);
  assert.match(lines[2], /^1\s+cli-grid-[0-9a-f]{10}\s+1\s+0$/);
  assert.match(lines[5], /^4\s+cli-grid-[0-9a-f]{10}\s+2\s+1$/);
  const json = JSON.parse(cli("sweep", spec, "--dry-run", "--json", "--data-module", synthetic).stdout);
  assert.deepEqual(
    json.map((x: { varied: unknown }) => x.varied),
    [
      { "model.nLayers": 1, seed: 0 },
      { "model.nLayers": 1, seed: 1 },
      { "model.nLayers": 2, seed: 0 },
      { "model.nLayers": 2, seed: 1 },
    ],
  );
});

test("a malformed spec is one line naming the field, exit 1", () => {
  const bad = join(dir, "bad.json");
  writeFileSync(
    bad,
    JSON.stringify({
      name: "b",
      base: { model: { kind: "rnn", nLayers: 1, dModel: 4, dHidden: 4, nCtx: 8 }, tokens: 10, measures: [] },
      axes: { "model.nLayer": [1, 2] },
    }),
  );
  const r = cli("sweep", bad, "--dry-run");
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `icl-lab: sweep spec ${bad}: axes.model.nLayer: unknown config key (2 of 2 runs invalid)\n`);
  writeFileSync(bad, JSON.stringify({ name: "b", axes: { "model.nLayers": 1 } }));
  assert.match(cli("sweep", bad, "--dry-run").stderr, /^icl-lab: sweep spec .*bad\.json: axes\.model\.nLayers: Invalid input: expected array/);
});

test("a local sweep trains the grid and prints its table; running it again skips the finished runs", () => {
  const r = cli("sweep", spec, "--lab", lab, "--data-module", synthetic);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /sweep cli-grid: 4 to run; \d+ trainer process(es)? × \d+ threads?; lab /);
  assert.match(r.stdout, /^run\s+model\.nLayers\s+seed\s+status\s+tokens\s+train_loss\s+icl\.score\n/);
  assert.equal(r.stdout.match(/ finished\s+1,600 /g)?.length, 4, r.stdout);

  const again = cli("sweep", spec, "--lab", lab, "--data-module", synthetic);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /0 to run, 4 already finished/);
  assert.equal(again.stdout, r.stdout);

  const status = cli("sweep", "status", spec, "--lab", lab, "--data-module", synthetic);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /4 runs: 4 finished\n$/);
});
