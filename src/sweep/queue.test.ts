/**
 * Sweeps across machines, with a real redis-server (ICL_LAB_TEST_REDIS when set; otherwise this file
 * starts Debian's redis-server itself on a free loopback port, without persistence, and stops it when
 * its tests end): a 2 × 2 grid on two workers completes with four
 * results and no duplicates, re-submission adds nothing; a worker killed with SIGKILL mid-run has
 * its job finished by the other, which resumes from the shared checkpoints, with no run lost or
 * recorded twice; Redis unreachable is a clear error within seconds. "Machines" are processes
 * here, each worker with a lab of its own and one shared folder for run folders.
 *
 * Without a Redis the Redis tests are skipped, saying so; in strict mode (CI, ICL_LAB_REQUIRE_TOOLS=1:
 * src/util/test-env.ts) they fail.
 */
import { after, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { which } from "../data/sources/debian.ts";
import { listCheckpoints } from "../model/checkpoint.ts";
import { RunStore } from "../store/run-store.ts";
import { logSpacedCheckpoints } from "../train/schedule.ts";
import { expandSweep, type SweepRun } from "./expand.ts";
import { coordinateSweep, runsQueue, type ResultMessage } from "./queue.ts";
import { checkRedis, redisOptions } from "./redis.ts";
import { parseSweepSpec } from "./spec.ts";
import { skipOrFail } from "../util/test-env.ts";

const bin = fileURLToPath(new URL("../../bin/icl-lab.js", import.meta.url));
const synthetic = fileURLToPath(new URL("./fixtures/synthetic.ts", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "icl-sweep-queue-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

/** A port nobody listens on at the moment of asking (the OS's pick). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

// redis-server has no "exit with the parent" option, so a shell in between holds the other end of a
// pipe from this process and stops the server when the pipe closes: after the last test, or when
// this process ends in any way (a failure while loading, a signal, even SIGKILL).
const WATCHDOG = 'exec 3<&0; "$0" "$@" </dev/null & pid=$!; (read -r _ <&3; kill "$pid" 2>/dev/null) & wait "$pid"';

/**
 * The Redis these tests use: ICL_LAB_TEST_REDIS when set, else a redis-server of this file's own on a
 * free loopback port, without persistence, stopped after the last test or when this process ends.
 * `unavailable` says why there is none.
 */
async function testRedis(): Promise<{ url: string; unavailable: string | null }> {
  const given = process.env.ICL_LAB_TEST_REDIS;
  if (given) {
    const why = await checkRedis(given, { connectTimeoutMs: 1000 }).then(
      () => null,
      (e: Error) => e.message,
    );
    return { url: given, unavailable: why && `ICL_LAB_TEST_REDIS: ${why}` };
  }
  const server = which("redis-server");
  if (server === null) {
    return { url: "", unavailable: "redis-server is not installed and ICL_LAB_TEST_REDIS is not set; `bash scripts/install-system.sh --test` installs it" };
  }
  let failure = "";
  // Another process may take the free port before redis-server binds it: then try another one.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", root];
    const proc = spawn("/bin/sh", ["-c", WATCHDOG, server, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    proc.once("error", (e) => (out += String(e)));
    const running = () => proc.exitCode === null && proc.signalCode === null;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const stop = async () => {
      proc.stdin!.end();
      if (!running()) return;
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    };
    after(stop);
    const t0 = Date.now();
    while (running() && Date.now() - t0 < 10_000) {
      if (
        await checkRedis(url, { connectTimeoutMs: 500 }).then(
          () => true,
          () => false,
        )
      )
        return { url, unavailable: null };
      await new Promise((r) => setTimeout(r, 100));
    }
    await stop();
    failure = `${server} --port ${port} did not answer within 10 s: ${out.trim().split("\n").slice(-3).join(" | ")}`;
  }
  return { url: "", unavailable: failure };
}

const redis = await testRedis();
const REDIS = redis.url;

function needRedis(t: TestContext): boolean {
  if (redis.unavailable === null) return true;
  skipOrFail(t, redis.unavailable);
  return false;
}

const model = { kind: "attn-only", nLayers: 1, dModel: 16, nHeads: 2, dHead: 8, nCtx: 16, dVocab: 13 };
const perStep = 2 * 16;

function specFor(name: string, tokens: number, resumeEverySeconds = 60) {
  return {
    name,
    base: { model, batch: 2, tokens, checkpoints: { perDecade: 2, resumeEverySeconds }, measures: ["probe"] },
    axes: { "model.nLayers": [1, 2] },
    seeds: [0, 1],
  };
}

/** A fresh namespace (Redis key prefix) per test, deleted afterwards. */
function namespace(t: TestContext): string {
  const ns = `icl-lab-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  t.after(async () => {
    const redis = new Redis({ ...redisOptions(REDIS), lazyConnect: true });
    await redis.connect();
    const keys = await redis.keys(`${ns}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  return ns;
}

interface WorkerProcess {
  proc: ChildProcess;
  output: () => string;
}

/** Starts `icl-lab worker` (its own lab, the shared run folder) and waits until it listens. */
async function startWorker(t: TestContext, ns: string, name: string, shared: string): Promise<WorkerProcess> {
  const proc = spawn(
    process.execPath,
    [
      bin,
      "worker",
      "--queue",
      REDIS,
      "--namespace",
      ns,
      "--lab",
      join(root, ns, name),
      "--shared",
      shared,
      "--threads-per-run",
      "1",
      "--lock-duration",
      "2000",
      "--data-module",
      synthetic,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  });
  const t0 = Date.now();
  while (!out.includes("worker on ")) {
    if (proc.exitCode !== null) throw new Error(`worker ${name} exited: ${out}`);
    if (Date.now() - t0 > 20_000) throw new Error(`worker ${name} did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, output: () => out };
}

/** Runs the CLI without blocking this process (whose event loop reads the workers' output meanwhile). */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  let stdout = "",
    stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => proc.on("close", (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 })));
}

/** The processes whose parent is `pid` (from /proc: Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every run finished once in the lab, each checkpoint of the schedule recorded once. */
function assertComplete(lab: string, runs: readonly SweepRun[], tokens: number): void {
  const store = RunStore.open(lab);
  try {
    assert.deepEqual(
      store
        .listRuns()
        .map((r) => r.id)
        .sort(),
      runs.map((r) => r.id).sort(),
      "one stored run per grid point",
    );
    const expected = logSpacedCheckpoints(tokens, perStep, 2);
    for (const run of runs) {
      assert.equal(store.getRun(run.id)?.status, "finished", run.id);
      assert.deepEqual(
        store.metricSeries(run.id, "train_loss").map((p) => p.tokens),
        expected,
        `${run.id}: train_loss`,
      );
      assert.deepEqual(
        store.metricSeries(run.id, "probe.tokens").map((p) => p.value),
        expected,
        `${run.id}: probe.tokens`,
      );
      // probe.vec is [seed, parameter count, tokens]: it travelled as raw float64 bytes.
      assert.deepEqual(
        store.vectors(run.id, "probe.vec").map((v) => [v.data[0], v.data[2]]),
        expected.map((tk) => [run.resolved.seed, tk]),
      );
      assert.deepEqual(
        store.jsonSeries(run.id, "probe.label").map((r) => r.value),
        expected.map(() => ({ seed: run.resolved.seed, note: "synthetic" })),
      );
      assert.equal(store.getRun(run.id)?.tokens, tokens);
    }
  } finally {
    store.close();
  }
}

test("a 2 × 2 grid on two workers completes with four results and no duplicates; re-submitting adds nothing", async (t) => {
  if (!needRedis(t)) return;
  const ns = namespace(t);
  const shared = join(root, ns, "shared");
  const lab = join(root, ns, "coordinator");
  const specFile = join(root, `${ns}.json`);
  writeFileSync(specFile, JSON.stringify(specFor("grid", 3200)));
  const common = ["--queue", REDIS, "--namespace", ns, "--lab", lab, "--data-module", synthetic];

  // Both workers wait for jobs before any arrive, so both get some.
  const workers = await Promise.all([startWorker(t, ns, "w1", shared), startWorker(t, ns, "w2", shared)]);
  const first = await cli("sweep", specFile, ...common, "--detach");
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /4 submitted, 0 already queued or done/);
  const again = await cli("sweep", specFile, ...common, "--detach");
  assert.match(again.stderr, /0 submitted, 4 already queued or done/);
  const done = await cli("sweep", specFile, ...common, "--shared", shared);
  assert.equal(done.code, 0, `${done.stderr}\n${workers.map((w) => w.output()).join("\n")}`);
  assert.match(done.stdout, /run\s+model\.nLayers\s+seed\s+status/);
  assert.equal(done.stdout.match(/ finished /g)?.length, 4, done.stdout);

  const runs = await expandSweep(parseSweepSpec(specFor("grid", 3200)), { measureNames: ["probe"] });
  assertComplete(lab, runs, 3200);
  const store = RunStore.open(lab);
  try {
    // Checkpoint files are indexed where the coordinator sees them: the shared folder.
    const ck = store.checkpoints(runs[0].id);
    assert.equal(ck.length, logSpacedCheckpoints(3200, perStep, 2).length);
    assert.ok(ck.every((c) => c.path.startsWith(join(shared, runs[0].id, "checkpoints")) && existsSync(c.path)));
  } finally {
    store.close();
  }
  const took = workers.map((w) => (w.output().match(/^took /gm) ?? []).length);
  assert.equal(took[0] + took[1], 4, "each job taken once");
  assert.ok(took[0] > 0 && took[1] > 0, `both workers trained (${took.join(" and ")} jobs)`);

  const queue = runsQueue(REDIS, { namespace: ns });
  try {
    assert.deepEqual(await queue.getJobCounts("completed", "failed", "waiting", "active"), { completed: 4, failed: 0, waiting: 0, active: 0 });
  } finally {
    await queue.close();
  }
  const status = await cli("sweep", "status", specFile, ...common);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /4 runs: 4 finished/);
  assert.equal(status.stdout.match(/completed\s+finished\s+3\.2k\/3\.2k/g)?.length, 4, status.stdout);
  // Everything done: submitting again is a no-op that prints the table.
  const rerun = await cli("sweep", specFile, ...common);
  assert.match(rerun.stderr, /0 submitted, 0 already queued or done, 0 failed ones retried, 4 finished/);
  for (const w of workers) w.proc.kill("SIGTERM");
});

test("a worker killed with SIGKILL mid-run: the other worker resumes its job from the shared checkpoints; no run lost or recorded twice", async (t) => {
  if (!needRedis(t)) return;
  const ns = namespace(t);
  const shared = join(root, ns, "shared");
  const lab = join(root, ns, "coordinator");
  const tokens = perStep * 1000; // ~1-2 s per run on one thread
  const runs = await expandSweep(parseSweepSpec(specFor("killed", tokens, 0.2)), { measureNames: ["probe"] });
  const workers = await Promise.all([startWorker(t, ns, "w1", shared), startWorker(t, ns, "w2", shared)]);

  const messages: ResultMessage[] = [];
  let killed: { pid: number; runId: string; at: number; trainers: number[] } | null = null;
  const result = await coordinateSweep(REDIS, "killed", runs, {
    lab,
    shared,
    namespace: ns,
    onEvent: (e) => {
      if (e.type !== "result") return;
      messages.push(e.message);
      const m = e.message;
      // Kill the first worker seen mid-run once a resume checkpoint of its run is on shared storage.
      if (killed === null && m.type === "checkpoint" && m.tokens < tokens && listCheckpoints(join(shared, m.runId, "resume")).length > 0) {
        const pid = Number(m.worker.split(":").at(-1));
        killed = { pid, runId: m.runId, at: m.tokens, trainers: childrenOf(pid) };
        process.kill(pid, "SIGKILL");
      }
    },
  });
  assert.ok(result.complete);
  assert.ok(killed !== null, "a worker was killed mid-run");
  const k = killed as { pid: number; runId: string; at: number; trainers: number[] };
  const dead = workers.find((w) => w.proc.pid === k.pid)!;
  const survivor = workers.find((w) => w.proc.pid !== k.pid)!;
  assert.equal(dead.proc.signalCode ?? (await new Promise((r) => dead.proc.once("exit", (_c, s) => r(s)))), "SIGKILL");

  // The killed run started twice: the second time on the other worker, from a checkpoint.
  const starts = messages.filter((m): m is Extract<ResultMessage, { type: "started" }> => m.type === "started" && m.runId === k.runId);
  assert.equal(starts.length, 2, JSON.stringify(starts));
  assert.ok(starts[1].worker.endsWith(`:${survivor.proc.pid}`));
  assert.ok(starts[1].resumedFrom !== null && starts[1].resumedFrom > 0, `resumed from ${starts[1].resumedFrom}`);
  assert.equal(messages.filter((m) => m.type === "done" && m.runId === k.runId).length, 1);

  assertComplete(lab, runs, tokens);
  const queue = runsQueue(REDIS, { namespace: ns });
  try {
    assert.deepEqual(await queue.getJobCounts("completed", "failed", "waiting", "active"), { completed: 4, failed: 0, waiting: 0, active: 0 });
  } finally {
    await queue.close();
  }
  // The dead worker's trainer process did not outlive it (its watchdog ends it).
  assert.equal(k.trainers.length, 1, "the killed worker had one trainer process");
  assert.deepEqual(k.trainers.filter(alive), [], "the killed worker's trainer process has exited");
  survivor.proc.kill("SIGTERM");
});

test("Redis unreachable: a clear error within seconds, not a hang", async () => {
  const dir = mkdtempSync(join(root, "unreachable-"));
  const specFile = join(dir, "s.json");
  writeFileSync(specFile, JSON.stringify(specFor("nowhere", 3200)));
  for (const args of [
    ["worker", "--queue", "redis://127.0.0.1:1", "--lab", dir],
    ["sweep", specFile, "--queue", "redis://127.0.0.1:1", "--lab", dir, "--data-module", synthetic],
    ["sweep", "status", specFile, "--queue", "redis://127.0.0.1:1", "--lab", dir, "--data-module", synthetic],
  ]) {
    const r = await cli(...args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^icl-lab: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1 \(is redis-server running there/);
    assert.ok(r.seconds < 8, `${args[0]} took ${r.seconds.toFixed(1)} s`);
  }
  const bad = await cli("worker", "--queue", "http://127.0.0.1:6379", "--lab", dir);
  assert.match(bad.stderr, /--queue expects a redis:\/\/ or rediss:\/\/ URL, found 'http:\/\/127\.0\.0\.1:6379'/);
});
