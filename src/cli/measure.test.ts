/**
 * `icl-lab measure`: bad arguments are one line on stderr and a non-zero exit; on a tiny run
 * trained here on real data (brown, bytes: real token counts and an end-of-document BOS), every
 * reader of the run's head scores shows the same numbers — the trainer's stored values,
 * `measure heads` (a child process and the exported function), the report's data, the dashboard's
 * API and the induction score on the attention figure's and view's sequence — and `measure phase`
 * is the report's phase-change analysis. A run trained before the measurement inputs were stored
 * gets them derived from its data: the same numbers.
 * Reference kernels everywhere (ICL_LAB_BACKEND=reference in the child processes), so that equal
 * means bit for bit.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { useBackend } from "../engine/backend.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { modelFromCheckpoint } from "../model/load.ts";
import { headScores, type HeadScore } from "../measure/heads.ts";
import { measureInputsToJson, type MeasureInputs } from "../measure/inputs.ts";
import { median } from "../measure/stats.ts";
import { writeWindowsNpy } from "../measure/windows-file.ts";
import { storedMeasureInputs } from "../measure/run-inputs.ts";
import { buildFixtureLab } from "../report/fixture.ts";
import { readRun } from "../report/data.ts";
import { headPatternFromCheckpoint } from "../report/attention.ts";
import { buildDashboard } from "../serve/server.ts";
import type { AttentionView, RunView } from "../serve/types.ts";
import { RunStore } from "../store/run-store.ts";
import { train } from "../train/train.ts";
import { UserError } from "./errors.ts";
import { measureRun } from "./measure.ts";
import { runCli } from "./test-helpers.ts";

useBackend(referenceKernels);

const dir = mkdtempSync(join(tmpdir(), "icl-lab-cli-measure-"));
const lab = join(dir, "lab");
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(["measure", ...args], { env: { ...process.env, ICL_LAB_THREADS: "1", ICL_LAB_BACKEND: "reference" } });

const config = {
  name: "measure-tiny",
  seed: 5,
  model: { kind: "attn-only", nLayers: 2, dModel: 16, nHeads: 2, dHead: 8, nCtx: 32 },
  data: { sources: { brown: 1 }, tokenizer: { kind: "byte" }, evalWindows: 6 },
  optim: { lr: 3e-3, warmupTokens: 64 },
  batch: 2,
  tokens: 64 * 12,
  checkpoints: { perDecade: 3 },
  measures: ["icl", "heads"],
  // The CLI must take these from the run, as the trainer did (a context of 32 has no 500th token).
  measureOptions: { heads: { nSequences: 3 }, icl: { early: 4, late: 30, resamples: 200 } },
};

let runId: string;
/** The run's last checkpoint file. */
let ckPath: string;
let inputs: MeasureInputs;
/** The trainer's stored head scores at the last checkpoint. */
let stored: { tokens: number; heads: HeadScore[] };

before(async () => {
  const r = await train(config, { lab, progress: "none", log: () => {} });
  runId = r.runId;
  const store = RunStore.open(lab);
  try {
    inputs = storedMeasureInputs(store, runId)!;
    ckPath = store.lastCheckpoint(runId)!.path;
    const last = store.jsonSeries(runId, "heads.heads").at(-1)!;
    stored = { tokens: last.tokens, heads: last.value as HeadScore[] };
  } finally {
    store.close();
  }
});

/** The scores every reader must agree on, per head. */
const scores = (heads: readonly HeadScore[]) =>
  heads.map((h) => ({
    head: `L${h.layer}H${h.head}`,
    induction: h.induction,
    inductionTL: h.inductionTL,
    prefixMatching: h.prefixMatching,
    previousToken: h.previousToken,
    copying: h.copying,
  }));

/** The UserError message `measureRun` throws for these arguments (main prints it as one line, exit 1). */
async function userError(what: string, o: Parameters<typeof measureRun>[1]): Promise<string> {
  try {
    await measureRun(what, o);
  } catch (e) {
    assert.ok(e instanceof UserError, String(e));
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    return e.message;
  }
  assert.fail(`measure ${what}: expected an error`);
}

