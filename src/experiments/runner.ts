/**
 * Runs an experiment: resolves the options, plans its training configs (each checked with the
 * trainer's schemas, its run id and parameter count known before anything trains), prepares the
 * corpora once, trains what the lab does not hold yet — on the local process pool of
 * src/sweep/local-pool.ts (default) or one run after another in this process — runs the final
 * measurements, renders the report and builds the summary table.
 *
 * Resuming: a finished run is skipped; an interrupted one continues from its last resume
 * checkpoint (the trainer's exact resume, at most ~60 s of training lost); a finished run whose
 * final measurement is missing gets it. Running the same command again therefore completes an
 * interrupted experiment and then only re-renders its report.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RunStore, type RunInfo } from "../store/run-store.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { TrainConfig } from "../train/config.ts";
import { storeResults, train, type MeasureValue } from "../train/train.ts";
import type { SweepRun } from "../sweep/expand.ts";
import type { RenderedReport } from "../report/report.ts";
import { finalRecord } from "../measure/names.ts";
import { SCALES, tokensText } from "./common.ts";
import { data as experimentData, extraEvalSources } from "./data.ts";
import { ExperimentError, planExperiment, type ExperimentPlanResult, type RunExperimentOptions } from "./plan.ts";
import { formatTable, summaryTable, type SummaryTable } from "./summary.ts";
import type { ExperimentDefinition, FinalMeasure } from "./types.ts";

export {
  ExperimentError,
  planExperiment,
  planTable,
  resolveOptions,
  type ExperimentPlanResult,
  type PlannedRun,
  type RunExperimentOptions,
  type RunState,
} from "./plan.ts";

export interface RunOutcome {
  name: string;
  runId: string;
  status: "finished" | "skipped" | "stopped" | "failed";
  error?: string;
}

export interface ExperimentResult extends ExperimentPlanResult {
  outcomes: RunOutcome[];
  report: RenderedReport | null;
  summary: SummaryTable | null;
  /** The summary as text (also written beside the report as summary.txt). */
  summaryText: string | null;
  seconds: number;
}

const fmt = tokensText;

/** Builds every corpus the runs read, once, before the runs start (trainer processes then only load them). */
async function prepareCorpora(plan: ExperimentPlanResult, log: (line: string) => void, env: NodeJS.ProcessEnv | undefined): Promise<void> {
  const { getTokenizer, buildTokenStore } = await import("../data/index.ts");
  const done = new Set<string>();
  for (const r of plan.runs) {
    if (r.state === "finished") continue;
    const tok = await getTokenizer(r.resolved.data.tokenizer, { lab: plan.lab, log, env });
    for (const id of [...Object.keys(r.resolved.data.sources ?? {}), ...extraEvalSources(r.resolved)]) {
      const key = `${tok.id}/${id}`;
      if (done.has(key)) continue;
      done.add(key);
      await buildTokenStore(id, tok, { lab: plan.lab, log, env });
    }
  }
}

async function trainInline(plan: ExperimentPlanResult, opts: RunExperimentOptions, log: (line: string) => void): Promise<RunOutcome[]> {
  const out: RunOutcome[] = [];
  for (const r of plan.runs) {
    if (r.state === "finished") {
      out.push({ name: r.name, runId: r.runId, status: "skipped" });
      continue;
    }
    log(`training ${r.name} (${r.params.toLocaleString("en-US")} parameters)${r.resumeAt !== null ? `, resuming at ${fmt(r.resumeAt)} tokens` : ""}`);
    try {
      const t = await train(r.config, { lab: plan.lab, data: experimentData, progress: opts.progress ?? "auto", log });
      out.push({ name: r.name, runId: t.runId, status: t.finished ? "finished" : "stopped" });
    } catch (e) {
      const error = (e as Error).message;
      log(`${r.name} failed: ${error}`);
      out.push({ name: r.name, runId: r.runId, status: "failed", error });
    }
  }
  return out;
}

