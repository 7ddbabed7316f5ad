import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { resolveLabDir, RunConflictError, RunNotFoundError, RunStore, runDir } from "./run-store.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import { hammer } from "./fixtures/writer.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const writerPath = fileURLToPath(new URL("./fixtures/writer.ts", import.meta.url));

function tempLab(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "icl-store-test-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "lab");
}

function openStore(t: { after: (fn: () => void) => void }, lab = tempLab(t)): RunStore {
  const store = RunStore.open(lab);
  t.after(() => store.close());
  return store;
}

const config = { model: { kind: "attn-only", nLayers: 2, dModel: 64 }, seed: 1, lr: 1e-3 };

test("open() creates the lab folder with lab.db in WAL mode at the current schema version", (t) => {
  const store = openStore(t);
  const raw = new Database(store.dbPath, { readonly: true });
  t.after(() => raw.close());
  assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
  assert.equal(raw.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  assert.equal(store.runDir("abc"), join(store.labDir, "runs", "abc"));
});

test("open() refuses a lab.db from a newer schema", (t) => {
  const lab = tempLab(t);
  RunStore.open(lab).close();
  const raw = new Database(join(lab, "lab.db"));
  raw.pragma("user_version = 99");
  raw.close();
  assert.throws(() => RunStore.open(lab), new RegExp(`schema version 99, newer than this icl-lab understands \\(${SCHEMA_VERSION}\\); upgrade icl-lab`));
});

test("a lab.db of schema 2 is migrated: its runs are kept, with no measurement inputs", (t) => {
  const lab = tempLab(t);
  RunStore.open(lab).close();
  // Back to what schema 2 had: no measure_inputs column.
  const raw = new Database(join(lab, "lab.db"));
  raw.exec("ALTER TABLE runs DROP COLUMN measure_inputs");
  raw.prepare("INSERT INTO runs (id, config, status, created_at, updated_at) VALUES ('old', '{}', 'finished', 1, 1)").run();
  raw.pragma("user_version = 2");
  raw.close();
  const store = openStore(t, lab);
  assert.equal(store.getRun("old")!.status, "finished");
  assert.equal(store.measureInputs("old"), null);
});

test("setMeasureInputs() stores a run's measurement inputs once; the first value stays", (t) => {
  const store = openStore(t);
  store.createRun({ id: "r", config });
  assert.equal(store.measureInputs("r"), null);
  const inputs = { version: 1, seed: 1, bos: 0, pools: { heads: [3, 1, 2], tasks: [1, 2, 3] }, options: { heads: { nSequences: 4 } } };
  assert.equal(store.setMeasureInputs("r", inputs), true);
  assert.equal(store.setMeasureInputs("r", { ...inputs, seed: 2 }), false);
  assert.deepEqual(store.measureInputs("r"), inputs);
  store.rewind("r", 0);
  assert.deepEqual(store.measureInputs("r"), inputs, "a resume does not forget them");
  assert.throws(() => store.setMeasureInputs("nope", inputs), RunNotFoundError);
  assert.throws(() => store.measureInputs("nope"), RunNotFoundError);
});

test("resolveLabDir() prefers the argument, then $ICL_LAB_DIR, then ./icl-lab-runs", () => {
  const saved = process.env.ICL_LAB_DIR;
  try {
    process.env.ICL_LAB_DIR = "/somewhere/lab";
    assert.equal(resolveLabDir("/given"), "/given");
    assert.equal(resolveLabDir(), "/somewhere/lab");
    delete process.env.ICL_LAB_DIR;
    assert.equal(resolveLabDir(), join(process.cwd(), "icl-lab-runs"));
  } finally {
    if (saved === undefined) delete process.env.ICL_LAB_DIR;
    else process.env.ICL_LAB_DIR = saved;
  }
  assert.equal(runDir("/lab", "run-1"), "/lab/runs/run-1");
  assert.throws(() => runDir("/lab", "../etc"), /run id must be 1-128 letters/);
});

test("createRun() is idempotent for the same id and config, whatever the key order", (t) => {
  const store = openStore(t);
  const first = store.createRun({ id: "r1", experiment: "exp", kind: "attn-only", config });
  assert.equal(first.status, "running");
  assert.equal(first.pid, process.pid);
  assert.deepEqual(first.config, config);
  const reordered = { lr: 1e-3, seed: 1, model: { dModel: 64, nLayers: 2, kind: "attn-only" } };
  const again = store.createRun({ id: "r1", experiment: "exp", kind: "attn-only", config: reordered });
  assert.equal(again.createdAt, first.createdAt);
  assert.equal(store.listRuns().length, 1);
});

test("createRun() with an existing id and a different config, experiment or kind is a RunConflictError", (t) => {
  const store = openStore(t);
  store.createRun({ id: "r1", experiment: "exp", config });
  assert.throws(
    () => store.createRun({ id: "r1", experiment: "exp", config: { ...config, seed: 2 } }),
    (e: Error) => e instanceof RunConflictError && /run 'r1' already exists with a different config/.test(e.message),
  );
  assert.throws(() => store.createRun({ id: "r1", experiment: "other", config }), /different experiment \("exp" stored, "other" given\)/);
  assert.throws(() => store.createRun({ id: "r1", experiment: "exp", kind: "lstm", config }), /different kind/);
  assert.throws(() => store.createRun({ id: "a/b", config }), /run id must be/);
  assert.throws(() => store.createRun({ id: "r2", config: undefined }), /config must be JSON-compatible/);
});

test("setStatus() and heartbeat() update the run; unknown runs are a RunNotFoundError", (t) => {
  const store = openStore(t);
  store.createRun({ id: "r1", config });
  store.heartbeat("r1", 4096);
  assert.equal(store.getRun("r1")?.tokens, 4096);
  store.setStatus("r1", "failed", { error: "loss is NaN" });
  assert.deepEqual([store.getRun("r1")?.status, store.getRun("r1")?.error], ["failed", "loss is NaN"]);
  store.setStatus("r1", "running");
  assert.deepEqual([store.getRun("r1")?.status, store.getRun("r1")?.error], ["running", null]);
  store.setStatus("r1", "finished");
  assert.equal(store.getRun("r1")?.status, "finished");
  assert.equal(store.getRun("nope"), undefined);
  assert.throws(() => store.setStatus("nope", "finished"), RunNotFoundError);
  assert.throws(() => store.heartbeat("nope"), RunNotFoundError);
  assert.throws(
    () => store.logMetrics("nope", 1, { loss: 1 }),
    (e: Error) => e instanceof RunNotFoundError && /run 'nope' does not exist/.test(e.message),
  );
  assert.throws(() => store.setStatus("r1", "paused" as never), /must be 'running', 'finished' or 'failed'/);
});

test("logMetrics() stores a batch; metricSeries() returns it by tokens; a repeated point replaces the old one", (t) => {
  const store = openStore(t);
  store.createRun({ id: "r1", config });
  store.logMetrics("r1", 200, { loss: 2.5, icl_score: -0.25 });
  store.logMetrics("r1", 100, { loss: 3.5, icl_score: NaN });
  store.logMetrics("r1", 300, { loss: Infinity });
  store.logMetrics("r1", 200, { loss: 2.0 });
  assert.deepEqual(store.metricSeries("r1", "loss"), [
    { tokens: 100, value: 3.5 },
    { tokens: 200, value: 2.0 },
    { tokens: 300, value: Infinity },
  ]);
  assert.deepEqual(store.metricSeries("r1", "icl_score"), [
    { tokens: 100, value: NaN },
    { tokens: 200, value: -0.25 },
  ]);
  assert.deepEqual(store.metricNames("r1"), ["icl_score", "loss"]);
  assert.throws(() => store.logMetrics("r1", -1, { loss: 1 }), /tokens passed to logMetrics must be a non-negative integer/);
  assert.throws(() => store.logMetrics("r1", 1, { loss: "1" as never }), /metric 'loss' passed to logMetrics must be a number/);
  // A failing batch stores none of its values.
  assert.throws(
    () =>
      store.batch(() => {
        store.logMetrics("r1", 400, { loss: 1 });
        throw new Error("boom");
      }),
    /boom/,
  );
  assert.equal(store.metricSeries("r1", "loss").length, 3);
});

test("logVector() keeps float32 and float64 data with its shape, exactly", (t) => {
  const store = openStore(t);
  store.createRun({ id: "r1", config });
  const heads = new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, NaN]);
  store.logVector("r1", 1000, "induction_scores", heads, [2, 3]);
  store.logVector("r1", 10, "position_loss", [1 / 3, -Infinity, 2.5]);
  store.logVector("r1", 20, "position_loss", new Float64Array([1, 2, 3]).subarray(1));
  const [h] = store.vectors("r1", "induction_scores");
  assert.equal(h.tokens, 1000);
  assert.deepEqual(h.shape, [2, 3]);
  assert.ok(h.data instanceof Float32Array);
  assert.deepEqual([...h.data], [...heads]);
  const pl = store.vectors("r1", "position_loss");
  assert.deepEqual(
    pl.map((v) => v.tokens),
    [10, 20],
  );
  assert.ok(pl[0].data instanceof Float64Array);
  assert.deepEqual([...pl[0].data], [1 / 3, -Infinity, 2.5]);
  assert.deepEqual([...pl[1].data], [2, 3]);
  assert.deepEqual(store.vectorNames("r1"), ["induction_scores", "position_loss"]);
  assert.throws(() => store.logVector("r1", 1, "m", [1, 2, 3], [2, 2]), /vector 'm' passed to logVector: shape \[2, 2\] does not fit 3 values/);
});

