/**
 * `icl-lab sweep SPEC`: runs a grid of training runs (a sweep spec, src/sweep/spec.ts) and prints
 * its table of results.
 *
 *   icl-lab sweep SPEC --dry-run                 the expanded runs: id and the values varied
 *   icl-lab sweep SPEC [--lab DIR]               on this machine, a pool of trainer processes
 *   icl-lab sweep SPEC --queue redis://HOST:PORT [--detach]
 *                                                as BullMQ jobs for `icl-lab worker`s; waits and
 *                                                writes their results into this lab (re-running
 *                                                submits nothing twice and collects what arrived)
 *   icl-lab sweep status SPEC [--queue URL]      where each run stands
 *   icl-lab worker --queue redis://HOST:PORT [--lab DIR] [--shared DIR] [--concurrency N]
 *
 * Finished runs are skipped, interrupted ones resume. What machines must share for a run to
 * resume on another worker: see src/sweep/queue.ts (`--shared`).
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Option, type Command } from "commander";
import { headline } from "../measure/headline.ts";
import { METRIC } from "../measure/names.ts";
import { RunStore, resolveLabDir } from "../store/run-store.ts";
import { expandSweep, findRun, formatValue, formatVaried, variedValues, type SweepRun } from "../sweep/expand.ts";
import { runLocalPool, type PoolEvent, type RunOutcome } from "../sweep/local-pool.ts";
import { coordinateSweep, runsQueue, sweepStatus, type CoordinatorEvent, type RunStatusRow } from "../sweep/queue.ts";
import { checkRedis, displayUrl } from "../sweep/redis.ts";
import { loadSweepSpec, type SweepSpec } from "../sweep/spec.ts";
import { startSweepWorker, type WorkerEvent } from "../sweep/worker.ts";
import { formatTokens } from "../util/format.ts";
import { UserError, withUserErrors } from "./errors.ts";
import { formatTable } from "./format-table.ts";
import { LAB_HELP, positiveInt } from "./options.ts";
import { stderrLog } from "./progress.ts";

interface Loaded {
  spec: SweepSpec;
  runs: SweepRun[];
}

/** Reads, expands and checks a spec: every problem is a UserError naming the field. */
export async function loadSweep(file: string, dataModule?: string): Promise<Loaded> {
  let spec: SweepSpec;
  try {
    spec = loadSweepSpec(file); // its errors start with "sweep spec FILE"
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  // A data module brings its own measurements; the trainer then knows only those.
  let measureNames: readonly string[] | undefined;
  if (dataModule !== undefined) {
    const mod = (await import(pathToFileURL(resolve(dataModule)).href)) as { measures?: Record<string, unknown> };
    if (mod.measures) measureNames = Object.keys(mod.measures);
  }
  try {
    return { spec, runs: await expandSweep(spec, { measureNames }) };
  } catch (e) {
    throw new UserError(`sweep spec ${file}: ${(e as Error).message}`);
  }
}

const namespaceOption = () =>
  new Option("--namespace <name>", "with --queue: the Redis key prefix; sweeps and workers see only their namespace's jobs (default icl-lab)").argParser(
    (v: string) => {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(v)) throw new UserError(`--namespace must be 1-64 letters, digits, '.', '_' or '-', found '${v}'`);
      return v;
    },
  );

const num = (x: number | null, digits: number) => (x === null || Number.isNaN(x) ? "—" : x.toFixed(digits));

function axisHeaders(runs: readonly SweepRun[]): string[] {
  return runs[0]?.varied.map((v) => v.path) ?? [];
}

/** The sweep's results: one row per run, its varied values, status and last metrics. */
export interface SweepTableRow {
  index: number;
  id: string;
  varied: Record<string, unknown>;
  status: string;
  tokens: number;
  trainLoss: number | null;
  iclScore: number | null;
  error: string | null;
}