test("bad arguments: one line on stderr, a non-zero exit, nothing on stdout", async () => {
  for (const [args, want] of [
    [["bogus", "--run", "x", "--lab", lab], /^icl-lab: measure: unknown measurement 'bogus'; expected one of icl, heads, ablate, tasks, phase, inputs\n$/],
    [["heads", "--lab", lab], /^icl-lab: measure heads: --run ID is required \(see `icl-lab runs`\)\n$/],
    [["heads", "--run", runId, "--checkpoint", "abc", "--lab", lab], /^icl-lab: --checkpoint must be a non-negative integer, found 'abc'\n$/],
    // implicit-update is wired to its own module: it measures transformer runs only.
    [["implicit-update", "--lab", lab], /^icl-lab: measure implicit-update: --run ID is required/],
    [["implicit-update", "--run", runId, "--lab", lab], /^icl-lab: .*implicit.*transformer.*\n$/],
  ] as const) {
    const r = cli(...args);
    assert.equal(r.code, 1, `${args.join(" ")}: exit ${r.code}`);
    assert.match(r.stderr, want, args.join(" "));
    assert.equal(r.stdout, "");
  }
  const windowsFile = join(dir, "two.npy");
  writeWindowsNpy(windowsFile, new Int32Array(2 * 33), { length: 33 });
  assert.match(await userError("heads", { run: "nope", lab }), /^measure: no run 'nope' in .*\(see `icl-lab runs`\)$/);
  assert.match(await userError("heads", { run: runId, lab, checkpoint: "7" }), /^measure: run '.*' has no checkpoint at 7 tokens; it has \d+(, \d+)+$/);
  assert.match(await userError("heads", { run: runId, lab, seed: "-1" }), /^--seed must be a non-negative integer, found '-1'$/);
  assert.match(await userError("icl", { run: runId, lab, windowsFile, windows: "3" }), /^--windows 3: only 2 windows are available$/);
  assert.match(await userError("heads", { run: runId, lab, windowsFile }), /^measure heads: --windows-file applies to icl and ablate only$/);
  assert.match(await userError("heads", { run: runId, lab, save: true }), /^measure heads: --save applies to `measure inputs` only$/);
  assert.match(await userError("heads", { run: runId, lab: join(dir, "no-lab") }), /^measure: no lab at .*no-lab \(no lab\.db\); give --lab DIR$/);
  assert.match(await userError("phase", { run: "fx-lstm", lab: join(dir, "no-lab") }), /no lab at/);
});

test("the trainer stored the run's measurement inputs: its seed and options, the end-of-document BOS, pools of seen tokens", () => {
  assert.equal(inputs.seed, config.seed);
  assert.equal(inputs.bos, 256, "the byte tokenizer's end-of-document token");
  assert.deepEqual(inputs.options, config.measureOptions);
  for (const pool of [inputs.pools.heads, inputs.pools.tasks]) {
    assert.ok(pool.length > 10 && pool.length < 200, `${pool.length} tokens: the unseen, most and least frequent ones are left out`);
    assert.ok(!pool.includes(256));
  }
});

test("measure heads: the trainer's stored scores exactly, from a child process and from the exported function", async () => {
  const r = cli("heads", "--run", runId, "--lab", lab, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual([out.checkpoint, out.seed, out.inputs, out.bos, out.nSequences], [stored.tokens, config.seed, "stored", 256, 3]);
  assert.deepEqual(scores(out.heads), scores(stored.heads));
  const direct = await measureRun("heads", { run: runId, lab });
  assert.deepEqual(scores(direct.heads as HeadScore[]), scores(stored.heads));
  // The seed is the run's unless overridden: another seed draws other sequences.
  const other = await measureRun("heads", { run: runId, lab, seed: "6" });
  assert.equal(other.seed, 6);
  assert.notDeepEqual(scores(other.heads as HeadScore[]), scores(stored.heads));

  const text = cli("heads", "--run", runId, "--lab", lab);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /measured with the run's stored measurement inputs, seed 5, 3 sequences\nhead +induction +prefix +prev-token +copying\nL0H0 /);
});

test("the report's data, the dashboard's API and the attention figure and view show the same head scores", async () => {
  const store = RunStore.open(lab);
  let info;
  try {
    info = store.getRun(runId)!;
    const report = readRun(store, info);
    assert.deepEqual(scores(report.heads.at(-1)!.heads), scores(stored.heads));
    assert.equal(report.bos, inputs.bos);
    assert.deepEqual(report.inputs, inputs);
  } finally {
    store.close();
  }
  const { app } = await buildDashboard({ lab });
  try {
    const view = (await app.inject({ url: `/api/runs/${runId}` })).json() as RunView;
    assert.deepEqual(scores(view.heads.at(-1)!.heads), scores(stored.heads));
    const rec = (await app.inject({ url: `/api/runs/${runId}/records/heads.heads` })).json() as Array<{ tokens: number; value: HeadScore[] }>;
    assert.deepEqual(scores(rec.at(-1)!.value), scores(stored.heads));

    // The attention view's repeated sequence is the first of the run's induction sequences (same
    // BOS, pool and seed): its per-head score is the measure's on that one sequence.
    const ck = info.config as typeof config & { model: { nCtx: number } };
    const { model } = modelFromCheckpoint(ck.model, ckPath);
    const one = headScores(model, { seed: inputs.seed, vocab: { bos: inputs.bos }, pool: inputs.pools.heads, nSequences: 1 });
    const length = one.inductionLength;
    const a = (await app.inject({ url: `/api/runs/${runId}/attention?length=${length}` })).json() as AttentionView;
    assert.deepEqual([a.source, a.pool, a.seed, a.tokens[0], a.tokens.length], ["repeated", "run", config.seed, 256, 1 + 2 * length]);
    assert.deepEqual(a.notes, []);
    assert.deepEqual(
      a.sequenceScores,
      [0, 1].map((l) => [0, 1].map((h) => one.heads.find((x) => x.layer === l && x.head === h)!.induction)),
    );
    assert.deepEqual(scores(a.stored!.heads), scores(stored.heads));

    const hp = headPatternFromCheckpoint(ckPath, { model: ck.model, layer: 1, head: 1, length });
    assert.deepEqual([hp.pool, hp.note, hp.seed], ["run", null, config.seed]);
    assert.deepEqual(hp.tokens, a.tokens);
    assert.equal(hp.score, one.heads.find((x) => x.layer === 1 && x.head === 1)!.induction);
  } finally {
    await app.close();
  }
});

test("measure icl: the trainer's stored ICL score exactly, with the run's options and seed", async () => {
  const out = await measureRun("icl", { run: runId, lab });
  const store = RunStore.open(lab);
  try {
    const at = (name: string) => store.metricSeries(runId, name).find((p) => p.tokens === out.checkpoint)!.value;
    assert.deepEqual([out.early, out.late, out.resamples, out.windows], [4, 30, 200, config.data.evalWindows]);
    assert.deepEqual([out.score, out.lo, out.hi, out.se], [at("icl.score"), at("icl.lo"), at("icl.hi"), at("icl.se")]);
  } finally {
    store.close();
  }
  const text = cli("icl", "--run", runId, "--lab", lab);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /^run .* at 768 tokens, 6 windows; measured with the run's stored measurement inputs, seed 5\nICL score -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] \(95% bootstrap\)/,
  );
});

