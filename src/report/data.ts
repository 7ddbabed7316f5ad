/**
 * What a report shows, read from the runs store and derived at report time: each run's series
 * (ICL score with its interval, training loss, loss by position, head scores, ablation, few-shot
 * tasks, per-token-loss vectors), the phase change detected on the stored ICL-score series, the
 * best head's induction-score rise, the loss bump, and the labels that tell runs apart.
 *
 * Stored names (src/measure/names.ts; src/train/train.ts `storeResults`: a measure's key `k` is stored as `<measure>.k`):
 *   metrics  train_loss, icl.score, icl.lo, icl.hi, icl.se, icl.loss50, icl.loss500, heads.bos;
 *   run      the measurement inputs (seed, BOS, token pools; src/measure/run-inputs.ts);
 *   vectors  positionLoss.meanLoss [nCtx], tokenLoss.losses [nWindows];
 *   records  heads.heads (HeadScore[]), ablation.clean, ablation.heads (HeadAblation[]),
 *            tasks.tasks (TaskResult[]).
 * Every reader tolerates what a run lacks (a run may measure only `icl`): the figures say so.
 */
import type { RunInfo, RunStore } from "../store/run-store.ts";
import type { LossBump } from "../measure/loss-bump.ts";
import type { PhaseChange } from "../measure/phase-change.ts";
import { isHeadList, phaseAnalysis } from "../measure/phase-analysis.ts";
import { storedMeasureInputs, type MeasureInputs } from "../measure/inputs.ts";
import type { HeadAblation } from "../measure/ablation.ts";
import type { HeadScore } from "../measure/heads.ts";
import type { TaskResult } from "../measure/tasks.ts";
import { formatTokens } from "./tables.ts";
import { METRIC, RECORD, VECTOR, extraIclMeasure, stored } from "../measure/names.ts";

export interface IclCheckpoint {
  tokens: number;
  score: number;
  lo: number | null;
  hi: number | null;
  se: number | null;
  loss50: number | null;
  loss500: number | null;
}

export interface RunData {
  id: string;
  info: RunInfo;
  /** Short label telling this run from the others of the report (see `labelRuns`). */
  label: string;
  /** The same without the seed: runs that differ only in seed share it (they form one group). */
  group: string;
  /** The resolved training config as stored (null when corrupt). */
  config: StoredConfig | null;
  /** "attn-only · 2 layers · d_model 128 · 8 heads · rotary". */
  model: string;
  icl: IclCheckpoint[];
  trainLoss: Array<{ tokens: number; value: number }>;
  positionLoss: Array<{ tokens: number; meanLoss: number[] }>;
  heads: Array<{ tokens: number; heads: HeadScore[] }>;
  ablation: { tokens: number; clean: AblationClean | null; heads: HeadAblation[] } | null;
  tasks: { tokens: number; tasks: TaskResult[] } | null;
  tokenLoss: Array<{ tokens: number; losses: Float64Array | Float32Array }>;
  /**
   * Last values of further ICL scores the run stored (a measure whose name starts with "icl",
   * e.g. `icl@brown.score` for the score on one domain's windows), by measure name.
   */
  extraIcl: Record<string, number>;
  /** The same scores at every checkpoint, with their intervals, by measure name. */
  extraIclSeries: Record<string, Array<{ tokens: number; score: number; lo: number | null; hi: number | null }>>;
  /** Confidence level of the ICL-score intervals (e.g. 0.95), from `icl.confidence`. */
  confidence: number | null;
  /** BOS token the head scores used (null: none): the run's measurement inputs', else `heads.bos`. */
  bos: number | null;
  /**
   * The run's stored measurement inputs (seed, BOS, token pools: src/measure/inputs.ts), for what
   * the report recomputes (the attention figure); null for runs trained before they were stored.
   */
  inputs: MeasureInputs | null;
  phase: PhaseChange;
  inductionPhase: PhaseChange & { layer: number | null; head: number | null };
  bump: LossBump;
  /** The run's last checkpoint file, for the attention figure. */
  lastCheckpoint: { tokens: number; path: string } | null;
}

export interface AblationClean {
  score: number;
  loss50: number;
  loss500: number;
  lo: number;
  hi: number;
}

