/**
 * An experiment's plan: its options resolved and checked, its training configs (each checked with
 * the trainer's schemas, its run id and parameter count known before anything trains), and what the
 * lab already holds of each run (runner.ts trains, measures and reports it).
 */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { listCheckpoints } from "../model/checkpoint.ts";
import { RunStore, resolveLabDir, runDir } from "../store/run-store.ts";
import type { TrainConfig, TrainConfigInput } from "../train/config.ts";
import { expandSweep } from "../sweep/expand.ts";
import { parseSweepSpec } from "../sweep/spec.ts";
import { countParams, SMOKE_TOKENS, tokensText } from "./common.ts";
import { getExperiment } from "./index.ts";
import { formatTable } from "./summary.ts";
import { budgetForMinutes, headsNote } from "./budget.ts";
import type { ExperimentDefinition, ExperimentOptions, PlanContext, ResolvedOptions } from "./types.ts";

/** A problem with the experiment's name or options (the CLI prints it as one line). */
export class ExperimentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExperimentError";
  }
}

export interface RunExperimentOptions extends ExperimentOptions {
  lab?: string;
  /** Plan and print, train nothing. */
  dryRun?: boolean;
  /** "pool": trainer processes on this machine (default); "inline": one run after another in this process. */
  runner?: "pool" | "inline";
  /** Trainer processes of the pool (default: one per core, at most one per run). */
  jobs?: number;
  log?: (line: string) => void;
  /** Progress output of inline training. */
  progress?: "auto" | "lines" | "none";
  /** Report options; false: no report. */
  report?: { png?: boolean; attention?: boolean } | false;
  /** Resolves to stop training (Ctrl-C); runs stay resumable. */
  stop?: Promise<void>;
  /** Environment for the sources' tools (tests hide apt with it). */
  env?: NodeJS.ProcessEnv;
}

export type RunState = "new" | "partial" | "finished" | "failed" | "running";

export interface PlannedRun {
  name: string;
  /** The run id (the trainer's, predicted from the resolved config). */
  runId: string;
  config: TrainConfigInput;
  resolved: TrainConfig;
  params: number;
  /** What the lab holds of it now. */
  state: RunState;
  /** Where it resumes (tokens), for a partial run. */
  resumeAt: number | null;
}

export interface ExperimentPlanResult {
  definition: ExperimentDefinition;
  options: ResolvedOptions;
  lab: string;
  runs: PlannedRun[];
  notes: string[];
}

const MAX_SEEDS = 20;

/** Fills in the defaults and checks the options; user corpora given with a path are registered in the lab. */
export async function resolveOptions(def: ExperimentDefinition, opts: ExperimentOptions, lab: string): Promise<ResolvedOptions> {
  const scale = opts.scale ?? "default";
  if (scale !== "default" && scale !== "smoke") throw new ExperimentError(`scale must be "default" or "smoke", found ${JSON.stringify(scale)}`);
  const seeds = opts.seeds ?? def.defaults.seeds;
  if (!Number.isInteger(seeds) || seeds < 1 || seeds > MAX_SEEDS)
    throw new ExperimentError(`--seeds must be an integer from 1 to ${MAX_SEEDS}, found ${seeds}`);
  if (opts.minutes !== undefined) {
    if (opts.tokens !== undefined) throw new ExperimentError("--minutes and --tokens both given; give one (--minutes picks the tokens that fit)");
    if (!(opts.minutes > 0 && opts.minutes <= 7 * 24 * 60))
      throw new ExperimentError(`--minutes must be a number of minutes above 0 and at most a week, found ${opts.minutes}`);
  }
  const tokens = opts.tokens ?? (scale === "smoke" ? SMOKE_TOKENS : def.defaults.tokens);
  if (!Number.isInteger(tokens) || tokens < 1) throw new ExperimentError(`--tokens must be a positive integer, found ${tokens}`);
  const { dataPaths, getSource, saveUserSource } = await import("../data/index.ts");
  const corpus: string[] = [];
  for (const c of opts.corpus ?? []) {
    if (!/^[a-z][a-z0-9_]*$/.test(c.name))
      throw new ExperimentError(`--corpus: the name must be lowercase letters, digits and '_', starting with a letter, found '${c.name}'`);
    if (c.path !== undefined) {
      const path = resolvePath(c.path);
      if (!existsSync(path))
        throw new ExperimentError(`--corpus ${c.name}: ${path} not found (expected a text file, a folder of .txt/.md files, or a .jsonl file)`);
      try {
        saveUserSource(dataPaths(lab), { id: c.name, path, domain: "user", language: "en", licence: "the user's own" });
      } catch (e) {
        throw new ExperimentError(`--corpus ${c.name}: ${(e as Error).message}`);
      }
    } else {
      knownSource(getSource, c.name, lab, "--corpus");
    }
    corpus.push(c.name);
  }
  let domains: string[] | null = null;
  if (opts.domains !== undefined) {
    if (def.domainsHelp === undefined)
      throw new ExperimentError(`--domains applies to the corpus experiments (corpus-source, corpus-diversity, corpus-size), not to ${def.name}`);
    if (opts.domains.length === 0) throw new ExperimentError("--domains is empty; expected source ids, comma-separated");
    for (const id of opts.domains) if (!corpus.includes(id)) knownSource(getSource, id, lab, "--domains");
    domains = [...new Set(opts.domains)];
  }
  return { seeds, tokens, corpus, domains, scale };
}