export function sweepTable(lab: string, runs: readonly SweepRun[]): SweepTableRow[] {
  const store = RunStore.open(lab);
  try {
    return runs.map((run) => {
      const info = findRun(store, run);
      return {
        index: run.index,
        id: info?.id ?? run.id,
        varied: variedValues(run.varied),
        status: info ? (info.stale ? "stale" : info.status) : "not started",
        tokens: info?.tokens ?? 0,
        ...(info ? headline(store, info.id) : { trainLoss: null, iclScore: null }),
        error: info?.error ?? null,
      };
    });
  } finally {
    store.close();
  }
}

function printTable(rows: SweepTableRow[], runs: readonly SweepRun[]): void {
  const axes = axisHeaders(runs);
  process.stdout.write(
    `${formatTable(
      ["run", ...axes, "status", "tokens", METRIC.trainLoss, METRIC.iclScore],
      rows.map((r) => [r.id, ...axes.map((a) => formatValue(r.varied[a])), r.status, r.tokens, num(r.trainLoss, 4), num(r.iclScore, 3)]),
    )}\n`,
  );
}

function printStatus(rows: RunStatusRow[], runs: readonly SweepRun[], withQueue: boolean): void {
  const axes = axisHeaders(runs);
  process.stdout.write(
    `${formatTable(
      ["run", ...axes, ...(withQueue ? ["job"] : []), "in lab", "tokens", METRIC.trainLoss, METRIC.iclScore, ...(withQueue ? ["worker"] : [])],
      rows.map((r) => [
        r.runId,
        ...r.run.varied.map((v) => formatValue(v.value)),
        ...(withQueue ? [r.job] : []),
        r.stored,
        `${formatTokens(r.tokens)}/${r.totalTokens === null ? "?" : formatTokens(r.totalTokens)}`,
        num(r.trainLoss, 4),
        num(r.iclScore, 3),
        ...(withQueue ? [r.worker ?? "—"] : []),
      ]),
    )}\n`,
  );
  const counts = new Map<string, number>();
  for (const r of rows) {
    const key =
      r.stored === "finished"
        ? "finished"
        : withQueue && r.job === "completed"
          ? "completed (results not collected yet: run the sweep command)"
          : withQueue && r.job !== "absent"
            ? r.job
            : r.stored === "—"
              ? "not started"
              : r.stored;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  process.stdout.write(`${rows.length} runs: ${[...counts].map(([k, n]) => `${n} ${k}`).join(", ")}\n`);
}

/** Resolves on the first Ctrl-C (a second one exits at once). */
function interrupted(): Promise<void> {
  return new Promise((resolvePromise) => {
    process.once("SIGINT", () => {
      process.stderr.write("\nicl-lab: stopping (Ctrl-C again to quit at once)\n");
      process.once("SIGINT", () => process.exit(130));
      resolvePromise();
    });
  });
}

interface SweepOptions {
  dryRun?: boolean;
  namespace?: string;
  lab?: string;
  queue?: string;
  shared?: string;
  detach?: boolean;
  processes?: number;
  threadsPerRun?: number;
  json?: boolean;
  quiet?: boolean;
  dataModule?: string;
}

async function runSweep(file: string, opts: SweepOptions): Promise<void> {
  const { spec, runs } = await loadSweep(file, opts.dataModule);
  if (opts.dryRun) {
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify(
          runs.map((r) => ({ index: r.index, id: r.id, varied: variedValues(r.varied), config: r.config })),
          null,
          2,
        )}\n`,
      );
      return;
    }
    const axes = axisHeaders(runs);
    process.stdout.write(`sweep ${spec.name}: ${runs.length} run${runs.length === 1 ? "" : "s"}${axes.length ? ` (${axes.join(" × ")})` : ""}\n`);
    process.stdout.write(
      `${formatTable(
        ["#", "run", ...axes],
        runs.map((r) => [r.index + 1, r.id, ...r.varied.map((v) => formatValue(v.value))]),
      )}\n`,
    );
    return;
  }
  const lab = resolveLabDir(opts.lab);
  const log = stderrLog(opts.quiet);
  const label = (run: SweepRun) => `${run.id}${run.varied.length ? ` (${formatVaried(run.varied)})` : ""}`;
  const stop = interrupted();

  if (opts.queue === undefined) {
    if (opts.shared !== undefined) throw new UserError("--shared is for --queue (workers on several machines); a local sweep keeps runs in its lab");
    let done = 0;
    const onEvent = (e: PoolEvent) => {
      if (e.type === "plan") {
        log(
          `sweep ${spec.name}: ${e.pending} to run${e.skipped ? `, ${e.skipped} already finished` : ""}; ${e.processes} trainer process${e.processes === 1 ? "" : "es"} × ${e.threadsPerRun} thread${e.threadsPerRun === 1 ? "" : "s"}; lab ${lab}`,
        );
      } else if (e.type === "started") {
        log(`started ${label(e.run)}${e.resumedFrom !== null ? `, resuming at ${formatTokens(e.resumedFrom)} tokens` : ""}`);
      } else if (e.type === "checkpoint") {
        log(
          `  ${e.runId}: ${formatTokens(e.tokens)}/${formatTokens(e.totalTokens)} tokens, loss ${e.loss.toFixed(4)}${e.icl === null ? "" : `, icl ${e.icl.toFixed(3)}`}`,
        );
      } else if (e.type === "finished") {
        log(`[${++done}/${runs.length}] finished ${e.done.runId} in ${e.done.seconds.toFixed(1)} s`);
      } else if (e.type === "retry") log(`retrying ${label(e.run)}: ${e.reason}`);
      else if (e.type === "failed") log(`[${++done}/${runs.length}] FAILED ${label(e.run)}: ${e.error}`);
      else if (e.type === "log") log(`  ${e.run.id}: ${e.line}`);
    };
    const outcomes = await runLocalPool(runs, {
      lab,
      threadsPerRun: opts.threadsPerRun,
      processes: opts.processes,
      dataModule: opts.dataModule,
      onEvent,
      stop,
    });
    report(
      lab,
      runs,
      opts,
      outcomes.filter((o) => o.status === "failed" || o.status === "stopped"),
    );
    return;
  }

  const url = opts.queue;
  const onEvent = (e: CoordinatorEvent) => {
    if (e.type === "submitted") {
      const s = e.summary;
      log(
        `sweep ${spec.name} on ${displayUrl(url)}: ${s.added.length} submitted, ${s.existing.length} already queued or done, ${s.retried.length} failed ones retried, ${s.finished.length} finished in ${lab}`,
      );
      if (opts.detach) {
        log(
          `progress: icl-lab sweep status ${file} --queue ${url}${opts.namespace ? ` --namespace ${opts.namespace}` : ""}${opts.lab ? ` --lab ${opts.lab}` : ""}\n` +
            `results wait in Redis until the same command is run without --detach (it submits nothing twice)`,
        );
      }
    } else if (e.type === "result") {
      const m = e.message;
      if (m.type === "started") log(`started ${m.runId} on ${m.worker}${m.resumedFrom !== null ? `, resuming at ${formatTokens(m.resumedFrom)} tokens` : ""}`);
      else if (m.type === "checkpoint" && !m.replayed)
        log(
          `  ${m.runId}: ${formatTokens(m.tokens)}/${formatTokens(m.totalTokens)} tokens, loss ${m.loss.toFixed(4)}${m.icl === null ? "" : `, icl ${m.icl.toFixed(3)}`} (${m.worker})`,
        );
      else if (m.type === "done") log(`finished ${m.runId} on ${m.worker}`);
      else if (m.type === "failed") log(`FAILED ${m.runId ?? m.jobId} on ${m.worker}: ${m.error}`);
    } else if (e.type === "job-failed") log(`FAILED ${label(e.run)}: ${e.error}`);
    else if (e.type === "result-failed") log(`could not store a result of ${e.message.runId ?? e.message.jobId} (${e.message.type}) in ${lab}: ${e.error}`);
  };
  let result;
  try {
    result = await coordinateSweep(url, spec.name, runs, { lab, shared: opts.shared, detach: opts.detach, namespace: opts.namespace, onEvent, stop });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (opts.detach) return;
  if (!result.complete) {
    log(`stopped waiting; the jobs go on on the workers. Run the same command again to collect their results.`);
    return;
  }
  const failed = runs.filter((r) => result.states.get(r) === "failed");
  report(
    lab,
    runs,
    opts,
    failed.map((run) => ({ run, runId: null, status: "failed" as const })),
  );
}

function report(lab: string, runs: readonly SweepRun[], opts: SweepOptions, bad: RunOutcome[]): void {
  const rows = sweepTable(lab, runs);
  if (opts.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else printTable(rows, runs);
  if (bad.length > 0) {
    const failed = bad.filter((o) => o.status === "failed").length;
    throw new UserError(
      `${failed ? `${failed} of ${runs.length} runs failed` : ""}${failed && bad.length > failed ? ", " : ""}${bad.length > failed ? `${bad.length - failed} stopped` : ""}`,
    );
  }
}

export function register(program: Command): void {
  const dataModule = () =>
    new Option("--data-module <file>", "a module exporting `data` (and `measures`) used instead of the data pipeline (tests)").hideHelp();
  const sweep = program
    .command("sweep")
    .description("run a grid of training runs from a sweep spec (JSON or YAML) on this machine, or on workers through Redis")
    .argument("<spec>", "the sweep spec file")
    .option("--dry-run", "print the expanded runs (id and the values varied) and stop")
    .option("--lab <dir>", LAB_HELP)
    .option("--queue <url>", "submit to workers through Redis (redis://HOST:PORT) instead of training here")
    .option("--shared <dir>", "with --queue: the workers' shared run folder, to index checkpoint files in this lab")
    .option("--detach", "with --queue: submit and return (run again without it to collect results)")
    .addOption(namespaceOption())
    .option("--processes <n>", "trainer processes on this machine (default: cores / threads-per-run)", positiveInt("processes"))
    .option(
      "--threads-per-run <n>",
      "kernel threads per run (default: 1 with at least as many runs as cores, else cores / runs)",
      positiveInt("threads-per-run"),
    )
    .option("--json", "print the results (or with --dry-run, the runs) as JSON")
    .option("-q, --quiet", "no progress output")
    .addOption(dataModule())
    .action(withUserErrors(runSweep));

  // `sweep`'s own options (--lab, --queue, --json…) are parsed wherever they stand, so the
  // subcommand reads them merged with its own (optsWithGlobals).
  sweep
    .command("status")
    .description("where each run of a sweep stands: in this lab and, with --queue, in the queue")
    .argument("<spec>", "the sweep spec file")
    .option("--lab <dir>", LAB_HELP)
    .option("--queue <url>", "also show the jobs' states in Redis (redis://HOST:PORT)")
    .addOption(namespaceOption())
    .option("--json", "print JSON")
    .addOption(dataModule())
    .action(withUserErrors(statusCommand));

  program
    .command("worker")
    .description("take sweep runs from a Redis queue and train them (start one per machine; Ctrl-C returns its jobs to the queue)")
    .requiredOption("--queue <url>", "the Redis the sweep was submitted to (redis://HOST:PORT)")
    .addOption(namespaceOption())
    .option("--lab <dir>", "this worker's lab folder: its runs store and data cache (default: $ICL_LAB_DIR or ./icl-lab-runs)")
    .option(
      "--shared <dir>",
      "a folder all workers mount (same path), holding run folders: a run whose worker died resumes from its checkpoints there; without it, it restarts from zero",
    )
    .option("--concurrency <n>", "runs trained at once (default 1)", positiveInt("concurrency"))
    .option("--threads-per-run <n>", "kernel threads per run (default: cores / concurrency)", positiveInt("threads-per-run"))
    .option("--lock-duration <ms>", "how long a job stays claimed after this worker stops renewing it (default 30000)", positiveInt("lock-duration"))
    .option("-q, --quiet", "no progress output")
    .addOption(dataModule())
    .action(withUserErrors(workerCommand));
}

/** `sweep status SPEC`: the options of `sweep` merged with its own (commander's optsWithGlobals). */
async function statusCommand(file: string, _local: unknown, cmd: Command): Promise<void> {
  const opts = cmd.optsWithGlobals() as { lab?: string; queue?: string; namespace?: string; json?: boolean; dataModule?: string };
  const { runs } = await loadSweep(file, opts.dataModule);
  let queue;
  if (opts.queue !== undefined) {
    try {
      await checkRedis(opts.queue);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    queue = runsQueue(opts.queue, { namespace: opts.namespace });
    queue.on("error", () => {});
  }
  try {
    const rows = await sweepStatus(runs, { lab: opts.lab, queue });
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify(
          rows.map(({ run, ...r }) => ({ ...r, varied: variedValues(run.varied) })),
          null,
          2,
        )}\n`,
      );
    } else printStatus(rows, runs, queue !== undefined);
  } finally {
    await queue?.close();
  }
}