/** The parts of a stored training config the report reads (see src/train/config.ts). */
export interface StoredConfig {
  name?: string;
  experiment?: string;
  seed?: number;
  tokens?: number;
  batch?: number;
  model?: {
    kind?: string;
    nLayers?: number;
    dModel?: number;
    nHeads?: number;
    dHead?: number;
    dMlp?: number;
    dHidden?: number;
    nCtx?: number;
    dVocab?: number;
    positions?: string;
    smearedKeys?: boolean;
  };
  data?: { sources?: Record<string, number>; uniqueTokens?: number; tokenizer?: { kind?: string; vocab?: number } };
  optim?: { lr?: number };
  measures?: string[];
}

function asConfig(c: unknown): StoredConfig | null {
  return c !== null && typeof c === "object" && !Array.isArray(c) ? (c as StoredConfig) : null;
}

/** The series of a metric with finite values and tokens > 0 (log axes). */
function series(store: RunStore, id: string, name: string): Array<{ tokens: number; value: number }> {
  return store.metricSeries(id, name).filter((p) => p.tokens > 0 && Number.isFinite(p.value));
}

/**
 * The points of a base series, each with the values of `fields`' metrics at the same tokens
 * (null where that checkpoint stored none, or a non-finite value).
 */
export function alignedMetrics<K extends string>(
  base: ReadonlyArray<{ tokens: number; value: number }>,
  store: RunStore,
  id: string,
  fields: Record<K, string>,
): Array<{ tokens: number; value: number } & Record<K, number | null>> {
  const maps = Object.entries<string>(fields).map(([key, name]) => [key, byTokens(store, id, name)] as const);
  return base.map(
    (p) =>
      ({ tokens: p.tokens, value: p.value, ...Object.fromEntries(maps.map(([key, m]) => [key, m.get(p.tokens) ?? null])) }) as {
        tokens: number;
        value: number;
      } & Record<K, number | null>,
  );
}

function byTokens(store: RunStore, id: string, name: string): Map<number, number> {
  return new Map(
    store
      .metricSeries(id, name)
      .filter((p) => Number.isFinite(p.value))
      .map((p) => [p.tokens, p.value]),
  );
}

/** "attn-only · 2 layers · d_model 128 · 8 heads × 16 · rotary · smeared keys". */
export function describeModel(c: StoredConfig | null, kind: string | null): string {
  const m = c?.model;
  if (!m) return kind ?? "unknown model";
  const parts = [m.kind ?? kind ?? "model"];
  if (m.nLayers !== undefined) parts.push(`${m.nLayers} layer${m.nLayers === 1 ? "" : "s"}`);
  if (m.dModel !== undefined) parts.push(`d_model ${m.dModel}`);
  if (m.nHeads !== undefined) parts.push(`${m.nHeads} heads${m.dHead !== undefined ? ` × ${m.dHead}` : ""}`);
  if (m.dMlp !== undefined) parts.push(`d_mlp ${m.dMlp}`);
  if (m.dHidden !== undefined) parts.push(`d_hidden ${m.dHidden}`);
  if (m.positions !== undefined && m.positions !== "none") parts.push(String(m.positions));
  if (m.smearedKeys) parts.push("smeared keys");
  return parts.join(" · ");
}

/** "brown+email", "brown 75% + email 25%", "default mixture". */
export function describeMixture(sources: Record<string, number> | undefined): string {
  if (!sources || Object.keys(sources).length === 0) return "default mixture";
  const entries = Object.entries(sources).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const total = entries.reduce((s, [, w]) => s + w, 0);
  const equal = entries.every(([, w]) => w === entries[0][1]);
  return equal ? entries.map(([k]) => k).join("+") : entries.map(([k, w]) => `${k} ${Math.round((100 * w) / total)}%`).join(" + ");
}

