/**
 * Sweeps across machines on BullMQ (Redis). The coordinator (`icl-lab sweep SPEC --queue URL`)
 * adds one job per run to the queue `runs` with jobId = the run id, so submitting a spec again
 * adds nothing that is already queued, running or done (a failed job is retried). Workers
 * (`icl-lab worker`, worker.ts) train the jobs and send what each checkpoint stored, as jobs of the
 * sweep's results queue (`results.<sweep name>`), which the coordinator consumes in order and
 * writes into its lab's store. Results wait in Redis while no coordinator is listening (`--detach`,
 * or a coordinator that was stopped): the next one to run collects them.
 *
 * A worker that dies stops renewing its job's lock; after `lockDuration` BullMQ's stalled-job
 * check (run by every worker) returns the job to the queue and another worker takes it. It resumes
 * from the last resume checkpoint only if it can see the dead worker's run folder: workers started
 * with `--shared DIR` on a filesystem they all mount keep run folders (checkpoints and resume
 * state) there; without it the run restarts from zero. Only run folders are shared: each worker's
 * lab (its SQLite store, its data cache) stays local — SQLite's WAL mode does not work across
 * machines on a network filesystem.
 *
 * Redis that cannot be reached is an error within `connectTimeoutMs` (default 3 s), not a hang;
 * one lost for longer than `lostAfterMs` later ends the command with an error too.
 */
import { hostname } from "node:os";
import { Queue, Worker, type Job, type JobState } from "bullmq";
import { headline } from "../measure/headline.ts";
import { RunStore, resolveLabDir } from "../store/run-store.ts";
import { findRun, type SweepRun } from "./expand.ts";
import { writeCheckpointReport, type CheckpointReport } from "./records.ts";
import type { TrainConfig } from "../train/config.ts";
import { bullConnection, checkRedis, type ConnectOptions, RedisUnreachable, watchRedis } from "./redis.ts";

// bench/sweep.ts reaches these through queue.ts.
export { checkRedis, redisOptions } from "./redis.ts";

/** The default namespace: every key BullMQ writes starts with it. */
export const DEFAULT_NAMESPACE = "icl-lab";
export const RUNS_QUEUE = "runs";
export const resultsQueueName = (sweep: string): string => `results.${sweep}`;

/** What a run job carries. */
export interface RunJobData {
  sweep: string;
  /** The training-config input. */
  config: Record<string, unknown>;
  /** Where the worker sends results. */
  results: string;
}

/** What a results job carries: one message of a worker about a run. */
export type ResultMessage =
  | { type: "started"; runId: string; config: TrainConfig; resumedFrom: number | null; totalTokens: number; worker: string; jobId: string }
  | {
      type: "checkpoint";
      runId: string;
      tokens: number;
      totalTokens: number;
      loss: number;
      icl: number | null;
      report: CheckpointReport;
      worker: string;
      jobId: string;
      replayed: boolean;
    }
  | { type: "done"; runId: string; finished: boolean; tokens: number; worker: string; jobId: string }
  | { type: "failed"; runId: string | null; error: string; worker: string; jobId: string };

/** Job progress as shown by `sweep status`. */
export interface RunProgress {
  runId: string;
  tokens: number;
  totalTokens: number;
  loss: number;
  worker: string;
}

export function runsQueue(url: string, options: ConnectOptions = {}): Queue<RunJobData> {
  return new Queue<RunJobData>(RUNS_QUEUE, { connection: bullConnection(url, options), prefix: options.namespace ?? DEFAULT_NAMESPACE });
}

export interface SubmitSummary {
  /** Jobs added now. */
  added: SweepRun[];
  /** Jobs already queued, running or completed (idempotent re-submission). */
  existing: Array<{ run: SweepRun; state: JobState | "unknown" }>;
  /** Failed jobs sent back to the queue. */
  retried: SweepRun[];
  /** Runs finished in the coordinator's lab: not submitted. */
  finished: SweepRun[];
}

