/**
 * The trainer: determinism (bit for bit on the reference backend), exact resume after an
 * interruption and after SIGKILL, log-spaced checkpoints with stored measurements, the run's
 * measurement inputs stored when it starts and kept across a resume, clear config errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { useBackend } from "../engine/backend.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { RunStore } from "../store/run-store.ts";
import { headScores } from "../measure/heads.ts";
import { inputsFromData, storedMeasureInputs } from "../measure/run-inputs.ts";
import { syntheticData, tinyTrainConfig } from "./fixtures/synthetic-data.ts";
import { train, type TrainOptions } from "./train.ts";
import { logSpacedCheckpoints, learningRate } from "./schedule.ts";

useBackend(referenceKernels);

const fixture = fileURLToPath(new URL("./fixtures/synthetic-data.ts", import.meta.url));

function config(extra: Record<string, unknown> = {}) {
  return tinyTrainConfig({ name: "t", seed: 3, tokens: 32 * 40, measures: ["probe"], ...extra });
}

const options = (lab: string): TrainOptions => ({
  lab,
  progress: "none",
  data: async (c) => syntheticData({ vocab: 13, nCtx: c.model.nCtx, evalWindows: 4, seed: c.seed }),
  measures: {
    // A stand-in measurement: mean loss of the first eval window's second half, plus a vector.
    probe: (model, ctx) => ({ first: ctx.data.eval.windows[0], tokens: ctx.tokens, vec: [1, 2, model.params.size] }),
  },
});

function tmpLab(): string {
  return mkdtempSync(join(tmpdir(), "icl-train-test-"));
}

function paramsOf(r: Awaited<ReturnType<typeof train>>): Map<string, Float32Array> {
  return new Map([...r.model.params].map(([k, v]) => [k, Float32Array.from(v.data)]));
}

/** Every parameter of `actual` equals `expected`'s, bit for bit. */
function assertSameParams(actual: Awaited<ReturnType<typeof train>>, expected: Awaited<ReturnType<typeof train>>): void {
  const pa = paramsOf(expected),
    pb = paramsOf(actual);
  for (const [k, v] of pa) assert.deepEqual(pb.get(k), v, `parameter ${k}`);
}

/** Runs `fn` with two fresh labs, removed afterwards. */
async function withTwoLabs(fn: (labA: string, labB: string) => Promise<void>): Promise<void> {
  const labA = tmpLab(),
    labB = tmpLab();
  try {
    await fn(labA, labB);
  } finally {
    rmSync(labA, { recursive: true, force: true });
    rmSync(labB, { recursive: true, force: true });
  }
}

test("log-spaced checkpoints and the warm-up + cosine schedule", () => {
  const c = logSpacedCheckpoints(10_000, 100, 4);
  assert.deepEqual(c, [100, 200, 400, 600, 1000, 1800, 3200, 5700, 10_000]);
  const o = { lr: 1, warmupSteps: 10, totalSteps: 110, schedule: "cosine" as const, minLrRatio: 0.1 };
  assert.equal(learningRate(0, o), 0.1);
  assert.equal(learningRate(9, o), 1);
  assert.ok(Math.abs(learningRate(60, o) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(110, o) - 0.1) < 1e-12);
});

test("the same config and seed give the same loss trajectory bit for bit (reference backend)", async () => {
  await withTwoLabs(async (labA, labB) => {
    const a = await train(config(), options(labA));
    const b = await train(config(), options(labB));
    assert.equal(a.runId, b.runId);
    const sa = RunStore.open(labA),
      sb = RunStore.open(labB);
    const la = sa.metricSeries(a.runId, "train_loss"),
      lb = sb.metricSeries(b.runId, "train_loss");
    assert.ok(la.length >= 4, `${la.length} checkpoints`);
    assert.deepEqual(la, lb);
    assert.ok(la[la.length - 1].value < la[0].value, `the loss falls: ${la.map((p) => p.value.toFixed(3)).join(" ")}`);
    // Measurements were stored at every checkpoint: scalars as metrics, arrays as vectors.
    assert.deepEqual(
      sa.metricSeries(a.runId, "probe.tokens").map((p) => p.value),
      la.map((p) => p.tokens),
    );
    assert.deepEqual(Array.from(sa.vectors(a.runId, "probe.vec")[0].data), [1, 2, a.model.params.size]);
    assert.equal(sa.getRun(a.runId)!.status, "finished");
    assert.equal(sa.checkpoints(a.runId).length, la.length);
    sa.close();
    sb.close();
  });
});

test("an interrupted run resumes to exactly the parameters of an uninterrupted one", async () => {
  await withTwoLabs(async (labA, labB) => {
    const whole = await train(config(), options(labA));
    const part = await train(config(), { ...options(labB), maxSteps: 13 });
    assert.equal(part.finished, false);
    assert.equal(part.steps, 13);
    const rest = await train(config(), options(labB));
    assert.equal(rest.resumedFrom, 13 * 32);
    assert.equal(rest.finished, true);
    assertSameParams(rest, whole);
    const sa = RunStore.open(labA),
      sb = RunStore.open(labB);
    assert.deepEqual(
      sb.metricSeries(rest.runId, "train_loss").map((p) => p.tokens),
      sa.metricSeries(whole.runId, "train_loss").map((p) => p.tokens),
    );
    sa.close();
    sb.close();
  });
});