async function trainPool(plan: ExperimentPlanResult, opts: RunExperimentOptions, log: (line: string) => void): Promise<RunOutcome[]> {
  const { runLocalPool, planPool } = await import("../sweep/local-pool.ts");
  const { availableParallelism } = await import("node:os");
  const runs: SweepRun[] = plan.runs.map((r, index) => ({
    index,
    id: r.runId,
    config: r.config as Record<string, unknown>,
    resolved: r.resolved,
    varied: [{ path: "name", value: r.name }],
  }));
  const byId = new Map(plan.runs.map((r) => [r.runId, r]));
  const cores = availableParallelism();
  const shape =
    opts.jobs !== undefined ? planPool(runs.length, cores, { processes: opts.jobs, threadsPerRun: Math.max(1, Math.floor(cores / opts.jobs)) }) : {};
  const outcomes = await runLocalPool(runs, {
    lab: plan.lab,
    dataModule: fileURLToPath(new URL("./data.ts", import.meta.url)),
    stop: opts.stop,
    ...shape,
    onEvent: (e) => {
      const name = "run" in e ? (byId.get(e.run.id)?.name ?? e.run.id) : "";
      switch (e.type) {
        case "plan":
          if (e.pending > 0)
            log(
              `training ${e.pending} run${e.pending === 1 ? "" : "s"} (${e.skipped} already finished) in ${e.processes} process${e.processes === 1 ? "" : "es"} × ${e.threadsPerRun} thread${e.threadsPerRun === 1 ? "" : "s"}`,
            );
          break;
        case "started":
          log(`${name}: started${e.resumedFrom !== null ? `, resuming at ${fmt(e.resumedFrom)} tokens` : ""} (${fmt(e.totalTokens)} tokens)`);
          break;
        case "checkpoint":
          log(`${name}: ${fmt(e.tokens)}/${fmt(e.totalTokens)} tokens, loss ${e.loss.toFixed(3)}${e.icl !== null ? `, ICL score ${e.icl.toFixed(3)}` : ""}`);
          break;
        case "finished":
          log(`${name}: ${e.done.finished ? "finished" : "stopped"} in ${(e.done.seconds / 60).toFixed(1)} min`);
          break;
        case "retry":
          log(`${name}: its trainer process died (${e.reason}); resuming it`);
          break;
        case "failed":
          log(`${name}: failed: ${e.error}`);
          break;
        case "log":
          if (/resumes at|skipping damaged|never reported/.test(e.line)) log(`${name}: ${e.line.replace(/^icl-lab: /, "")}`);
          break;
        default:
          break;
      }
    },
  });
  return outcomes.map((o, i) => ({
    name: plan.runs[i].name,
    runId: o.runId ?? plan.runs[i].runId,
    status: o.status,
    ...(o.error !== undefined ? { error: o.error } : {}),
  }));
}

/** Runs the definition's final measurements on each finished run's last checkpoint, where missing. */
async function finalMeasures(plan: ExperimentPlanResult, log: (line: string) => void): Promise<void> {
  const list: FinalMeasure[] = plan.definition.finalMeasures ?? [];
  if (list.length === 0) return;
  const store = RunStore.open(plan.lab);
  try {
    for (const r of plan.runs) {
      const info = store.getRun(r.runId);
      const last = store.lastCheckpoint(r.runId);
      if (info?.status !== "finished" || last === undefined) continue;
      for (const fm of list) {
        if (fm.appliesTo && !fm.appliesTo(r.config)) continue;
        if (store.jsonSeries(r.runId, finalRecord(fm.measure)).some((p) => p.tokens === last.tokens)) continue;
        const t0 = performance.now();
        log(`${r.name}: ${fm.measure} at ${fmt(last.tokens)} tokens`);
        const config = info.config as TrainConfig;
        const { modelFromCheckpoint } = await import("../model/load.ts");
        const { MEASURES } = await import("../measure/index.ts");
        const { model } = modelFromCheckpoint(config.model, last.path);
        (await import("../engine/precision.ts")).usePrecision(config.precision);
        const d = await experimentData(config, plan.lab);
        // The run's own measurement inputs (stored when it trained; a run trained before they
        // were stored gets them derived from this data, as its trainer did, and kept).
        const { measureInputs } = await import("../measure/run-inputs.ts");
        const { inputs } = await measureInputs(store, r.runId, { data: d, save: true });
        const options = {
          ...inputs.options,
          [fm.measure]: { nWindows: SCALES[plan.options.scale].ablationWindows, ...inputs.options[fm.measure], ...fm.options },
        };
        const result: object = MEASURES[fm.measure](model, { data: d, tokens: last.tokens, inputs, seed: inputs.seed, options });
        storeResults(store, r.runId, last.tokens, fm.measure, result as Record<string, MeasureValue>);
        store.logJson(r.runId, last.tokens, finalRecord(fm.measure), { seconds: (performance.now() - t0) / 1000, options: options[fm.measure] });
      }
    }
  } finally {
    store.close();
  }
}

