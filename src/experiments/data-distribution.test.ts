import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { RunStore } from "../store/run-store.ts";
import { CLASSIFICATION } from "../measure/icl-classification.ts";
import { planDataDistribution, runDataDistribution, SWEEPS } from "./data-distribution.ts";

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