/** Facets a run can differ in, in label order. */
const FACETS: Array<{ key: string; of: (c: StoredConfig | null, info: RunInfo) => string | null; seed?: true }> = [
  { key: "kind", of: (c, i) => c?.model?.kind ?? i.kind },
  { key: "layers", of: (c) => (c?.model?.nLayers !== undefined ? `${c.model.nLayers}L` : null) },
  { key: "width", of: (c) => (c?.model?.dModel !== undefined ? `d${c.model.dModel}` : null) },
  { key: "heads", of: (c) => (c?.model?.nHeads !== undefined ? `${c.model.nHeads}h` : null) },
  { key: "positions", of: (c) => c?.model?.positions ?? null },
  { key: "smeared", of: (c) => (c?.model?.smearedKeys ? "smeared" : c?.model?.nHeads !== undefined ? "plain" : null) },
  { key: "data", of: (c) => (c ? describeMixture(c.data?.sources) : null) },
  { key: "unique", of: (c) => (c?.data?.uniqueTokens !== undefined ? `${formatTokens(c.data.uniqueTokens)} unique` : null) },
  { key: "tokens", of: (c) => (c?.tokens !== undefined ? `${formatTokens(c.tokens)} tokens` : null) },
  { key: "lr", of: (c) => (c?.optim?.lr !== undefined ? `lr ${c.optim.lr}` : null) },
  { key: "seed", of: (c) => (c?.seed !== undefined ? `seed ${c.seed}` : null), seed: true },
];

/**
 * Labels telling runs apart: their config names when all have distinct ones; else the facets of
 * the config that differ between them ("attn-only 2L", "brown+email", "seed 1"); else run ids.
 * `group` is the label without the seed (seeds of one configuration share it).
 */
export function labelRuns(runs: ReadonlyArray<{ info: RunInfo; config: StoredConfig | null }>): Array<{ label: string; group: string }> {
  const facetValues = FACETS.map((f) => runs.map((r) => f.of(r.config, r.info)));
  const differs = FACETS.map((_, i) => new Set(facetValues[i]).size > 1);
  const names = runs.map((r) => r.config?.name);
  const seedIdx = FACETS.findIndex((f) => f.seed);
  return runs.map((r, ri) => {
    const parts = FACETS.flatMap((f, i) => (differs[i] && facetValues[i][ri] !== null ? [{ seed: f.seed === true, text: facetValues[i][ri]! }] : []));
    const withoutSeed = parts
      .filter((p) => !p.seed)
      .map((p) => p.text)
      .join(" ");
    const common = shortModel(r.config, r.info);
    let label: string, group: string;
    if (names.every((n) => typeof n === "string") && new Set(names).size === names.length) {
      label = names[ri]!;
      // Names distinct only through the seed (demo-2l-s0, demo-2l-s1) still form one group.
      group = differs[seedIdx] ? withoutSeed || common : label;
    } else if (parts.length > 0) {
      label = parts.map((p) => p.text).join(" ");
      group = withoutSeed || common;
    } else {
      label = runs.length === 1 ? (r.config?.name ?? common) : r.info.id;
      group = label;
    }
    return { label, group };
  });
}

function shortModel(c: StoredConfig | null, info: RunInfo): string {
  const kind = c?.model?.kind ?? info.kind ?? "run";
  return c?.model?.nLayers !== undefined ? `${kind} ${c.model.nLayers}L` : kind;
}

