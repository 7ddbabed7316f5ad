/**
 * The default way a sweep runs: a pool of trainer processes on this machine, all writing into one
 * lab (the runs store is safe for several processes). The pool is sized so the cores are not
 * oversubscribed: each process trains with `threadsPerRun` kernel threads and there are
 * floor(cores / threadsPerRun) of them. By default threadsPerRun is 1 when there are at least as
 * many runs as cores (small models use a core better one run per core than several cores per run),
 * else the cores are shared out evenly among the runs.
 *
 * Runs start longest first (estimated from tokens × model size, see estimatedCost), so that the
 * pool's processes end at about the same time (3 runs on 2 cores: the 3-layer model on one, the
 * 2- and 1-layer models after each other on the other).
 *
 * Runs already finished in the lab are skipped; interrupted ones resume (the trainer does that when
 * given the same config); a trainer process that dies mid-run is replaced and the run retried once
 * (it resumes from its last resume checkpoint). A run whose training throws is not retried: the
 * error (a diverged loss, a bad data source) would repeat.
 */
import { availableParallelism } from "node:os";
import { RunStore, resolveLabDir } from "../store/run-store.ts";
import { findRun, type SweepRun } from "./expand.ts";
import type { ChildMessage } from "./trainer-child.ts";
import { TrainFailed, TrainerCrashed, TrainerProcess, type DoneMessage } from "./trainer-process.ts";

export type PoolEvent =
  | { type: "plan"; pending: number; skipped: number; processes: number; threadsPerRun: number }
  | { type: "skipped"; run: SweepRun; runId: string }
  | { type: "started"; run: SweepRun; runId: string; resumedFrom: number | null; totalTokens: number }
  | { type: "checkpoint"; run: SweepRun; runId: string; tokens: number; totalTokens: number; loss: number; icl: number | null }
  | { type: "log"; run: SweepRun; line: string }
  | { type: "finished"; run: SweepRun; done: DoneMessage }
  | { type: "retry"; run: SweepRun; reason: string }
  | { type: "failed"; run: SweepRun; runId: string | null; error: string };

export interface LocalPoolOptions {
  lab?: string;
  /** Kernel threads per run (default: see the module comment). */
  threadsPerRun?: number;
  /** Trainer processes (default: floor(cores / threadsPerRun), at most one per pending run). */
  processes?: number;
  /** Cores to plan for (default: os.availableParallelism()). */
  cores?: number;
  /** Retries of a run whose trainer process died (default 1). */
  retries?: number;
  /** See trainer-child.ts (tests: synthetic data). */
  dataModule?: string;
  onEvent?: (e: PoolEvent) => void;
  /** Resolves to stop (Ctrl-C): trainer processes end now, runs not started stay so. */
  stop?: Promise<void>;
}

export interface RunOutcome {
  run: SweepRun;
  /** The trainer's run id (null when the run failed before it was known). */
  runId: string | null;
  status: "finished" | "skipped" | "stopped" | "failed";
  error?: string;
}

/**
 * A rough cost of a run (arbitrary units: tokens × multiply-adds per token of a forward pass:
 * per layer 12·d² for the projections and MLP-sized blocks plus 2·T·d for attention, plus the
 * unembedding); only its order matters.
 */
export function estimatedCost(config: { tokens: number; model: object }): number {
  const m = config.model as Record<string, unknown>;
  const num = (k: string, dflt: number) => (typeof m[k] === "number" ? (m[k] as number) : dflt);
  const d = num("dModel", num("dHidden", 64)),
    L = num("nLayers", 1),
    T = num("nCtx", 512),
    V = num("dVocab", 256);
  const attention = m.kind === "lstm" || m.kind === "rnn" || m.kind === "mlp-only" ? 0 : 2 * T * d;
  return config.tokens * (L * (12 * d * d + attention) + 2 * d * V);
}

/** The pool's shape for `pending` runs on `cores` cores. */
export function planPool(
  pending: number,
  cores: number,
  options: { threadsPerRun?: number; processes?: number } = {},
): { threadsPerRun: number; processes: number } {
  const threadsPerRun = options.threadsPerRun ?? (pending >= cores ? 1 : Math.max(1, Math.floor(cores / Math.max(1, pending))));
  const processes = options.processes ?? Math.max(1, Math.min(pending, Math.floor(cores / threadsPerRun)));
  return { threadsPerRun, processes };
}

