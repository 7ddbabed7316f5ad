/**
 * A sweep worker (`icl-lab worker --queue URL`): takes run jobs from the BullMQ queue, trains each
 * in a trainer process (trainer-child.ts; up to `concurrency` at once, each with `threadsPerRun`
 * kernel threads) and sends every checkpoint's stored records to the sweep's results queue, where
 * the coordinator picks them up (queue.ts). Training runs outside this process so that its event
 * loop stays free to renew job locks: a lock left to expire hands the job to another worker.
 *
 * Failure handling: a training error (bad config, diverged loss) fails the job for good
 * (UnrecoverableError); a trainer process that dies fails this attempt and BullMQ retries the job
 * once (it resumes); a worker that dies loses its locks and the jobs go to other workers after
 * `lockDurationMs`. `stop()` (Ctrl-C) ends the trainer processes and puts their jobs straight back
 * in the queue.
 */
import { availableParallelism } from "node:os";
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import { resolveLabDir } from "../store/run-store.ts";
import { DEFAULT_NAMESPACE, RUNS_QUEUE, workerName, type ResultMessage, type RunJobData, type RunProgress } from "./queue.ts";
import { bullConnection, checkRedis, watchRedis, type ConnectOptions } from "./redis.ts";
import type { ChildJob, ChildMessage } from "./trainer-child.ts";
import { TrainFailed, TrainerProcess, type DoneMessage } from "./trainer-process.ts";

export type WorkerEvent =
  | { type: "ready"; concurrency: number; threadsPerRun: number }
  | { type: "job-started"; jobId: string; sweep: string; attempt: number }
  | { type: "run-started"; jobId: string; runId: string; resumedFrom: number | null }
  | { type: "checkpoint"; jobId: string; runId: string; tokens: number; totalTokens: number; loss: number }
  | { type: "job-finished"; jobId: string; runId: string; seconds: number }
  | { type: "job-failed"; jobId: string; error: string; willRetry: boolean }
  | { type: "log"; jobId: string; line: string }
  | { type: "lost-redis"; message: string };

/** Trains one job (default: in a trainer process); replaced in the queue benchmark. */
export type TrainJob = (job: ChildJob, onMessage: (m: ChildMessage) => void) => Promise<DoneMessage>;

export interface SweepWorkerOptions extends ConnectOptions {
  lab?: string;
  /** A folder every worker mounts at the same path, for run folders (see queue.ts). */
  shared?: string;
  /** Runs trained at once (default 1). */
  concurrency?: number;
  /** Kernel threads per run (default: floor(cores / concurrency)). */
  threadsPerRun?: number;
  /** See trainer-child.ts (tests: synthetic data). */
  dataModule?: string;
  /** How long a job stays claimed by a worker that stopped renewing it (default 30 s). */
  lockDurationMs?: number;
  /** How often this worker looks for jobs whose lock expired (default: lockDuration / 2, at most 30 s). */
  stalledIntervalMs?: number;
  /** End when Redis has not answered for this long (default 60 s). */
  lostAfterMs?: number;
  onEvent?: (e: WorkerEvent) => void;
  train?: TrainJob;
}

export interface SweepWorker {
  readonly name: string;
  /** Ctrl-C: ends training now, returns the jobs to the queue, closes the connections. */
  stop(): Promise<void>;
  /** Resolves when the worker has stopped (after stop(), or with an error when Redis is lost). */
  readonly closed: Promise<void>;
}

export async function startSweepWorker(url: string, options: SweepWorkerOptions = {}): Promise<SweepWorker> {
  await checkRedis(url, options);
  const emit = options.onEvent ?? (() => {});
  const concurrency = options.concurrency ?? 1;
  const threadsPerRun = options.threadsPerRun ?? Math.max(1, Math.floor(availableParallelism() / concurrency));
  const lockDuration = options.lockDurationMs ?? 30_000;
  const name = workerName();
  const trainers = trainerProcesses(threadsPerRun, options.dataModule);
  const results = resultQueues(url, options);

  let stopping = false;
  const processor = jobProcessor({
    train: options.train ?? trainers.train,
    send: (queueName, m) => results.get(queueName).add(m.type, m, { removeOnComplete: true, removeOnFail: 1000, attempts: 3 }),
    emit,
    lab: resolveLabDir(options.lab),
    shared: options.shared,
    worker: name,
    stopping: () => stopping,
  });
  const worker = new Worker<RunJobData>(RUNS_QUEUE, processor, {
    connection: bullConnection(url, options),
    prefix: options.namespace ?? DEFAULT_NAMESPACE,
    concurrency,
    lockDuration,
    stalledInterval: options.stalledIntervalMs ?? Math.min(30_000, Math.max(500, Math.floor(lockDuration / 2))),
    // A job whose worker died is handed on up to twice before it counts as failed.
    maxStalledCount: 2,
  });
  worker.on("error", () => {}); // connection trouble: the health check decides

  let resolveClosed!: () => void;
  let rejectClosed!: (e: Error) => void;
  const closed = new Promise<void>((resolve, reject) => {
    resolveClosed = resolve;
    rejectClosed = reject;
  });
  closed.catch(() => {});
  const shutdown = async () => {
    stopping = true;
    watch.stop();
    await worker.pause(true).catch(() => {});
    trainers.killAll();
    await worker.close().catch(() => {});
    await results.closeAll();
  };
  const watch = watchRedis(
    url,
    (message) => {
      emit({ type: "lost-redis", message });
      void shutdown().then(() => rejectClosed(new Error(message)));
    },
    { lostAfterMs: options.lostAfterMs },
  );

  await worker.waitUntilReady();
  emit({ type: "ready", concurrency, threadsPerRun });
  return {
    name,
    closed,
    async stop() {
      await shutdown();
      resolveClosed();
    },
  };
}