interface WorkerOptions {
  queue: string;
  namespace?: string;
  lab?: string;
  shared?: string;
  concurrency?: number;
  threadsPerRun?: number;
  lockDuration?: number;
  quiet?: boolean;
  dataModule?: string;
}

/** `worker --queue URL`: trains jobs until stopped (Ctrl-C, SIGTERM) or Redis is lost. */
async function workerCommand(opts: WorkerOptions): Promise<void> {
  const log = stderrLog(opts.quiet);
  const onEvent = (e: WorkerEvent) => {
    if (e.type === "ready")
      log(
        `worker on ${displayUrl(opts.queue)}: ${e.concurrency} run${e.concurrency === 1 ? "" : "s"} at once × ${e.threadsPerRun} thread${e.threadsPerRun === 1 ? "" : "s"}; lab ${resolveLabDir(opts.lab)}${opts.shared ? `, run folders in ${opts.shared}` : ""}`,
      );
    else if (e.type === "job-started") log(`took ${e.jobId} (sweep ${e.sweep}${e.attempt > 1 ? `, attempt ${e.attempt}` : ""})`);
    else if (e.type === "run-started" && e.resumedFrom !== null) log(`  ${e.runId}: resuming at ${formatTokens(e.resumedFrom)} tokens`);
    else if (e.type === "checkpoint") log(`  ${e.runId}: ${formatTokens(e.tokens)}/${formatTokens(e.totalTokens)} tokens, loss ${e.loss.toFixed(4)}`);
    else if (e.type === "job-finished") log(`finished ${e.runId} in ${e.seconds.toFixed(1)} s`);
    else if (e.type === "job-failed") log(`FAILED ${e.jobId}${e.willRetry ? " (will be retried)" : ""}: ${e.error}`);
    else if (e.type === "log") log(`  ${e.jobId}: ${e.line}`);
    else if (e.type === "lost-redis") log(`icl-lab worker: ${e.message}`);
  };
  let worker;
  try {
    worker = await startSweepWorker(opts.queue, {
      lab: opts.lab,
      shared: opts.shared && resolve(opts.shared),
      concurrency: opts.concurrency,
      threadsPerRun: opts.threadsPerRun,
      lockDurationMs: opts.lockDuration,
      namespace: opts.namespace,
      dataModule: opts.dataModule,
      onEvent,
    });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const w = worker;
  void interrupted().then(async () => {
    process.exitCode = 130;
    await w.stop();
    log("worker stopped (a run it was training is back in the queue)");
  });
  const stopTerm = () => void w.stop();
  process.once("SIGTERM", stopTerm);
  try {
    await w.closed;
  } catch (e) {
    throw new UserError((e as Error).message);
  } finally {
    process.off("SIGTERM", stopTerm);
  }
}