/** Adds a job per run not yet finished in `lab`; existing jobs are left alone, failed ones retried. */
export async function submitSweep(queue: Queue<RunJobData>, sweep: string, runs: readonly SweepRun[], lab?: string): Promise<SubmitSummary> {
  const summary: SubmitSummary = { added: [], existing: [], retried: [], finished: [] };
  const store = RunStore.open(lab);
  try {
    for (const run of runs) {
      if (findRun(store, run)?.status === "finished") {
        summary.finished.push(run);
        continue;
      }
      const job = await queue.getJob(run.id);
      if (job) {
        const state = await job.getState();
        if (state === "failed") {
          await job.retry("failed");
          summary.retried.push(run);
        } else summary.existing.push({ run, state });
        continue;
      }
      await queue.add(
        "train",
        { sweep, config: run.config, results: resultsQueueName(sweep) },
        {
          jobId: run.id,
          // A trainer process that dies is retried once (it resumes); a training error is not (UnrecoverableError).
          attempts: 2,
          backoff: { type: "fixed", delay: 1000 },
          removeOnComplete: false,
          removeOnFail: false,
        },
      );
      summary.added.push(run);
    }
  } finally {
    store.close();
  }
  return summary;
}

export interface RunStatusRow {
  run: SweepRun;
  /** The job's state in the queue ("absent": never submitted, or removed). */
  job: JobState | "absent" | "—";
  /** The coordinator's store: the run's status there, or "—". */
  stored: string;
  runId: string;
  tokens: number;
  totalTokens: number | null;
  trainLoss: number | null;
  iclScore: number | null;
  worker: string | null;
  error: string | null;
}

/** Each run's state: in the coordinator's store, and in the queue when one is given. */
export async function sweepStatus(runs: readonly SweepRun[], options: { lab?: string; queue?: Queue<RunJobData> }): Promise<RunStatusRow[]> {
  const store = RunStore.open(options.lab);
  const rows: RunStatusRow[] = [];
  try {
    for (const run of runs) {
      const info = findRun(store, run);
      const job = options.queue ? await options.queue.getJob(run.id) : undefined;
      const progress = job?.progress as Partial<RunProgress> | undefined;
      const state = options.queue ? (job ? await job.getState() : "absent") : "—";
      const perStep = run.resolved.batch * run.resolved.model.nCtx;
      rows.push({
        run,
        job: state === "unknown" ? "absent" : state,
        stored: info ? (info.stale ? "stale" : info.status) : "—",
        runId: info?.id ?? progress?.runId ?? run.id,
        tokens: Math.max(info?.tokens ?? 0, typeof progress?.tokens === "number" ? progress.tokens : 0),
        totalTokens: Math.ceil(run.resolved.tokens / perStep) * perStep,
        ...(info ? headline(store, info.id) : { trainLoss: null, iclScore: null }),
        worker: typeof progress?.worker === "string" ? progress.worker : null,
        error: job?.failedReason || info?.error || null,
      });
    }
  } finally {
    store.close();
  }
  return rows;
}

export type CoordinatorEvent =
  | { type: "submitted"; summary: SubmitSummary }
  | { type: "result"; message: ResultMessage }
  | { type: "result-failed"; message: ResultMessage; error: string }
  | { type: "job-failed"; run: SweepRun; error: string }
  | { type: "waiting"; done: number; total: number };

export interface CoordinateOptions extends ConnectOptions {
  lab?: string;
  /** Where checkpoint files are visible to the coordinator (the workers' `--shared` folder). */
  shared?: string;
  /** Return right after submitting. */
  detach?: boolean;
  /** Poll interval for job states (default 500 ms). */
  pollMs?: number;
  /** End with an error when Redis has not answered for this long (default 60 s). */
  lostAfterMs?: number;
  onEvent?: (e: CoordinatorEvent) => void;
  /** Resolves to stop waiting early (Ctrl-C): the jobs keep running on the workers. */
  stop?: Promise<void>;
}

export interface CoordinateResult {
  summary: SubmitSummary;
  /** Final job state per run ("finished": finished in the lab, not submitted). */
  states: Map<SweepRun, JobState | "finished" | "absent" | "unknown">;
  /** False when stopped early or detached. */
  complete: boolean;
}

/**
 * Submits the runs and, unless detached, writes results into the lab as they arrive until every
 * job is completed or failed and the results queue is empty.
 */