test("a run killed with SIGKILL resumes from its last checkpoint and ends where an uninterrupted run ends", async () => {
  await withTwoLabs(async (labA, labB) => {
    // Long enough that the kill lands mid-run; resume checkpoints every measurement and every 0.2 s.
    const c = config({ tokens: 32 * 4000, checkpoints: { perDecade: 4, resumeEverySeconds: 0.2 }, measures: [] });
    const child = spawn(process.execPath, ["--import", "tsx", fixture, labB, JSON.stringify(c)], {
      stdio: "ignore",
      env: { ...process.env, ICL_LAB_BACKEND: "reference" },
    });
    // Listen from the start: a child that ends before the kill must not leave the test waiting.
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    let exitCode: number | null | undefined;
    void exited.then((code) => (exitCode = code));
    // Kill once a resume checkpoint exists and some training happened after it.
    const deadline = Date.now() + 60_000;
    let killedAt = "";
    while (Date.now() < deadline && exitCode === undefined) {
      await new Promise((r) => setTimeout(r, 100));
      const runs = existsSync(join(labB, "runs")) ? readdirSync(join(labB, "runs")) : [];
      const dir = runs.length ? join(labB, "runs", runs[0], "resume") : "";
      if (dir && existsSync(dir) && readdirSync(dir).some((f) => f.endsWith(".safetensors"))) {
        await new Promise((r) => setTimeout(r, 350));
        killedAt = readdirSync(dir).join(",");
        child.kill("SIGKILL");
        break;
      }
    }
    if (exitCode === undefined && killedAt === "") child.kill("SIGKILL");
    await exited;
    assert.ok(killedAt !== "", `the child was killed mid-run (it exited by itself with code ${String(exitCode)} otherwise)`);
    const resumed = await train(c, options(labB));
    assert.ok(resumed.resumedFrom !== null && resumed.resumedFrom > 0, `resumed from ${resumed.resumedFrom}`);
    assert.ok(resumed.resumedFrom! < 32 * 4000, "the kill happened before the end");
    const whole = await train(c, options(labA));
    assertSameParams(resumed, whole);
  });
});

test("a run stores its measurement inputs when it starts; its checkpoints, resumed or not, are measured with them", async () => {
  const lab = tmpLab();
  // Token counts with an unseen token (3) and an end-of-document token (0), as the data pipeline gives.
  const counts = (bump: number) => Float64Array.from({ length: 13 }, (_, i) => (i === 3 ? 0 : (13 - i) ** 2 + (i === 5 ? bump : 0)));
  const dataWith =
    (bump: number): TrainOptions["data"] =>
    async (c) => ({
      ...syntheticData({ vocab: 13, nCtx: c.model.nCtx, evalWindows: 4, seed: c.seed }),
      tokenCounts: counts(bump),
      eodId: 0,
    });
  const c = config({ measures: ["heads"], measureOptions: { heads: { nSequences: 2 } } });
  const lines: string[] = [];
  try {
    const part = await train(c, { lab, progress: "none", data: dataWith(0), maxSteps: 13, log: (l) => lines.push(l) });
    const store = RunStore.open(lab);
    let stored;
    try {
      stored = storedMeasureInputs(store, part.runId)!;
    } finally {
      store.close();
    }
    const expected = inputsFromData(part.config, { eodId: 0, tokenCounts: counts(0) });
    assert.deepEqual(stored, expected);
    assert.deepEqual([stored.seed, stored.bos, stored.options], [3, 0, { heads: { nSequences: 2 } }]);
    assert.ok(!stored.pools.heads.includes(3) && !stored.pools.heads.includes(0), "neither the unseen token nor BOS");

    // The data's counts change before the resume: the run keeps the inputs it started with, and says so.
    const whole = await train(c, { lab, progress: "none", data: dataWith(10_000), log: (l) => lines.push(l) });
    assert.equal(whole.resumedFrom, 13 * 32);
    assert.match(lines.join("\n"), /its stored measurement inputs differ from those of its data now \(heads pool of \d+ vs \d+ tokens/);
    const after = RunStore.open(lab);
    try {
      assert.deepEqual(storedMeasureInputs(after, whole.runId), expected);
      const last = after.jsonSeries(whole.runId, "heads.heads").at(-1)!;
      const again = headScores(whole.model, { seed: stored.seed, vocab: { bos: stored.bos }, pool: stored.pools.heads, nSequences: 2 });
      assert.deepEqual(last.value, again.heads, "the last checkpoint's head scores used the stored pool");
    } finally {
      after.close();
    }
  } finally {
    rmSync(lab, { recursive: true, force: true });
  }
});

test("config errors are clear: unknown keys, wrong types, unknown measurements, vocab mismatch", async () => {
  const lab = tmpLab();
  try {
    await assert.rejects(train({ ...config(), batchSize: 4 }, options(lab)), /invalid training config: .*batchSize/);
    await assert.rejects(train({ ...config(), batch: "4" }, options(lab)), /batch: .*number/);
    await assert.rejects(train(config({ measures: ["nope"] }), options(lab)), /unknown measurement 'nope'/);
    await assert.rejects(train(config({ model: { ...config().model, dVocab: 99 } }), options(lab)), /model\.dVocab is 99 but the tokenizer has 13 tokens/);
    await assert.rejects(train(config({ model: { ...config().model, nHeads: 0 } }), options(lab)), /model\.nHeads/);
  } finally {
    rmSync(lab, { recursive: true, force: true });
  }
});