/** Runs the sweep's runs on this machine; resolves when every run has finished, failed or been skipped. */
export async function runLocalPool(runs: readonly SweepRun[], options: LocalPoolOptions = {}): Promise<RunOutcome[]> {
  const lab = resolveLabDir(options.lab);
  const emit = options.onEvent ?? (() => {});
  const outcomes = new Map<SweepRun, RunOutcome>();
  const pending: Array<{ run: SweepRun; attempts: number }> = [];
  const store = RunStore.open(lab);
  try {
    for (const run of runs) {
      const stored = findRun(store, run);
      if (stored?.status === "finished") {
        outcomes.set(run, { run, runId: stored.id, status: "skipped" });
        emit({ type: "skipped", run, runId: stored.id });
      } else pending.push({ run, attempts: 0 });
    }
  } finally {
    store.close();
  }
  // Longest first (a stable sort: equal costs keep the given order).
  pending.sort((a, b) => estimatedCost(b.run.resolved) - estimatedCost(a.run.resolved));
  const plan = planPool(pending.length, options.cores ?? availableParallelism(), options);
  emit({
    type: "plan",
    pending: pending.length,
    skipped: runs.length - pending.length,
    processes: pending.length ? plan.processes : 0,
    threadsPerRun: plan.threadsPerRun,
  });
  const retries = options.retries ?? 1;
  const procs = new Set<TrainerProcess>();
  let stopped = false;
  void options.stop?.then(() => {
    stopped = true;
    for (const r of pending.splice(0)) outcomes.set(r.run, { run: r.run, runId: null, status: "stopped", error: "interrupted" });
    for (const p of procs) p.kill();
  });

  const slot = async (): Promise<void> => {
    let proc: TrainerProcess | null = null;
    try {
      for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
        const { run } = next;
        if (proc === null || !proc.alive) {
          if (proc) procs.delete(proc);
          proc = new TrainerProcess({ threads: plan.threadsPerRun, dataModule: options.dataModule });
          procs.add(proc);
        }
        let runId: string | null = null;
        const onMessage = (m: ChildMessage) => {
          if (m.type === "started") {
            runId = m.runId;
            emit({ type: "started", run, runId: m.runId, resumedFrom: m.resumedFrom, totalTokens: m.totalTokens });
          } else if (m.type === "checkpoint") {
            emit({ type: "checkpoint", run, runId: m.runId, tokens: m.tokens, totalTokens: m.totalTokens, loss: m.loss, icl: m.icl });
          } else if (m.type === "log") emit({ type: "log", run, line: m.line });
        };
        try {
          const done = await proc.run({ key: run.id, config: run.config, lab, report: false }, onMessage);
          outcomes.set(run, { run, runId: done.runId, status: done.finished ? "finished" : "stopped" });
          emit({ type: "finished", run, done });
        } catch (e) {
          if (stopped) {
            outcomes.set(run, { run, runId, status: "stopped", error: "interrupted" });
            continue;
          }
          if (e instanceof TrainerCrashed && next.attempts < retries) {
            next.attempts++;
            emit({ type: "retry", run, reason: e.message });
            pending.unshift(next); // next in line, so it resumes while its checkpoint is fresh
            continue;
          }
          const error = e instanceof Error ? e.message : String(e);
          if (e instanceof TrainerCrashed && runId !== null) markFailed(lab, runId, error);
          outcomes.set(run, { run, runId: e instanceof TrainFailed ? e.runId : runId, status: "failed", error });
          emit({ type: "failed", run, runId, error });
        }
      }
    } finally {
      if (proc) {
        procs.delete(proc);
        await proc.close();
      }
    }
  };
  await Promise.all(Array.from({ length: pending.length ? plan.processes : 0 }, slot));
  return runs.map((r) => outcomes.get(r)!);
}

/** Records a run whose process died (twice) as failed, so `icl-lab runs` does not show it running. */
function markFailed(lab: string, runId: string, error: string): void {
  const store = RunStore.open(lab);
  try {
    if (store.getRun(runId)) store.setStatus(runId, "failed", { error });
  } finally {
    store.close();
  }
}
