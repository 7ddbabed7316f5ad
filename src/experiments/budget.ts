/**
 * `--minutes M`: the largest training budget (tokens per run, the same for every run) whose
 * experiment fits M minutes of wall time on this machine, from throughput measured here and now.
 *
 * Each distinct run (model, batch, precision, measurements) is timed in this process at the
 * pool's thread count (src/train/throughput.ts: training steps on random tokens after a warm-up;
 * the run's own measurements once, on its real evaluation data and an untrained model — their
 * cost does not depend on training). A run's time is then tokens ÷ training rate + its
 * checkpoints × one checkpoint's measurements, and the experiment's the pool's makespan: runs
 * start longest first (src/sweep/local-pool.ts `estimatedCost`) on the first free process. The
 * budget is the largest token count, rounded down to two significant digits, whose makespan is
 * within M minutes less a margin (MARGIN: two runs side by side on a 2-core machine train ~10%
 * slower than one alone, measured on the demo; data preparation and the report take seconds).
 *
 * The chosen budget is stored in the lab (budgets/<key>.json) and reused by the same command, so
 * that an interrupted experiment resumes its runs (a run's id depends on its token count) instead
 * of starting new ones from a slightly different measurement.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { logSpacedCheckpoints } from "../train/schedule.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { canonicalJson } from "../util/json.ts";
import { availableParallelism } from "node:os";
import type { TrainConfig } from "../train/config.ts";
import { estimatedCost, planPool } from "../sweep/local-pool.ts";
import { tokensText } from "./common.ts";
import type { ExperimentDefinition, ResolvedOptions } from "./types.ts";

/** Share of the wall time kept free: two trainers on 2 cores, data preparation, the report. */
export const MARGIN = 0.12;

/** What one run costs on this machine. */
export interface RunTiming {
  /** Training tokens per second at the pool's thread count. */
  trainRate: number;
  /** Seconds of one checkpoint's measurements. */
  measureSeconds: number;
}

/** Seconds a run of `tokens` takes: training plus its checkpoints' measurements. */
export function runSeconds(config: Pick<TrainConfig, "batch" | "model" | "checkpoints">, tokens: number, t: RunTiming): number {
  const perStep = config.batch * config.model.nCtx;
  const first = Math.min(config.checkpoints.first ?? perStep, tokens);
  const checkpoints = logSpacedCheckpoints(tokens, perStep, config.checkpoints.perDecade, first).length;
  return tokens / t.trainRate + checkpoints * t.measureSeconds;
}

/** Wall seconds of jobs (in the order they start) on `processes` processes, each taking the first free one. */
export function makespan(seconds: readonly number[], processes: number): number {
  const free = new Array<number>(Math.max(1, processes)).fill(0);
  for (const s of seconds) {
    let i = 0;
    for (let k = 1; k < free.length; k++) if (free[k] < free[i]) i = k;
    free[i] += s;
  }
  return Math.max(...free);
}

/** Rounds down to two significant digits (a budget that reads as a number: 180M, 2.4M). */
export function roundDown2(n: number): number {
  if (n < 100) return Math.max(1, Math.floor(n));
  const unit = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.floor(n / unit) * unit;
}

export interface BudgetRun {
  name: string;
  config: Pick<TrainConfig, "batch" | "model" | "checkpoints">;
  timing: RunTiming;
}

/**
 * The largest token count (two significant digits, at least one step of the smallest run) whose
 * makespan fits `seconds`, and that makespan; null when even the smallest budget does not fit.
 */
export function fitTokens(runs: readonly BudgetRun[], seconds: number, processes: number): { tokens: number; seconds: number } | null {
  const span = (tokens: number) => {
    const order = [...runs].sort((a, b) => estimatedCost({ tokens, model: b.config.model }) - estimatedCost({ tokens, model: a.config.model }));
    return makespan(
      order.map((r) => runSeconds(r.config, tokens, r.timing)),
      processes,
    );
  };
  const minTokens = Math.max(...runs.map((r) => r.config.batch * r.config.model.nCtx));
  if (span(minTokens) > seconds) return null;
  // The makespan grows with the budget: bisect over log tokens, then round down.
  let lo = minTokens,
    hi = minTokens;
  while (span(hi) <= seconds && hi < 1e13) hi *= 2;
  for (let i = 0; i < 60 && hi - lo > 1; i++) {
    const mid = Math.floor((lo + hi) / 2);
    if (span(mid) <= seconds) lo = mid;
    else hi = mid;
  }
  const tokens = Math.max(minTokens, roundDown2(lo));
  return { tokens, seconds: span(tokens) };
}

export interface StoredBudget {
  key: string;
  minutes: number;
  tokens: number;
  /** The estimated wall time of the experiment at that budget (seconds). */
  seconds: number;
  /** When it was measured (ISO), and the per-run timings it came from. */
  measuredAt: string;
  timings: Record<string, RunTiming>;
}

/** The file that holds the budget chosen for one command (experiment, minutes and the options that change its runs). */
export function budgetPath(lab: string, what: Record<string, unknown>): { path: string; key: string } {
  const key = createHash("sha256").update(canonicalJson(what)).digest("hex").slice(0, 12);
  return { path: join(lab, "budgets", `${key}.json`), key };
}

export function readBudget(path: string): StoredBudget | null {
  if (!existsSync(path)) return null;
  try {
    const b = JSON.parse(readFileSync(path, "utf8")) as StoredBudget;
    return Number.isInteger(b.tokens) && b.tokens > 0 ? b : null;
  } catch {
    return null;
  }
}

