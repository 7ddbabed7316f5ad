/**
 * Trains classification runs (src/train/classifier-run.ts) on a pool of processes on this machine
 * (classifier-child.ts, each with `threads` kernel threads), or one after another in this process
 * (`jobs: 0`, for tests). Each run records itself in the lab's store; the pool hands out the jobs in
 * order and collects the outcomes. Ctrl-C (`stop`) lets the runs in progress end and starts no new
 * one; the next call trains what is missing.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type ClassifierRunJob, runClassifierJob } from "../train/classifier-run.ts";
import type { ChildReply, ChildRequest } from "./classifier-child.ts";

const CHILD = fileURLToPath(new URL("./classifier-child.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

export interface PoolOutcome {
  runId: string;
  status: "finished" | "skipped" | "failed" | "stopped";
  seconds: number;
  error?: string;
}

export interface PoolOptions {
  lab: string;
  /** Processes (0: inline, in this process). */
  jobs: number;
  /** Kernel threads per process. */
  threads: number;
  log: (line: string) => void;
  /** Progress lines of every evaluation point (default: only starts and ends). */
  verbose?: boolean;
  stop?: Promise<void>;
}

export async function runClassifierJobs(jobs: readonly ClassifierRunJob[], opts: PoolOptions): Promise<PoolOutcome[]> {
  const outcomes: PoolOutcome[] = jobs.map((j) => ({ runId: j.runId, status: "stopped", seconds: 0 }));
  let stopped = false;
  void opts.stop?.then(() => {
    stopped = true;
  });
  if (opts.jobs === 0) {
    for (let i = 0; i < jobs.length && !stopped; i++) {
      try {
        const o = runClassifierJob(opts.lab, jobs[i], { log: opts.verbose ? opts.log : undefined });
        outcomes[i] = { runId: o.runId, status: o.status, seconds: o.seconds };
      } catch (e) {
        outcomes[i] = { runId: jobs[i].runId, status: "failed", seconds: 0, error: (e as Error).message };
      }
    }
    return outcomes;
  }
  let next = 0;
  const worker = async () => {
    const child: ChildProcess = fork(CHILD, ["--lab", opts.lab], {
      execArgv: ["--import", TSX],
      env: { ...process.env, ICL_LAB_THREADS: String(opts.threads) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let handler: ((m: ChildReply) => void) | null = null;
    let exited: string | null = null;
    const waiters: Array<() => void> = [];
    child.on("message", (m: ChildReply) => handler?.(m));
    child.on("exit", (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
      for (const w of waiters.splice(0)) w();
    });
    const request = (job: ClassifierRunJob) =>
      new Promise<ChildReply>((resolve) => {
        handler = (m) => {
          if (m.type === "log") {
            if (opts.verbose) opts.log(m.line);
          } else if (m.type === "done" || m.type === "failed") resolve(m);
        };
        waiters.push(() => resolve({ type: "failed", runId: job.runId, error: `its process ${exited}` }));
        child.send({ type: "run", job } satisfies ChildRequest);
      });
    try {
      while (!stopped && next < jobs.length && exited === null) {
        const i = next++;
        const t0 = performance.now();
        opts.log(`${jobs[i].runId}: started`);
        const r = await request(jobs[i]);
        const seconds = (performance.now() - t0) / 1000;
        if (r.type === "done") {
          outcomes[i] = { runId: r.outcome.runId, status: r.outcome.status, seconds };
          opts.log(`${jobs[i].runId}: ${r.outcome.status} in ${seconds.toFixed(0)} s`);
        } else if (r.type === "failed") {
          outcomes[i] = { runId: jobs[i].runId, status: "failed", seconds, error: r.error };
          opts.log(`${jobs[i].runId}: failed: ${r.error}`);
        }
      }
    } finally {
      if (exited === null) child.disconnect();
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, jobs.length) }, worker));
  return outcomes;
}
