import assert from "node:assert/strict";
import { test } from "node:test";
import { type DdRun, type Knobs, onsetRows, overlaps, pointRows, seedInterval, type SweepSpec, wilson } from "./data-distribution.ts";

const BASE: Knobs = { pBursty: 0.9, burst: 2, classes: 2048, epsilon: 0.1, zipf: 0 };

function run(arch: string, knobs: Knobs, seed: number, icl: number[], induction: number[] | null): DdRun {
  return {
    runId: `${arch}-${knobs.classes}-${seed}`,
    arch,
    seed,
    knobs,
    status: "finished",
    nEval: 512,
    chanceIcl: 0.25,
    chanceIwl: 1 / 32,
    curve: icl.map((v, i) => ({ step: i * 250, iclNovel: v, iclSwap: v, iwl: 1 - v, prevToken: induction?.[i] ?? null, induction: induction?.[i] ?? null })),
  };
}

test("wilson() gives the 95% score interval (known values) and stays inside [0, 1]", () => {
  const [lo, hi] = wilson(0.5, 100);
  assert.ok(Math.abs(lo - 0.4038) < 1e-3 && Math.abs(hi - 0.5962) < 1e-3, `${lo} ${hi}`);
  assert.equal(wilson(0, 512)[0], 0);
  assert.ok(wilson(1, 512)[0] > 0.99 && wilson(1, 512)[1] === 1);
});

test("seedInterval() spans the seeds' Wilson bounds; overlaps() compares intervals", () => {
  const a = seedInterval([0.1, 0.2], 512),
    b = seedInterval([0.9, 1], 512);
  assert.ok(Math.abs(a.mean - 0.15) < 1e-12);
  assert.ok(a.lo < 0.1 && a.hi > 0.2);
  assert.ok(!overlaps(a, b) && overlaps(a, a));
});

test("pointRows() groups finished runs by sweep value and architecture, base points shared by the sweeps", () => {
  const sweeps: SweepSpec[] = [
    { name: "classes", knob: "classes", base: BASE, values: [256, 2048], archs: ["attn-only"] },
    { name: "zipf", knob: "zipf", base: BASE, values: [0, 1], archs: ["attn-only"] },
  ];
  const runs = [
    run("attn-only", BASE, 0, [0.25, 1], [0.1, 0.9]),
    run("attn-only", BASE, 1, [0.25, 0.9], [0.1, 0.8]),
    run("attn-only", { ...BASE, classes: 256 }, 0, [0.25, 0.05], [0.1, 0.1]),
    run("lstm", BASE, 0, [0.25, 0.25], null),
  ];
  const rows = pointRows(runs, sweeps);
  assert.deepEqual(
    rows.map((r) => `${r.sweep}:${r.value}:${r.seeds}`),
    ["classes:256:1", "classes:2048:2", "zipf:0:2"],
  );
  const base = rows.find((r) => r.sweep === "classes" && r.value === 2048)!;
  assert.ok(Math.abs(base.icl.mean - 0.95) < 1e-12);
  assert.deepEqual(base.induction!.values, [0.9, 0.8]);
});

test("onsetRows() finds where ICL passes 10% and 90% of its rise, with the induction score on both sides", () => {
  const r = run("attn-only", BASE, 0, [0.25, 0.25, 0.26, 0.5, 0.95, 1, 1], [0.1, 0.1, 0.12, 0.5, 0.9, 0.95, 0.97]);
  const [o] = onsetRows([r]);
  // Rise 0.75: 10% at 0.325 (index 3, step 750), 90% at 0.925 (index 4, step 1000).
  assert.equal(o.step10, 750);
  assert.equal(o.step90, 1000);
  assert.equal(o.inductionBefore, 0.12);
  assert.equal(o.inductionAfter, 0.9);
  assert.equal(onsetRows([run("attn-only", BASE, 1, [0.25, 0.3], [0.1, 0.1])]).length, 0, "no onset below the final-ICL threshold");
});
