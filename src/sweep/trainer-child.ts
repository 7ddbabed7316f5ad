/**
 * The process that trains a sweep's runs, one after another, for a parent (the local pool or a
 * queue worker) that forks it with the tsx loader and `ICL_LAB_THREADS` set (trainer-process.ts).
 * Training blocks this process's event loop between checkpoints, which is why it is not done in
 * the parent: a queue worker must keep renewing its job locks meanwhile.
 *
 * Protocol (IPC, advanced serialisation): the parent sends `{ type: "run", job }`; this process
 * answers `started` (the trainer's run id, resolved config, where it resumes), `checkpoint` after
 * each measurement checkpoint (with the stored records when `job.report`, which are also kept as
 * files in the run folder and sent again when the run resumes), then `done` or `error`.
 *
 * A watchdog thread kills this process when its parent disappears (SIGKILL included: a killed
 * worker must not leave a trainer writing into the run folder that another worker now resumes);
 * the main thread cannot notice by itself while a training loop holds it.
 *
 *   node --import tsx trainer-child.ts [--data-module FILE]
 *
 * `--data-module`: a module exporting `data` (a DataFactory) and optionally `measures`, used
 * instead of the data pipeline and the measurement registry (tests use a synthetic one).
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { listCheckpoints } from "../model/checkpoint.ts";
import { RunStore, runDir } from "../store/run-store.ts";
import { resolveModel, runIdFor, type TrainConfig } from "../train/config.ts";
import { logSpacedCheckpoints } from "../train/schedule.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { train, type DataFactory, type MeasureFn, type TrainData } from "../train/train.ts";
import { readCheckpointReport, type CheckpointReport } from "./records.ts";

export interface ChildJob {
  /** The sweep's id for the run (its predicted run id). */
  key: string;
  /** The training-config input. */
  config: Record<string, unknown>;
  lab: string;
  /** A folder on shared storage holding run folders: `<lab>/runs/<id>` becomes a link to `<shared>/<id>`. */
  shared?: string;
  /** Send each checkpoint's stored records (a queue worker relays them to its coordinator). */
  report: boolean;
}

export type ChildMessage =
  | { type: "ready"; pid: number }
  | { type: "started"; key: string; runId: string; config: TrainConfig; totalTokens: number; resumedFrom: number | null; worker: string }
  | {
      type: "checkpoint";
      key: string;
      runId: string;
      tokens: number;
      totalTokens: number;
      loss: number;
      icl: number | null;
      report?: CheckpointReport;
      worker: string;
      replayed: boolean;
    }
  | {
      type: "done";
      key: string;
      runId: string;
      finished: boolean;
      tokens: number;
      steps: number;
      lastLoss: number;
      resumedFrom: number | null;
      seconds: number;
    }
  | { type: "error"; key: string; runId: string | null; message: string }
  | { type: "log"; key: string; line: string };

export type ParentMessage = { type: "run"; job: ChildJob } | { type: "exit" };

/** Makes `<lab>/runs/<id>` a link to `<shared>/<id>` (created if missing). */
export function linkSharedRunDir(lab: string, shared: string, runId: string): void {
  const target = resolve(shared, runId);
  mkdirSync(target, { recursive: true });
  const link = runDir(lab, runId);
  let stat;
  try {
    stat = lstatSync(link);
  } catch {
    stat = null;
  }
  if (stat === null) {
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(target, link, "dir");
  } else if (!stat.isSymbolicLink() || resolve(dirname(link), readlinkSync(link)) !== target) {
    throw new Error(`${link} exists and is not a link to the shared folder ${target}: move it there (to keep its checkpoints) or remove it`);
  }
}

interface DataModule {
  data?: DataFactory;
  measures?: Record<string, MeasureFn>;
}

/** `<run folder>/reports/<tokens>.json`: each checkpoint's report, kept beside the resume checkpoints. */
const reportFile = (dir: string, tokens: number) => join(dir, "reports", `${String(tokens).padStart(12, "0")}.json`);

/** Durable (fsync) like the checkpoints, so no resume checkpoint outlives its report on disk. */
function writeReport(dir: string, report: CheckpointReport): void {
  writeFileAtomic(reportFile(dir, report.tokens), JSON.stringify(report));
}

function readReports(dir: string, upTo: number): CheckpointReport[] {
  const reports = join(dir, "reports");
  if (!existsSync(reports)) return [];
  return readdirSync(reports)
    .filter((f) => /^\d{12}\.json$/.test(f) && Number(f.slice(0, 12)) <= upTo)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(reports, f), "utf8")) as CheckpointReport);
}

/**
 * Where the trainer will resume a reporting run, made safe for the coordinator: every measurement
 * checkpoint up to the resume point must have its report on disk (a worker can die after the
 * trainer saved a resume checkpoint at a measurement checkpoint and before it reported it; an
 * earlier attempt may have trained without reporting). Otherwise the resume checkpoint is removed
 * and the run resumes from an older one or restarts, logging those checkpoints again.
 */
