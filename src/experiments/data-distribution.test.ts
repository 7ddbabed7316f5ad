import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { RunStore } from "../store/run-store.ts";
import { CLASSIFICATION } from "../measure/icl-classification.ts";
import type { PointRow } from "../report/data-distribution.ts";
import { checkTargets, planDataDistribution, runDataDistribution, SWEEPS } from "./data-distribution.ts";

test("data-distribution --smoke trains every point inline, stores ICL/IWL over training, summarises, reports, and skips finished runs when run again", async (t) => {
  const lab = mkdtempSync(join(tmpdir(), "icl-dd-test-"));
  t.after(() => rmSync(lab, { recursive: true, force: true }));
  const plan = planDataDistribution({ lab, smoke: true, seeds: 1 });
  // Every sweep value with the attention model, the other three architectures at two class counts; shared points once.
  const attnPoints = new Set(SWEEPS.flatMap((s) => s.values.map((v) => JSON.stringify({ ...s.base, [s.knob]: v }))));
  assert.equal(plan.runs.filter((r) => r.arch === "attn-only").length, attnPoints.size);
  for (const a of ["transformer", "lstm", "rnn"]) assert.equal(plan.runs.filter((r) => r.arch === a).length, 2);
  const lines: string[] = [];
  const r = await runDataDistribution({ lab, smoke: true, seeds: 1, jobs: 0, png: false, log: (l) => lines.push(l) });
  assert.ok(
    r.outcomes.every((o) => o.status === "finished"),
    JSON.stringify(r.outcomes),
  );
  const store = RunStore.open(lab);
  try {
    const runs = store.listRuns({ experiment: "data-distribution" });
    assert.equal(runs.length, plan.runs.length);
    const attn = runs.find((x) => x.kind === "attn-only")!;
    // Evaluations at steps 0, 20, 40.
    assert.deepEqual(
      store.metricSeries(attn.id, CLASSIFICATION.iclNovel).map((p) => p.tokens),
      [0, 20, 40].map((s) => s * 8 * 17),
    );
    assert.equal(store.metricSeries(attn.id, CLASSIFICATION.induction).length, 3);
    const lstm = runs.find((x) => x.kind === "lstm")!;
    assert.equal(store.metricSeries(lstm.id, CLASSIFICATION.iwl).length, 3);
    assert.equal(store.metricSeries(lstm.id, CLASSIFICATION.induction).length, 0, "no head scores without attention");
  } finally {
    store.close();
  }
  assert.ok(r.rows.length >= attnPoints.size, "one summary row per point and architecture");
  assert.match(r.summaryText, /ICL novel \[interval\]/);
  assert.ok(r.report !== null && existsSync(r.report));
  assert.match(readFileSync(r.report, "utf8"), /<svg/);
  const again = await runDataDistribution({ lab, smoke: true, seeds: 1, jobs: 0, png: false, report: false, log: () => {} });
  assert.equal(again.outcomes.length, 0, "nothing left to train");
  assert.ok(planDataDistribution({ lab, smoke: true, seeds: 1 }).runs.every((x) => x.state === "finished"));
});

test("the ε sweep trains twice the scale's steps (default and --steps), the other sweeps the scale's; run ids carry the steps", (t) => {
  const lab = mkdtempSync(join(tmpdir(), "icl-dd-plan-"));
  t.after(() => rmSync(lab, { recursive: true, force: true }));
  const variation = SWEEPS.find((s) => s.knob === "epsilon")!;
  for (const steps of [undefined, 1000]) {
    const plan = planDataDistribution({ lab, seeds: 2, steps });
    const base = steps ?? 8000;
    assert.equal(plan.runs.length, 40);
    for (const r of plan.runs) {
      const inVariation = r.knobs.classes === variation.base.classes && r.arch === "attn-only";
      const want = inVariation ? 2 * base : base;
      assert.equal(r.job.record.train.steps, want, r.job.runId);
      assert.ok(r.job.runId.includes(`-${want}st-`), r.job.runId);
    }
    assert.equal(plan.runs.filter((r) => r.job.record.train.steps === 2 * base).length, 2 * variation.values.length);
  }
});

test("checkTargets: a knob's direction is met only when ICL rises above chance and IWL falls, each with intervals apart", () => {
  const iv = (mean: number, half = 0.03) => ({ mean, lo: mean - half, hi: mean + half, values: [mean] });
  const row = (value: number, icl: number, iwl: number, iclHalf?: number): PointRow => ({
    sweep: "variation",
    knob: "epsilon",
    value,
    arch: "attn-only",
    seeds: 2,
    icl: iv(icl, iclHalf),
    swap: iv(icl, iclHalf),
    iwl: iv(iwl),
    induction: null,
    chanceIcl: 0.25,
    chanceIwl: 1 / 32,
  });
  const eps = (rows: PointRow[]) => checkTargets(rows, []).find((c) => c.target.includes("within-class variation"))!;
  assert.equal(eps([row(0, 0.07, 0.83), row(0.75, 0.96, 0.08)]).met, true);
  // A rise to chance is not ICL (the old K 512 sweep: 0.07 → 0.25).
  assert.equal(eps([row(0, 0.07, 0.74), row(0.75, 0.25, 0.07)]).met, false);
  // Overlapping ICL intervals (one seed of two formed the head).
  assert.equal(eps([row(0, 0.07, 0.83), row(0.75, 0.57, 0.22, 0.4)]).met, false);
  // IWL that does not fall.
  assert.equal(eps([row(0, 0.07, 0.5), row(0.75, 0.96, 0.5)]).met, false);
  assert.equal(eps([row(0, 0.07, 0.83)]).met, null, "a missing point is not measured");
});