export function saveBudget(path: string, b: StoredBudget): void {
  writeFileAtomic(path, `${JSON.stringify(b, null, 2)}\n`);
}

/** The plan's note on a budget: the tokens, where they came from, the rates and the estimated wall time. */
export function budgetNote(b: StoredBudget, reused: boolean, threadsPerRun: number): string {
  const rates = Object.entries(b.timings)
    .map(([name, t]) => `${name} ${Math.round(t.trainRate / 1000)}k tokens/s + ${t.measureSeconds.toFixed(1)} s per checkpoint`)
    .join("; ");
  return (
    `--minutes ${b.minutes}: ${tokensText(b.tokens)} tokens per run, estimated ${(b.seconds / 60).toFixed(1)} minutes of training and measurement ` +
    `(${reused ? `the budget chosen on ${b.measuredAt.slice(0, 16).replace("T", " ")} UTC, kept so that the runs resume` : "measured now"}: ` +
    `${threadsPerRun} thread${threadsPerRun === 1 ? "" : "s"} per run; ${rates})`
  );
}

/**
 * Times one run here: its training throughput at `threads` kernel threads and its precision, and
 * one checkpoint's measurements on its real evaluation data (an untrained model: their cost does
 * not depend on training).
 */
export async function timeRun(config: TrainConfig, lab: string, threads: number): Promise<RunTiming> {
  const { data } = await import("./data.ts");
  const { atThreads, measureThroughput } = await import("../train/throughput.ts");
  const { timeMeasurements } = await import("../train/measures.ts");
  const { buildModel } = await import("../model/model.ts");
  const d = await data(config, lab);
  const precision = config.precision ?? "fp32";
  const trainRate = measureThroughput(config.model, config.batch, { threads, precision, seconds: 1.5 });
  if (config.measures.length === 0) return { trainRate, measureSeconds: 0 };
  const model = buildModel(config.model, config.seed);
  return atThreads(threads, precision, async () => {
    await timeMeasurements(config, d, model); // warm-up: first calls pay for code and buffers
    return { trainRate, measureSeconds: await timeMeasurements(config, d, model) };
  });
}

/**
 * The budget of `--minutes` for an experiment's plan: the one stored for the same command, else
 * measured now (each distinct run timed once) and stored. Returns the tokens per run and the
 * notes the plan prints (the rates, the estimate, and a warning when the budget is below where
 * the calibrated setting formed its first induction head).
 */
export async function budgetForMinutes(
  def: Pick<ExperimentDefinition, "name" | "headsFrom">,
  options: ResolvedOptions,
  /** The plan's runs, checked and resolved as the trainer will (plan.ts). */
  runs: ReadonlyArray<{ name: string; resolved: TrainConfig }>,
  ctx: { lab: string; minutes: number; jobs?: number; log: (line: string) => void },
): Promise<{ tokens: number; notes: string[] }> {
  const cores = availableParallelism();
  const shape = planPool(runs.length, cores, ctx.jobs !== undefined ? { processes: ctx.jobs, threadsPerRun: Math.max(1, Math.floor(cores / ctx.jobs)) } : {});
  const { path, key } = budgetPath(ctx.lab, { experiment: def.name, minutes: ctx.minutes, runs: runs.map((r) => r.name), scale: options.scale, ...shape });
  let budget = readBudget(path);
  const reused = budget !== null;
  if (budget === null) {
    ctx.log(`--minutes ${ctx.minutes}: timing ${runs.length} run${runs.length === 1 ? "" : "s"} on this machine (${shape.threadsPerRun} thread(s) each)…`);
    const byShape = new Map<string, RunTiming>();
    const timings: Record<string, RunTiming> = {};
    const budgetRuns: BudgetRun[] = [];
    for (const r of runs) {
      const c = r.resolved;
      const shapeKey = JSON.stringify([c.model, c.batch, c.precision, c.measures, c.measureOptions ?? {}, c.data.evalWindows]);
      let t = byShape.get(shapeKey);
      if (t === undefined) {
        t = await timeRun(c, ctx.lab, shape.threadsPerRun);
        byShape.set(shapeKey, t);
        timings[r.name] = t;
      }
      budgetRuns.push({ name: r.name, config: c, timing: t });
    }
    const fit = fitTokens(budgetRuns, ctx.minutes * 60 * (1 - MARGIN), shape.processes);
    if (fit === null) throw new Error(`--minutes ${ctx.minutes}: not even one training step of every run fits; give more minutes`);
    budget = { key, minutes: ctx.minutes, tokens: fit.tokens, seconds: fit.seconds, measuredAt: new Date().toISOString(), timings };
    saveBudget(path, budget);
  }
  const notes = [budgetNote(budget, reused, shape.threadsPerRun)];
  const heads = headsNote(def, budget.tokens, options.scale);
  if (heads !== null) notes.push(heads);
  return { tokens: budget.tokens, notes };
}

/** A note when `tokens` is below where the experiment's calibrated setting formed its first induction head; null otherwise. */
export function headsNote(def: Pick<ExperimentDefinition, "headsFrom">, tokens: number, scale: ResolvedOptions["scale"]): string | null {
  // The smoke scale's tiny models form nothing at any budget; its note would say nothing.
  if (scale !== "default" || def.headsFrom === undefined || tokens >= def.headsFrom.tokens) return null;
  return (
    `the budget (${tokensText(tokens)} tokens per run) is below ${tokensText(def.headsFrom.tokens)}, where ${def.headsFrom.what}: ` +
    "expect no induction head and no phase change; the runs show the plateau before it (give more minutes or tokens to see it)"
  );
}