test("checkpoints are recorded relative to the lab, so the lab folder can move", (t) => {
  const lab = tempLab(t);
  const store = RunStore.open(lab);
  store.createRun({ id: "r1", config });
  store.addCheckpoint("r1", { tokens: 1000, step: 10, path: join(store.runDir("r1"), "ckpt-1000.safetensors"), sha256: "aa" });
  store.addCheckpoint("r1", { tokens: 5000, step: 50, path: join(store.runDir("r1"), "ckpt-5000.safetensors"), sha256: "bb" });
  store.addCheckpoint("r1", { tokens: 3000, step: 30, path: "/elsewhere/ckpt.safetensors", sha256: "cc" });
  assert.deepEqual(
    store.checkpoints("r1").map((c) => c.tokens),
    [1000, 3000, 5000],
  );
  store.close();
  const moved = `${lab}-moved`;
  renameSync(lab, moved);
  const again = openStore(t, moved);
  const last = again.lastCheckpoint("r1");
  assert.equal(last?.path, join(moved, "runs", "r1", "ckpt-5000.safetensors"));
  assert.deepEqual([last?.tokens, last?.step, last?.sha256], [5000, 50, "bb"]);
  assert.equal(again.checkpoints("r1")[1].path, "/elsewhere/ckpt.safetensors");
  assert.equal(again.lastCheckpoint("unknown"), undefined);
});