/**
 * Plans, trains (resuming), measures, reports and summarises an experiment: one of the registry by
 * name, or a definition (the demo builds its own, src/experiments/demo.ts).
 */
export async function runExperiment(name: string | ExperimentDefinition, opts: RunExperimentOptions = {}): Promise<ExperimentResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const plan = await planExperiment(name, { ...opts, log });
  const empty = { outcomes: [], report: null, summary: null, summaryText: null };
  if (opts.dryRun) return { ...plan, ...empty, seconds: (performance.now() - t0) / 1000 };

  let stopped = false;
  void opts.stop?.then(() => {
    stopped = true;
  });
  try {
    await prepareCorpora(plan, log, opts.env);
  } catch (e) {
    throw new ExperimentError(`${plan.definition.name}: preparing the corpora: ${(e as Error).message}`);
  }
  const running = plan.runs.filter((r) => r.state === "running");
  for (const r of running) log(`${r.name}: marked running by another live process; left to it`);
  const toTrain = { ...plan, runs: plan.runs.filter((r) => r.state !== "running") };
  const trained = (opts.runner ?? "pool") === "pool" ? await trainPool(toTrain, opts, log) : await trainInline(toTrain, opts, log);
  const outcomes: RunOutcome[] = plan.runs.map((r) => trained.find((o) => o.name === r.name) ?? { name: r.name, runId: r.runId, status: "skipped" });
  // Stopped (Ctrl-C): no final measurements and no report now; the next call completes both.
  if (stopped) return { ...plan, ...empty, outcomes, seconds: (performance.now() - t0) / 1000 };
  await finalMeasures(plan, log);

  // Report and summary of the runs the lab holds (failed ones included: the report says how far they got).
  const store = RunStore.open(plan.lab);
  let infos: RunInfo[];
  try {
    infos = outcomes.map((o) => store.getRun(o.runId)).filter((i): i is RunInfo => i !== undefined);
  } finally {
    store.close();
  }
  if (infos.length === 0) return { ...plan, ...empty, outcomes, seconds: (performance.now() - t0) / 1000 };
  const { readRuns } = await import("../report/data.ts");
  const reader = RunStore.open(plan.lab);
  let summary: SummaryTable;
  try {
    summary = summaryTable(readRuns(reader, infos), plan.definition.summary);
  } finally {
    reader.close();
  }
  let report: RenderedReport | null = null;
  const out = join(plan.lab, "reports", plan.definition.name);
  if (opts.report !== false) {
    const { renderReport } = await import("../report/report.ts");
    log(`writing the report…`);
    report = await renderReport({
      lab: plan.lab,
      runIds: infos.map((i) => i.id),
      out,
      title: `icl-lab experiment ${plan.definition.name}: ${plan.definition.title}`,
      png: opts.report?.png,
      attention: opts.report?.attention,
    });
  }
  const summaryText = [
    `experiment ${plan.definition.name}: ${plan.definition.title}`,
    "",
    formatTable(summary.header, summary.cells),
    "",
    ...plan.notes.map((n) => `note: ${n}`),
    ...outcomes.filter((o) => o.status === "failed" || o.status === "stopped").map((o) => `${o.name}: ${o.status}${o.error ? ` (${o.error})` : ""}`),
    "",
    `expected: ${plan.definition.expected}`,
  ].join("\n");
  if (report !== null) {
    for (const [file, text] of [
      ["summary.txt", `${summaryText}\n`],
      [
        "summary.json",
        JSON.stringify(
          { experiment: plan.definition.name, options: plan.options, header: summary.header, rows: summary.rows, notes: plan.notes, outcomes },
          null,
          2,
        ),
      ],
    ] as const) {
      const path = join(report.dir, file);
      writeFileAtomic(path, text);
    }
  }
  return { ...plan, outcomes, report, summary, summaryText, seconds: (performance.now() - t0) / 1000 };
}