/** Trainer processes reused from job to job: `train` takes an idle live one or starts one; `killAll` ends them all. */
function trainerProcesses(threads: number, dataModule: string | undefined): { train: TrainJob; killAll(): void } {
  const idle: TrainerProcess[] = [];
  const busy = new Set<TrainerProcess>();
  return {
    async train(job, onMessage) {
      let proc = idle.pop();
      while (proc && !proc.alive) proc = idle.pop();
      proc ??= new TrainerProcess({ threads, dataModule });
      busy.add(proc);
      try {
        return await proc.run(job, onMessage);
      } finally {
        busy.delete(proc);
        if (proc.alive) idle.push(proc);
      }
    },
    killAll() {
      for (const p of [...busy, ...idle]) p.kill();
    },
  };
}

/** The sweeps' results queues, opened when first written to. */
function resultQueues(url: string, options: ConnectOptions): { get(queueName: string): Queue<ResultMessage>; closeAll(): Promise<void> } {
  const queues = new Map<string, Queue<ResultMessage>>();
  return {
    get(queueName) {
      let q = queues.get(queueName);
      if (!q) {
        q = new Queue<ResultMessage>(queueName, { connection: bullConnection(url, options), prefix: options.namespace ?? DEFAULT_NAMESPACE });
        q.on("error", () => {});
        queues.set(queueName, q);
      }
      return q;
    },
    async closeAll() {
      await Promise.all([...queues.values()].map((q) => q.close().catch(() => {})));
    },
  };
}

interface ProcessorContext {
  train: TrainJob;
  /** Adds a result message to a results queue. */
  send: (queueName: string, m: ResultMessage) => Promise<unknown>;
  emit: (e: WorkerEvent) => void;
  lab: string;
  shared: string | undefined;
  /** This worker's name, in every result. */
  worker: string;
  /** True once the worker is stopping (Ctrl-C): a job that ends then goes back to the queue. */
  stopping: () => boolean;
}

/** BullMQ's processor for run jobs: trains the job, relaying its checkpoints to the sweep's results queue in order. */
function jobProcessor(ctx: ProcessorContext) {
  const { emit, worker: name } = ctx;
  return async (job: Job<RunJobData>, token?: string) => {
    const jobId = job.id!;
    const t0 = performance.now();
    emit({ type: "job-started", jobId, sweep: job.data.sweep, attempt: job.attemptsMade + 1 });
    // Results go out in order, each awaited before the next, and all before the job completes.
    let chain: Promise<unknown> = Promise.resolve();
    const send = (m: ResultMessage) => {
      chain = chain.then(() => ctx.send(job.data.results, m));
    };
    let runId: string | null = null;
    try {
      const done = await ctx.train({ key: jobId, config: job.data.config, lab: ctx.lab, shared: ctx.shared, report: true }, (m) => {
        if (m.type === "started") {
          runId = m.runId;
          send({ type: "started", runId: m.runId, config: m.config, resumedFrom: m.resumedFrom, totalTokens: m.totalTokens, worker: name, jobId });
          emit({ type: "run-started", jobId, runId: m.runId, resumedFrom: m.resumedFrom });
        } else if (m.type === "checkpoint") {
          const { tokens, totalTokens, loss, icl, replayed } = m;
          send({ type: "checkpoint", runId: m.runId, tokens, totalTokens, loss, icl, report: m.report!, worker: name, jobId, replayed });
          if (replayed) return;
          const progress: RunProgress = { runId: m.runId, tokens, totalTokens, loss, worker: name };
          chain = chain.then(() => job.updateProgress(progress as unknown as object));
          emit({ type: "checkpoint", jobId, runId: m.runId, tokens, totalTokens, loss });
        } else if (m.type === "log") emit({ type: "log", jobId, line: m.line });
      });
      send({ type: "done", runId: done.runId, finished: done.finished, tokens: done.tokens, worker: name, jobId });
      await chain;
      emit({ type: "job-finished", jobId, runId: done.runId, seconds: (performance.now() - t0) / 1000 });
      return { runId: done.runId, tokens: done.tokens, finished: done.finished, worker: name };
    } catch (e) {
      await chain.catch(() => {});
      if (ctx.stopping()) {
        // Back to the queue now rather than after the lock expires; not counted as an attempt.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const error = e instanceof Error ? e.message : String(e);
      const final = e instanceof TrainFailed || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      emit({ type: "job-failed", jobId, error, willRetry: !final });
      if (final) {
        send({ type: "failed", runId: e instanceof TrainFailed ? e.runId : runId, error, worker: name, jobId });
        await chain.catch(() => {});
      }
      if (e instanceof TrainFailed) throw new UnrecoverableError(error);
      throw e;
    }
  };
}
