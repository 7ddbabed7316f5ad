import { test } from "node:test";
import assert from "node:assert/strict";
import type { RunInfo } from "../store/run-store.ts";
import { describeMixture, describeModel, labelRuns, selectCheckpoints, type StoredConfig } from "./data.ts";

function info(id: string, kind = "attn-only"): RunInfo {
  return {
    id,
    experiment: "e",
    kind,
    config: null,
    corrupt: null,
    status: "finished",
    stale: false,
    createdAt: 0,
    updatedAt: 0,
    pid: null,
    host: null,
    heartbeatAt: null,
    tokens: 0,
    error: null,
  };
}

const cfg = (over: Partial<StoredConfig> & { layers?: number; sources?: Record<string, number> }): StoredConfig => ({
  seed: over.seed ?? 0,
  tokens: 1e6,
  name: over.name,
  model: { kind: "attn-only", nLayers: over.layers ?? 2, dModel: 64, nHeads: 4, dHead: 16, positions: "rotary" },
  data: { sources: over.sources ?? { brown: 1 } },
});

test("labelRuns() names runs by what differs between their configs, and groups seeds", () => {
  const runs = [
    { info: info("a"), config: cfg({ layers: 1, seed: 0 }) },
    { info: info("b"), config: cfg({ layers: 1, seed: 1 }) },
    { info: info("c"), config: cfg({ layers: 2, seed: 0 }) },
  ];
  assert.deepEqual(labelRuns(runs), [
    { label: "1L seed 0", group: "1L" },
    { label: "1L seed 1", group: "1L" },
    { label: "2L seed 0", group: "2L" },
  ]);
});

test("labelRuns() names corpus runs by their mixtures, and prefers distinct config names", () => {
  const corpus = [
    { info: info("a"), config: cfg({ sources: { brown: 1 } }) },
    { info: info("b"), config: cfg({ sources: { email: 1, brown: 1 } }) },
  ];
  assert.deepEqual(
    labelRuns(corpus).map((l) => l.label),
    ["brown", "brown+email"],
  );
  // Two runs by their config fields: distinct names with distinct models are their own groups;
  // seeds of one model share the model's group.
  const cases: Array<[Array<Record<string, unknown>>, Array<{ label: string; group: string }>]> = [
    [
      [
        { name: "demo-1l", layers: 1 },
        { name: "demo-2l", layers: 2 },
      ],
      [
        { label: "demo-1l", group: "demo-1l" },
        { label: "demo-2l", group: "demo-2l" },
      ],
    ],
    [
      [
        { name: "p-s0", seed: 0 },
        { name: "p-s1", seed: 1 },
      ],
      [
        { label: "p-s0", group: "attn-only 2L" },
        { label: "p-s1", group: "attn-only 2L" },
      ],
    ],
  ];
  for (const [fields, expected] of cases) {
    assert.deepEqual(labelRuns(fields.map((f, i) => ({ info: info("ab"[i]), config: cfg(f) }))), expected);
  }
  assert.deepEqual(labelRuns([{ info: info("only"), config: null }]), [{ label: "attn-only", group: "attn-only" }]);
});

test("describeModel() and describeMixture() read the stored config", () => {
  assert.equal(describeModel(cfg({ layers: 3 }), null), "attn-only · 3 layers · d_model 64 · 4 heads × 16 · rotary");
  assert.equal(describeModel(null, "lstm"), "lstm");
  assert.equal(describeMixture(undefined), "default mixture");
  assert.equal(describeMixture({ code: 3, brown: 1 }), "brown 25% + code 75%");
});

test("selectCheckpoints() spreads picks evenly in log tokens and adds the ones asked for", () => {
  const tokens = Array.from({ length: 25 }, (_, i) => Math.round(10 ** (3 + i / 6)));
  assert.deepEqual(selectCheckpoints(tokens, { n: 3 }), [tokens[0], tokens[12], tokens[24]]);
  const withWindow = selectCheckpoints(tokens, { n: 3, include: [tokens[5] * 1.01] });
  assert.deepEqual(withWindow, [tokens[0], tokens[5], tokens[12], tokens[24]]);
  assert.deepEqual(selectCheckpoints([5, 1, 3], { n: 5 }), [1, 3, 5]);
});