function safeResumePoint(dir: string, config: TrainConfig, totalTokens: number, log: (line: string) => void): number | null {
  const perStep = config.batch * config.model.nCtx;
  const measured = new Set(logSpacedCheckpoints(totalTokens, perStep, config.checkpoints.perDecade, config.checkpoints.first ?? perStep));
  for (;;) {
    const newest = listCheckpoints(join(dir, "resume")).at(-1);
    if (newest === undefined) return null;
    const missing = [...measured].filter((t) => t <= newest.tokens && !existsSync(reportFile(dir, t)));
    if (missing.length === 0) return newest.tokens;
    log(`icl-lab: the checkpoint at ${missing[0]} tokens was never reported; removing the resume checkpoint at ${newest.tokens} to train that stretch again`);
    rmSync(newest.path, { force: true });
  }
}

async function runJob(job: ChildJob, mod: DataModule, send: (m: ChildMessage) => void): Promise<void> {
  const worker = `${hostname()}:${process.pid}`;
  const t0 = performance.now();
  const log = (line: string) => send({ type: "log", key: job.key, line });
  let runId: string | null = null;
  let totalTokens = 0;
  const jsonNames = new Set<string>();
  const data: DataFactory = async (c, lab) => {
    let d: TrainData;
    if (mod.data) d = await mod.data(c, lab);
    else {
      const { prepareTrainData } = await import("../data/train-data.ts");
      d = await prepareTrainData(c, lab, log);
    }
    // The same resolution as the trainer's, so this is the id it is about to use.
    const resolved = { ...c, model: resolveModel(c.model as unknown as Record<string, unknown>, d.vocabSize) };
    runId = runIdFor(resolved);
    if (job.shared) linkSharedRunDir(lab, job.shared, runId);
    const dir = runDir(lab, runId);
    const perStep = resolved.batch * resolved.model.nCtx;
    totalTokens = Math.ceil(resolved.tokens / perStep) * perStep;
    const resumedFrom = job.report ? safeResumePoint(dir, resolved, totalTokens, log) : (listCheckpoints(join(dir, "resume")).at(-1)?.tokens ?? null);
    send({ type: "started", key: job.key, runId, config: resolved, totalTokens, resumedFrom, worker });
    if (job.report && resumedFrom !== null) {
      // What an earlier attempt reported may not have reached the coordinator: send it again
      // (writing a report twice stores the same points).
      for (const report of readReports(dir, resumedFrom)) {
        const loss = report.metrics.train_loss;
        send({
          type: "checkpoint",
          key: job.key,
          runId,
          tokens: report.tokens,
          totalTokens,
          loss: typeof loss === "number" ? loss : NaN,
          icl: null,
          report,
          worker,
          replayed: true,
        });
      }
    }
    return d;
  };
  try {
    const result = await train(job.config, {
      lab: job.lab,
      data,
      measures: mod.measures,
      progress: "none",
      log,
      onCheckpoint: (info) => {
        let report: CheckpointReport | undefined;
        if (job.report) {
          for (const [measure, values] of Object.entries(info.results)) {
            for (const [k, v] of Object.entries(values)) {
              const isVector = Array.isArray(v) ? v.every((x) => typeof x === "number") : v !== null && typeof v === "object" && "data" in v && "shape" in v;
              if (typeof v !== "number" && v !== null && !isVector) jsonNames.add(`${measure}.${k}`);
            }
          }
          const store = RunStore.open(job.lab);
          try {
            report = readCheckpointReport(store, info.runId, info.tokens, [...jsonNames]);
          } finally {
            store.close();
          }
          // On disk (shared storage for queue workers) before it is sent: see safeResumePoint.
          writeReport(runDir(job.lab, info.runId), report);
        }
        const icl = info.results.icl?.score;
        send({
          type: "checkpoint",
          key: job.key,
          runId: info.runId,
          tokens: info.tokens,
          totalTokens,
          loss: info.loss,
          icl: typeof icl === "number" ? icl : null,
          report,
          worker,
          replayed: false,
        });
      },
    });
    send({
      type: "done",
      key: job.key,
      runId: result.runId,
      finished: result.finished,
      tokens: result.tokens,
      steps: result.steps,
      lastLoss: result.lastLoss,
      resumedFrom: result.resumedFrom,
      seconds: (performance.now() - t0) / 1000,
    });
  } catch (e) {
    send({ type: "error", key: job.key, runId, message: e instanceof Error ? e.message : String(e) });
  }
}

/** Kills this process when the parent that forked it is gone (checked from a thread of its own). */
function startWatchdog(): void {
  const code = `
    const { workerData } = require("node:worker_threads");
    setInterval(() => {
      if (process.ppid !== workerData.ppid) process.kill(workerData.pid, "SIGKILL");
    }, 250);`;
  new Worker(code, { eval: true, workerData: { ppid: process.ppid, pid: process.pid }, execArgv: [] }).unref();
}

async function main(): Promise<void> {
  if (!process.send) throw new Error("trainer-child.ts must be started with an IPC channel (child_process.fork)");
  const i = process.argv.indexOf("--data-module");
  const mod: DataModule = i < 0 ? {} : ((await import(pathToFileURL(resolve(process.argv[i + 1])).href)) as DataModule);
  startWatchdog();
  const send = (m: ChildMessage) => process.send!(m);
  let queue = Promise.resolve();
  process.on("message", (m: ParentMessage) => {
    if (m.type === "exit") process.disconnect();
    else if (m.type === "run") queue = queue.then(() => runJob(m.job, mod, send));
  });
  // The parent closing the channel (or dying, when the loop lets this run) ends this process.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", pid: process.pid });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