test("measure phase is the report's phase-change analysis, noise (the median bootstrap se) included", async () => {
  // The report's fixture lab: a 2-layer run with a phase change, an induction rise and a loss bump.
  const fxLab = join(dir, "fixture");
  buildFixtureLab(fxLab);
  for (const [labDir, id] of [
    [fxLab, "fx-2l"],
    [fxLab, "fx-1l"],
    [lab, runId],
  ]) {
    const out = JSON.parse(JSON.stringify(await measureRun("phase", { run: id, lab: labDir })));
    const store = RunStore.open(labDir);
    try {
      const report = JSON.parse(JSON.stringify(readRun(store, store.getRun(id)!)));
      assert.deepEqual(out.iclScore, report.phase, id);
      assert.deepEqual(out.inductionScore, report.inductionPhase, id);
      assert.deepEqual(out.lossBump, report.bump, id);
      const noise = median(Float64Array.from(store.metricSeries(id, "icl.se").map((p) => p.value)));
      assert.equal(out.iclNoise, noise, id);
      assert.equal(out.iclScore.noise, noise, `${id}: the detector compared with the stored noise`);
    } finally {
      store.close();
    }
  }
  const r = cli("phase", "--run", "fx-2l", "--lab", fxLab, "--json");
  assert.equal(r.code, 0, r.stderr);
  const fx = JSON.parse(r.stdout);
  assert.deepEqual(
    [fx.iclScore.status, fx.inductionScore.status, fx.inductionScore.layer, fx.inductionScore.head, fx.lossBump.status],
    ["found", "found", 1, 0, "found"],
  );
  const text = cli("phase", "--run", "fx-2l", "--lab", fxLab);
  assert.match(text.stdout, /^run fx-2l\nICL score \(noise 0\.\d{3}\): \d.*–.* tokens \(change 0\.\d{3}\)\ninduction score of L1H0: .*\nloss bump: /);
  assert.equal(((await measureRun("phase", { run: "fx-lstm", lab: fxLab })).inductionScore as { reason: string }).reason, "no attention heads");
});

test("a run trained before the inputs were stored: derived from its data, the same numbers; `measure inputs --save` keeps them", async () => {
  const raw = new Database(join(lab, "lab.db"));
  try {
    raw.prepare("UPDATE runs SET measure_inputs = NULL WHERE id = ?").run(runId);
  } finally {
    raw.close();
  }
  const r = cli("heads", "--run", runId, "--lab", lab, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.inputs, "derived");
  assert.deepEqual(scores(out.heads), scores(stored.heads));

  // The report's figure cannot rebuild the data: it says the pool is missing instead of pretending.
  const hp = headPatternFromCheckpoint(ckPath, { model: { ...config.model, dVocab: 257 }, layer: 1, head: 1 });
  assert.equal(hp.pool, "all");
  assert.match(hp.note!, /no stored measurement inputs/);

  const shown = await measureRun("inputs", { run: runId, lab });
  assert.equal(shown.source, "derived");
  assert.equal((await measureRun("inputs", { run: runId, lab, save: true })).source, "derived, now stored");
  assert.equal((await measureRun("inputs", { run: runId, lab })).source, "stored");
  const store = RunStore.open(lab);
  try {
    assert.deepEqual(store.measureInputs(runId), measureInputsToJson(inputs), "the derived inputs are the ones the trainer stored");
  } finally {
    store.close();
  }
  await assert.rejects(measureRun("heads", {}), (e: unknown) => e instanceof UserError && /--run ID is required/.test(e.message));
});