export async function coordinateSweep(url: string, sweep: string, runs: readonly SweepRun[], options: CoordinateOptions = {}): Promise<CoordinateResult> {
  const emit = options.onEvent ?? (() => {});
  await checkRedis(url, options);
  const lab = resolveLabDir(options.lab);
  const queue = runsQueue(url, options);
  queue.on("error", () => {}); // connection errors: the health check reports them
  let lost: string | null = null;
  let wake: () => void = () => {};
  const watch = watchRedis(
    url,
    (m) => {
      lost = m;
      wake();
    },
    { lostAfterMs: options.lostAfterMs },
  );
  let results: Worker<ResultMessage> | null = null;
  const states = new Map<SweepRun, JobState | "finished" | "absent" | "unknown">();
  try {
    const summary = await submitSweep(queue, sweep, runs, lab);
    emit({ type: "submitted", summary });
    for (const r of summary.finished) states.set(r, "finished");
    if (options.detach) return { summary, states, complete: false };

    const store = RunStore.open(lab);
    const resultsName = resultsQueueName(sweep);
    const resultsQueue = new Queue<ResultMessage>(resultsName, { connection: bullConnection(url, options), prefix: options.namespace ?? DEFAULT_NAMESPACE });
    resultsQueue.on("error", () => {});
    try {
      // One at a time, in order: a run's "started" comes before its checkpoints.
      results = new Worker<ResultMessage>(
        resultsName,
        async (job: Job<ResultMessage>) => {
          applyResult(store, job.data, options.shared);
          emit({ type: "result", message: job.data });
        },
        { connection: bullConnection(url, options), prefix: options.namespace ?? DEFAULT_NAMESPACE, concurrency: 1 },
      );
      results.on("error", () => {});
      results.on("failed", (job, err) => {
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) emit({ type: "result-failed", message: job.data, error: err.message });
      });
      let stopped = false;
      void options.stop?.then(() => {
        stopped = true;
        wake();
      });
      const open = runs.filter((r) => !states.has(r));
      const failedSeen = new Set<string>();
      for (;;) {
        if (lost) throw new RedisUnreachable(`${lost}; the jobs stay queued and the results wait in Redis: run the same command again to collect them`);
        if (stopped) return { summary, states, complete: false };
        let done = 0;
        for (const run of open) {
          const state = await queue.getJobState(run.id);
          states.set(run, state);
          if (state === "completed") done++;
          else if (state === "failed") {
            done++;
            const job = await queue.getJob(run.id);
            const error = job?.failedReason ?? "failed";
            if (!failedSeen.has(run.id)) {
              failedSeen.add(run.id);
              markJobFailed(store, run, error);
              emit({ type: "job-failed", run, error });
            }
          } else if (state === "unknown") done++; // removed from the queue by someone: nothing to wait for
        }
        const counts = await resultsQueue.getJobCounts("waiting", "active", "delayed", "prioritized");
        const queued = Object.values(counts).reduce((a, b) => a + b, 0);
        emit({ type: "waiting", done: done + summary.finished.length, total: runs.length });
        if (done === open.length && queued === 0) return { summary, states, complete: true };
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, options.pollMs ?? 500);
        });
      }
    } finally {
      await results?.close();
      await resultsQueue.close();
      store.close();
    }
  } finally {
    watch.stop();
    await queue.close();
  }
}

/** Writes one worker message into the coordinator's store. */
export function applyResult(store: RunStore, m: ResultMessage, shared?: string): void {
  if (m.type === "started") {
    const existed = store.getRun(m.runId) !== undefined;
    store.createRun({ id: m.runId, experiment: m.config.experiment, kind: m.config.model.kind, config: m.config });
    store.setStatus(m.runId, "running");
    // As the trainer does with its own store: forget what a dead attempt logged past the point this
    // one resumes from (it logs those checkpoints again; from zero when nothing was shared).
    if (existed) store.rewind(m.runId, m.resumedFrom ?? 0);
  } else if (m.type === "checkpoint") {
    if (store.getRun(m.runId)) writeCheckpointReport(store, m.report, shared);
  } else if (m.type === "done") {
    if (store.getRun(m.runId) && m.finished) store.setStatus(m.runId, "finished");
  } else if (m.type === "failed") {
    if (m.runId !== null && store.getRun(m.runId)) store.setStatus(m.runId, "failed", { error: m.error });
  }
}

/** A job BullMQ gave up on (crashed twice, stalled too often): the run is failed in the lab too. */
function markJobFailed(store: RunStore, run: SweepRun, error: string): void {
  const info = findRun(store, run);
  if (info && info.status !== "finished") store.setStatus(info.id, "failed", { error });
}

/** The name of this worker in messages: host and process id. */
export const workerName = (): string => `${hostname()}:${process.pid}`;