test("rewind() forgets what was logged after the checkpoint a run resumes from", (t) => {
  const store = openStore(t);
  store.createRun({ id: "r1", config });
  for (const tokens of [100, 200, 300]) {
    store.logMetrics("r1", tokens, { loss: tokens });
    store.logVector("r1", tokens, "v", [tokens]);
    store.addCheckpoint("r1", { tokens, step: tokens, path: `/c/${tokens}`, sha256: "x" });
  }
  store.rewind("r1", 200);
  assert.deepEqual(
    store.metricSeries("r1", "loss").map((p) => p.tokens),
    [100, 200],
  );
  assert.deepEqual(
    store.vectors("r1", "v").map((p) => p.tokens),
    [100, 200],
  );
  assert.equal(store.lastCheckpoint("r1")?.tokens, 200);
  assert.equal(store.getRun("r1")?.tokens, 200);
});

test("listRuns() marks a running run stale when its pid is dead here or its heartbeat is old", (t) => {
  const store = openStore(t);
  for (const id of ["alive", "dead-pid", "old-heartbeat", "finished"]) store.createRun({ id, experiment: "e", config });
  store.createRun({ id: "other-exp", experiment: "f", config });
  store.setStatus("finished", "finished");
  const deadPid = spawnSync(process.execPath, ["-e", ""]).pid; // has exited by now
  const raw = new Database(store.dbPath);
  t.after(() => raw.close());
  raw.prepare("UPDATE runs SET pid = ? WHERE id = 'dead-pid'").run(deadPid);
  raw.prepare("UPDATE runs SET heartbeat_at = ? WHERE id IN ('old-heartbeat', 'finished')").run(Date.now() - 3_600_000);
  const runs = store.listRuns({ experiment: "e" });
  assert.deepEqual(
    // listRuns orders by creation time (ms); these were created within a few ms, so compare by id.
    runs.map((r) => [r.id, r.status, r.stale]).sort(),
    [
      ["alive", "running", false],
      ["dead-pid", "running", true],
      ["finished", "finished", false],
      ["old-heartbeat", "running", true],
    ].sort(),
  );
  assert.deepEqual(
    store.listRuns({ status: "finished" }).map((r) => r.id),
    ["finished"],
  );
  // A fresh heartbeat from a live process makes it current again.
  store.heartbeat("old-heartbeat");
  assert.equal(store.getRun("old-heartbeat")?.stale, false);
});

