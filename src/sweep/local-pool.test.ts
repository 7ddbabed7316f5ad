/**
 * The local pool: a small grid completes in parallel trainer processes; running it again skips
 * the finished runs; a trainer process that dies is replaced and its run resumes; a run whose
 * training throws is reported failed without a retry.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RunStore } from "../store/run-store.ts";
import { logSpacedCheckpoints } from "../train/schedule.ts";
import { expandSweep } from "./expand.ts";
import { estimatedCost, planPool, runLocalPool, type PoolEvent } from "./local-pool.ts";
import { parseSweepSpec } from "./spec.ts";

const synthetic = fileURLToPath(new URL("./fixtures/synthetic.ts", import.meta.url));
const faulty = fileURLToPath(new URL("./fixtures/faulty.ts", import.meta.url));
const model = { kind: "attn-only", nLayers: 1, dModel: 16, nHeads: 2, dHead: 8, nCtx: 16, dVocab: 13 };
// 100 steps of 2 × 16 tokens: well under a second each.
const base = { model, batch: 2, tokens: 3200, checkpoints: { perDecade: 2 }, measures: ["probe"] };

function tmpLab(): string {
  const lab = mkdtempSync(join(tmpdir(), "icl-sweep-pool-"));
  process.on("exit", () => rmSync(lab, { recursive: true, force: true }));
  return lab;
}

test("estimatedCost() orders runs as their training time: more layers, wider, more tokens cost more; recurrent models less", () => {
  const attn = (nLayers: number, tokens = 1e6, dModel = 64) => estimatedCost({ tokens, model: { kind: "attn-only", nLayers, dModel, nCtx: 512, dVocab: 257 } });
  assert.ok(attn(3) > attn(2) && attn(2) > attn(1));
  assert.ok(attn(2, 2e6) === 2 * attn(2, 1e6));
  assert.ok(attn(2, 1e6, 128) > attn(2));
  // Measured on one core: the 2-layer attention-only model trains ~2x slower than an LSTM of the same size.
  assert.ok(estimatedCost({ tokens: 1e6, model: { kind: "lstm", nLayers: 1, dModel: 64, dHidden: 94, nCtx: 512, dVocab: 257 } }) < attn(2));
});

test("planPool() gives each core one run when runs outnumber cores, else shares the cores out", () => {
  assert.deepEqual(planPool(8, 2), { threadsPerRun: 1, processes: 2 });
  assert.deepEqual(planPool(2, 2), { threadsPerRun: 1, processes: 2 });
  assert.deepEqual(planPool(1, 2), { threadsPerRun: 2, processes: 1 });
  assert.deepEqual(planPool(3, 16), { threadsPerRun: 5, processes: 3 });
  assert.deepEqual(planPool(5, 16, { threadsPerRun: 4 }), { threadsPerRun: 4, processes: 4 });
  assert.deepEqual(planPool(0, 4), { threadsPerRun: 4, processes: 1 });
});

test("a small grid completes in the pool; running it again skips every finished run", async () => {
  const lab = tmpLab();
  const runs = await expandSweep(parseSweepSpec({ name: "pool", base, axes: { "model.nLayers": [1, 2] }, seeds: [0, 1] }), { measureNames: ["probe"] });
  const events: PoolEvent[] = [];
  const outcomes = await runLocalPool(runs, { lab, cores: 2, dataModule: synthetic, onEvent: (e) => events.push(e) });
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ["finished", "finished", "finished", "finished"],
  );
  assert.deepEqual(
    outcomes.map((o) => o.runId),
    runs.map((r) => r.id),
  );
  const plan = events.find((e) => e.type === "plan");
  assert.deepEqual(plan, { type: "plan", pending: 4, skipped: 0, processes: 2, threadsPerRun: 1 });

  const store = RunStore.open(lab);
  try {
    const expected = logSpacedCheckpoints(3200, 32, 2);
    for (const run of runs) {
      assert.equal(store.getRun(run.id)?.status, "finished");
      assert.deepEqual(
        store.metricSeries(run.id, "train_loss").map((p) => p.tokens),
        expected,
      );
      assert.deepEqual(
        store.metricSeries(run.id, "probe.tokens").map((p) => p.value),
        expected,
      );
    }
    assert.equal(store.listRuns().length, 4);
  } finally {
    store.close();
  }

  const again: PoolEvent[] = [];
  const t0 = performance.now();
  const second = await runLocalPool(runs, { lab, cores: 2, dataModule: synthetic, onEvent: (e) => again.push(e) });
  assert.deepEqual(
    second.map((o) => o.status),
    ["skipped", "skipped", "skipped", "skipped"],
  );
  assert.equal(again.filter((e) => e.type === "started").length, 0);
  assert.ok(performance.now() - t0 < 2000, "skipping starts no trainer process");
});

test("a trainer process that dies is replaced and its run resumes; a training error is not retried", async () => {
  const lab = tmpLab();
  // Resume checkpoints every 10 ms, so one exists when the process is killed.
  const faultyBase = { ...base, checkpoints: { perDecade: 2, resumeEverySeconds: 0.01 } };
  const spec = parseSweepSpec({ name: "faulty", base: faultyBase, axes: { measures: [["crash-once"], ["boom"]] } });
  const runs = await expandSweep(spec, { measureNames: ["crash-once", "boom"] });
  const events: PoolEvent[] = [];
  const outcomes = await runLocalPool(runs, { lab, cores: 2, processes: 1, dataModule: faulty, onEvent: (e) => events.push(e) });
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ["finished", "failed"],
  );
  assert.match(outcomes[1].error!, /boom: this measurement always fails/);

  const crashedAt = Number(readFileSync(join(lab, "crashed-0"), "utf8"));
  const retries = events.filter((e) => e.type === "retry");
  assert.equal(retries.length, 1, "one retry, for the crash only");
  assert.match((retries[0] as { reason: string }).reason, /died \(killed by SIGKILL\)/);
  const starts = events.filter((e): e is Extract<PoolEvent, { type: "started" }> => e.type === "started" && e.run === runs[0]);
  assert.equal(starts.length, 2);
  assert.equal(starts[0].resumedFrom, null);
  assert.ok(starts[1].resumedFrom! > 0 && starts[1].resumedFrom! <= crashedAt, `resumed at ${starts[1].resumedFrom}, crashed at ${crashedAt}`);

  const store = RunStore.open(lab);
  try {
    assert.equal(store.getRun(runs[0].id)?.status, "finished");
    assert.deepEqual(
      store.metricSeries(runs[0].id, "train_loss").map((p) => p.tokens),
      logSpacedCheckpoints(3200, 32, 2),
    );
    assert.equal(store.getRun(runs[1].id)?.status, "failed");
  } finally {
    store.close();
  }
  assert.ok(existsSync(join(lab, "runs", runs[0].id, "resume")));
});