function knownSource(getSource: (id: string, lab?: string) => unknown, id: string, lab: string, option: string): void {
  try {
    getSource(id, lab);
  } catch (e) {
    throw new ExperimentError(`${option}: ${(e as Error).message}`);
  }
}

function planContext(lab: string, log: (line: string) => void, env: NodeJS.ProcessEnv | undefined): PlanContext {
  const tokenCache = new Map<string, number>();
  return {
    lab,
    log,
    async available(id) {
      const { getSource } = await import("../data/index.ts");
      const { sourceContext } = await import("../data/text-store.ts");
      return getSource(id, lab).available(sourceContext({ lab, log, env }));
    },
    async trainingTokens(id, tokenizer) {
      const key = `${id}\u0000${JSON.stringify(tokenizer)}`;
      const cached = tokenCache.get(key);
      if (cached !== undefined) return cached;
      const { getTokenizer, buildTokenStore, segmentTokens, splitDocuments } = await import("../data/index.ts");
      const tok = await getTokenizer(tokenizer, { lab, log, env });
      const store = await buildTokenStore(id, tok, { lab, log, env });
      const split = splitDocuments(store.manifest.docOffsets, store.manifest.docHashes);
      const n = segmentTokens(split.train);
      tokenCache.set(key, n);
      return n;
    },
  };
}

function stateOf(store: RunStore, lab: string, runId: string): { state: RunState; resumeAt: number | null } {
  const info = store.getRun(runId);
  const resumeAt = listCheckpoints(join(runDir(lab, runId), "resume")).at(-1)?.tokens ?? null;
  if (info === undefined) return { state: resumeAt !== null ? "partial" : "new", resumeAt };
  if (info.status === "finished") return { state: "finished", resumeAt: null };
  // Marked running by a live process other than this one (a run this process stopped is resumable).
  const ours = info.pid === process.pid && info.host === hostname();
  if (info.status === "running" && !info.stale && !ours) return { state: "running", resumeAt };
  if (info.status === "failed" && resumeAt === null) return { state: "failed", resumeAt };
  return { state: "partial", resumeAt };
}

async function definitionConfigs(def: ExperimentDefinition, options: ResolvedOptions, ctx: PlanContext) {
  try {
    return await def.configs(options, ctx);
  } catch (e) {
    throw new ExperimentError(`${def.name}: ${(e as Error).message}`);
  }
}