test("a run whose stored config is corrupt is listed as corrupt without breaking listRuns()", (t) => {
  const store = openStore(t);
  store.createRun({ id: "good", config });
  store.createRun({ id: "bad", config });
  store.logMetrics("bad", 10, { loss: 1 });
  const raw = new Database(store.dbPath);
  t.after(() => raw.close());
  raw.prepare("UPDATE runs SET config = ? WHERE id = 'bad'").run('{"model": {"kind": "attn-on');
  const runs = store.listRuns();
  assert.equal(runs.length, 2);
  const bad = runs.find((r) => r.id === "bad")!;
  assert.equal(bad.config, null);
  assert.match(bad.corrupt ?? "", /^config is not valid JSON/);
  assert.equal(runs.find((r) => r.id === "good")!.corrupt, null);
  assert.deepEqual(store.metricSeries("bad", "loss"), [{ tokens: 10, value: 1 }]);
  assert.throws(() => store.createRun({ id: "bad", config }), /run 'bad' already exists and its stored config is corrupt/);
});

test("two processes writing to one fresh lab at once lose nothing and never see SQLITE_BUSY", async (t) => {
  const lab = tempLab(t);
  const n = 1500;
  // Both processes open the (not yet existing) lab at the same moment, create the same run and then
  // log metrics, vectors and heartbeats to it as fast as they can (see fixtures/writer.ts).
  const child = spawn(process.execPath, ["--import", "tsx", writerPath, lab, String(n), "child"], {
    cwd: repoRoot,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  while (!stdout.includes("ready\n")) {
    if (child.exitCode !== null) assert.fail(`child exited early: ${stderr}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  child.stdin.write("go\n");
  const mine = hammer(lab, n, "parent");
  assert.equal(await exited, 0, `child failed: ${stderr}`);
  const theirs = JSON.parse(stdout.split("\n")[1]) as { start: number; end: number };
  assert.ok(theirs.start < mine.end && mine.start < theirs.end, `the writers did not overlap in time: ${JSON.stringify({ mine, theirs })}`);

  const store = openStore(t, lab);
  for (const who of ["parent", "child"]) {
    const loss = store.metricSeries("shared", `${who}.loss`);
    assert.equal(loss.length, n, `${who}.loss rows`);
    assert.ok(loss.every((p, i) => p.tokens === i && p.value === i));
    assert.equal(store.metricSeries("shared", `${who}.acc`).length, n);
    assert.equal(store.metricSeries(`${who}-own`, "loss").length, n);
    assert.equal(store.vectors("shared", `${who}.v`).length, n / 50);
  }
  assert.deepEqual(
    store
      .listRuns()
      .map((r) => r.id)
      .sort(),
    ["child-own", "parent-own", "shared"],
  );
});