/** Reads one run's series and detects its phase change, induction rise and loss bump. */
export function readRun(store: RunStore, info: RunInfo): Omit<RunData, "label" | "group"> {
  const id = info.id;
  const config = asConfig(info.config);
  const icl: IclCheckpoint[] = alignedMetrics(series(store, id, METRIC.iclScore), store, id, {
    lo: METRIC.iclLo,
    hi: METRIC.iclHi,
    se: METRIC.iclSe,
    loss50: METRIC.iclLoss50,
    loss500: METRIC.iclLoss500,
  }).map(({ value, ...rest }) => ({ score: value, ...rest }));
  const trainLoss = series(store, id, METRIC.trainLoss);
  const positionLoss = store
    .vectors(id, VECTOR.positionLoss)
    .filter((v) => v.tokens > 0)
    .map((v) => ({ tokens: v.tokens, meanLoss: Array.from(v.data) }));
  const heads = store
    .jsonSeries(id, RECORD.heads)
    .filter((r) => r.tokens > 0 && isHeadList(r.value))
    .map((r) => ({ tokens: r.tokens, heads: r.value as HeadScore[] }));
  const ablationHeads = store.jsonSeries(id, RECORD.ablationHeads);
  const ablationClean = store.jsonSeries(id, RECORD.ablationClean);
  const lastAbl = ablationHeads[ablationHeads.length - 1];
  const ablation =
    lastAbl && Array.isArray(lastAbl.value)
      ? {
          tokens: lastAbl.tokens,
          clean: (ablationClean.find((c) => c.tokens === lastAbl.tokens)?.value ?? null) as AblationClean | null,
          heads: lastAbl.value as HeadAblation[],
        }
      : null;
  const taskRecords = store.jsonSeries(id, RECORD.tasks);
  const lastTasks = taskRecords[taskRecords.length - 1];
  const tasks = lastTasks && Array.isArray(lastTasks.value) ? { tokens: lastTasks.tokens, tasks: lastTasks.value as TaskResult[] } : null;
  const tokenLoss = store
    .vectors(id, VECTOR.tokenLoss)
    .filter((v) => v.tokens > 0)
    .map((v) => ({ tokens: v.tokens, losses: v.data }));
  const extraIcl: Record<string, number> = {};
  const extraIclSeries: RunData["extraIclSeries"] = {};
  for (const name of store.metricNames(id)) {
    const measure = extraIclMeasure(name);
    if (measure === null) continue;
    const s = series(store, id, name);
    if (s.length === 0) continue;
    extraIcl[measure] = s[s.length - 1].value;
    const xlo = byTokens(store, id, stored(measure, "lo")),
      xhi = byTokens(store, id, stored(measure, "hi"));
    extraIclSeries[measure] = s.map((p) => ({ tokens: p.tokens, score: p.value, lo: xlo.get(p.tokens) ?? null, hi: xhi.get(p.tokens) ?? null }));
  }
  const conf = series(store, id, METRIC.iclConfidence);
  const confidence = conf.length > 0 ? conf[conf.length - 1].value : null;
  const inputs = storedMeasureInputs(store, id);
  const bosSeries = store.metricSeries(id, METRIC.headsBos);
  const bosValue = bosSeries[bosSeries.length - 1]?.value;
  const bos = inputs !== null ? inputs.bos : bosValue !== undefined && Number.isFinite(bosValue) ? bosValue : null;

  // The one phase-change analysis (also `icl-lab measure phase`): the ICL drop against its own
  // bootstrap standard error, the best head's induction rise, the loss bump.
  const analysis = phaseAnalysis({ icl: icl.map((c) => ({ tokens: c.tokens, value: c.score, se: c.se })), heads, loss: trainLoss });
  const last = store.lastCheckpoint(id);
  return {
    id,
    info,
    config,
    model: describeModel(config, info.kind),
    icl,
    trainLoss,
    positionLoss,
    heads,
    ablation,
    tasks,
    tokenLoss,
    extraIcl,
    extraIclSeries,
    confidence,
    bos,
    inputs,
    phase: analysis.icl,
    inductionPhase: analysis.induction,
    bump: analysis.lossBump,
    lastCheckpoint: last ? { tokens: last.tokens, path: last.path } : null,
  };
}

/** Reads the runs (in the order given) and labels them against each other. */
export function readRuns(store: RunStore, infos: readonly RunInfo[]): RunData[] {
  const read = infos.map((info) => readRun(store, info));
  const labels = labelRuns(read);
  return read.map((r, i) => ({ ...r, ...labels[i] }));
}

/** "L1H3". */
export function headName(layer: number, head: number): string {
  return `L${layer}H${head}`;
}

/**
 * Up to `n` checkpoints spread evenly in log tokens from the first to the last, plus the ones
 * nearest to each token count in `include` (e.g. the phase-change window's ends); ascending.
 */
export function selectCheckpoints(tokens: readonly number[], opts: { n?: number; include?: readonly number[] } = {}): number[] {
  const sorted = [...new Set(tokens.filter((t) => t > 0))].sort((a, b) => a - b);
  const n = opts.n ?? 5;
  if (sorted.length <= n) return sorted;
  const lo = Math.log10(sorted[0]),
    hi = Math.log10(sorted[sorted.length - 1]);
  const nearest = (x: number) => sorted.reduce((p, q) => (Math.abs(Math.log10(q) - x) < Math.abs(Math.log10(p) - x) ? q : p));
  const picked = new Set<number>();
  for (let i = 0; i < n; i++) picked.add(nearest(lo + ((hi - lo) * i) / (n - 1)));
  for (const t of opts.include ?? []) if (t > 0) picked.add(nearest(Math.log10(t)));
  return [...picked].sort((a, b) => a - b);
}
