/**
 * Sweep specs: JSON and YAML read alike; a malformed spec is rejected with a message naming the
 * field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSweepSpec, parseSweepSpec } from "./spec.ts";

const dir = mkdtempSync(join(tmpdir(), "icl-sweep-spec-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

test("loadSweepSpec() reads the same spec from JSON and YAML", () => {
  const spec = { name: "grid", base: { tokens: 100, model: { kind: "rnn" } }, axes: { "model.nLayers": [1, 2] }, seeds: [0, 1] };
  writeFileSync(join(dir, "a.json"), JSON.stringify(spec));
  writeFileSync(join(dir, "a.yaml"), "name: grid\nbase:\n  tokens: 100\n  model: { kind: rnn }\naxes:\n  model.nLayers: [1, 2]\nseeds: [0, 1]\n");
  assert.deepEqual(loadSweepSpec(join(dir, "a.json")), loadSweepSpec(join(dir, "a.yaml")));
  assert.deepEqual(loadSweepSpec(join(dir, "a.json")).axes, { "model.nLayers": [1, 2] });
});

test("a malformed spec is rejected with a message naming the field", () => {
  const bad = (input: unknown, pattern: RegExp) => assert.throws(() => parseSweepSpec(input, "s.yaml"), pattern);
  bad({ base: {} }, /^Error: s\.yaml: name: /);
  bad({ name: "has space" }, /name: letters, digits/);
  bad({ name: "g", axis: {} }, /axis: unknown key \(a spec has name, description, preset, base, axes, seeds\)/);
  bad({ name: "g", axes: { "model.nLayers": [] } }, /axes\.model\.nLayers: expected a non-empty list of values/);
  bad({ name: "g", axes: { "model.nLayers": 2 } }, /axes\.model\.nLayers: /);
  bad({ name: "g", axes: { "model..x": [1] } }, /axes.*dotted config path/);
  bad({ name: "g", seeds: [0, -1] }, /seeds\.1: /);
  bad({ name: "g", seeds: [1, 1] }, /seeds: 1 appears twice/);
  bad({ name: "g", seeds: [0], axes: { seed: [1] } }, /axes\.seed: give seeds either/);
  bad({ name: "g", axes: { model: [{}], "model.nLayers": [1] } }, /axes\.model\.nLayers: lies inside axis 'model'/);
  bad([1, 2], /s\.yaml: expected an object with name, base, axes and seeds, found a list/);
});

test("loadSweepSpec() names the file when it is missing or not YAML", () => {
  assert.throws(() => loadSweepSpec(join(dir, "none.yaml")), /none\.yaml does not exist/);
  writeFileSync(join(dir, "broken.yaml"), "name: [unclosed\n");
  assert.throws(() => loadSweepSpec(join(dir, "broken.yaml")), /broken\.yaml is not valid YAML/);
  writeFileSync(join(dir, "dup.yaml"), "name: a\nname: b\n");
  assert.throws(() => loadSweepSpec(join(dir, "dup.yaml")), /dup\.yaml is not valid YAML/);
});