/** The configs checked as the trainer will check them, with their run ids, resolved configs and parameter counts. */
async function checkedRuns(def: ExperimentDefinition, configs: readonly TrainConfigInput[]): Promise<Omit<PlannedRun, "state" | "resumeAt">[]> {
  const names = new Set<string>();
  const out: Omit<PlannedRun, "state" | "resumeAt">[] = [];
  for (const config of configs) {
    if (config.name === undefined || names.has(config.name))
      throw new Error(`experiment ${def.name}: run name ${config.name} missing or repeated (a bug in its definition)`);
    names.add(config.name);
    if (config.experiment !== def.name)
      throw new Error(`experiment ${def.name}: run ${config.name} has experiment '${config.experiment}' (a bug in its definition)`);
    const [run] = await expandSweep(parseSweepSpec({ name: config.name, base: config }, `experiment ${def.name}, run ${config.name}`));
    out.push({ name: config.name, runId: run.id, config, resolved: run.resolved, params: countParams(run.resolved.model, run.resolved.model.dVocab) });
  }
  return out;
}

/** The experiment's runs and what the lab holds of them; trains nothing. */
export async function planExperiment(name: string | ExperimentDefinition, opts: RunExperimentOptions = {}): Promise<ExperimentPlanResult> {
  let def: ExperimentDefinition;
  try {
    def = typeof name === "string" ? getExperiment(name) : name;
  } catch (e) {
    throw new ExperimentError((e as Error).message);
  }
  const lab = resolveLabDir(opts.lab);
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  let options = await resolveOptions(def, opts, lab);
  const ctx = planContext(lab, log, opts.env);
  let plan = await definitionConfigs(def, options, ctx);
  if (opts.minutes !== undefined) {
    const budget = await budgetForMinutes(def, options, await checkedRuns(def, plan.configs), { lab, minutes: opts.minutes, jobs: opts.jobs, log });
    options = { ...options, tokens: budget.tokens };
    plan = await definitionConfigs(def, options, ctx);
    plan = { configs: plan.configs, notes: [...budget.notes, ...plan.notes] };
  } else {
    const note = headsNote(def, options.tokens, options.scale);
    if (note !== null) plan = { configs: plan.configs, notes: [note, ...plan.notes] };
  }
  const checked = await checkedRuns(def, plan.configs);
  const runs: PlannedRun[] = [];
  const store = RunStore.open(lab);
  try {
    for (const r of checked) runs.push({ ...r, ...stateOf(store, lab, r.runId) });
  } finally {
    store.close();
  }
  return { definition: def, options, lab, runs, notes: plan.notes };
}

/** The plan as a table: run, model, parameters, data, tokens, state. */
export function planTable(plan: ExperimentPlanResult): string {
  const rows = plan.runs.map((r) => {
    const m = r.resolved.model as Record<string, unknown>;
    const model = [
      m.kind,
      m.nLayers !== undefined ? `${m.nLayers}L` : null,
      m.dModel !== undefined ? `d${m.dModel}` : null,
      m.nHeads !== undefined ? `${m.nHeads}×${m.dHead}` : null,
      m.dMlp !== undefined ? `mlp ${m.dMlp}` : null,
      m.dHidden !== undefined ? `hidden ${m.dHidden}` : null,
      m.smearedKeys ? "smeared" : null,
    ]
      .filter(Boolean)
      .join(" ");
    const sources = r.resolved.data.sources ?? {};
    const total = Object.values(sources).reduce((a, b) => a + b, 0);
    const mix = Object.entries(sources)
      .map(([k, w]) => `${k} ${Math.round((100 * w) / total)}%`)
      .join(" + ");
    const unique = r.resolved.data.uniqueTokens;
    const state = r.state === "partial" && r.resumeAt !== null ? `partial (resumes at ${tokensText(r.resumeAt)})` : r.state;
    return [
      r.name,
      model,
      r.params.toLocaleString("en-US"),
      `${mix}${unique !== undefined ? `, ${tokensText(unique)} unique` : ""}`,
      tokensText(r.resolved.tokens),
      String(r.resolved.seed),
      state,
    ];
  });
  return formatTable(["run", "model", "params", "data", "tokens", "seed", "state"], rows);
}
