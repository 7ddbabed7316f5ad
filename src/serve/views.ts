/**
 * What the dashboard's API returns, built from the runs store: the runs list (cheap: a few
 * metric reads per run, never the whole run), one run's page (src/report/data.ts `readRun`, the
 * same reading and detection as the static reports) and the comparison of several runs (the
 * report's labels and Shin-style table).
 *
 * A run whose stored record cannot be read (corrupt config, a corrupt vector or JSON record) is
 * shown as such: its row carries `corrupt`, and its page shows what could be read.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RunInfo, RunStore } from "../store/run-store.ts";
import { describeMixture, describeModel, labelRuns, readRun, type RunData, type StoredConfig } from "../report/data.ts";
import { bestHead } from "../report/summary.ts";
import type { LossBump } from "../measure/loss-bump.ts";
import type { PhaseChange } from "../measure/phase-change.ts";
import { METRIC } from "../measure/names.ts";
import { comparisonRows } from "../report/report.ts";
import { shinTable } from "../report/tables.ts";
import type { CompareView, Detection, DisplayStatus, RunRow, RunView } from "./types.ts";

function asConfig(c: unknown): StoredConfig | null {
  return c !== null && typeof c === "object" && !Array.isArray(c) ? (c as StoredConfig) : null;
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

export function displayStatus(info: RunInfo): DisplayStatus {
  return info.stale ? "stale" : info.status;
}

/** One runs-list row; reading errors become `corrupt` instead of failing the list. */
export function runRow(store: RunStore, info: RunInfo): RunRow {
  const config = asConfig(info.config);
  const row: RunRow = {
    id: info.id,
    experiment: info.experiment,
    kind: info.kind,
    status: displayStatus(info),
    corrupt: info.corrupt,
    error: info.error,
    model: describeModel(config, info.kind),
    data: config?.data ? describeMixture(config.data.sources) : null,
    seed: typeof config?.seed === "number" ? config.seed : null,
    targetTokens: typeof config?.tokens === "number" ? config.tokens : null,
    tokens: info.tokens,
    checkpoints: 0,
    icl: null,
    trainLoss: null,
    createdAt: info.createdAt,
    updatedAt: info.updatedAt,
  };
  try {
    row.checkpoints = store.checkpoints(info.id).length;
    const last = (name: string) =>
      store
        .metricSeries(info.id, name)
        .filter((p) => Number.isFinite(p.value))
        .at(-1);
    const icl = last(METRIC.iclScore);
    if (icl) {
      const at = (name: string) => finiteOrNull(store.metricSeries(info.id, name).find((p) => p.tokens === icl.tokens)?.value);
      row.icl = { tokens: icl.tokens, score: icl.value, lo: at(METRIC.iclLo), hi: at(METRIC.iclHi) };
    }
    row.trainLoss = last(METRIC.trainLoss)?.value ?? null;
  } catch (e) {
    row.corrupt ??= `stored results cannot be read (${(e as Error).message})`;
  }
  return row;
}

function phaseDetection(p: PhaseChange): Detection {
  return p.status === "found"
    ? { status: "found", start: p.start, end: p.end, size: p.size, shareInWindow: p.shareInWindow }
    : { status: "none", reason: p.reason };
}

function bumpDetection(b: LossBump): Detection {
  return b.status === "found" ? { status: "found", start: b.start, end: b.end, size: b.height, peak: b.peak } : { status: "none", reason: b.reason };
}

const NO_DETECTION: Detection = { status: "none", reason: "the run's results could not be read" };

/** The run page's data. A run whose results cannot be read gets its row and config, and `row.corrupt` says why. */
export function runView(store: RunStore, info: RunInfo): RunView {
  const row = runRow(store, info);
  const config = asConfig(info.config);
  const label = typeof config?.name === "string" ? config.name : info.id;
  const checkpoints = safe(() => store.checkpoints(info.id).map((c) => ({ tokens: c.tokens, step: c.step })), []);
  const kind = (config?.model?.kind ?? info.kind) as string | null;
  const hasAttention = kind === "attn-only" || kind === "transformer";
  // `icl-lab report ID` writes <lab>/reports/<ID>/report.html by default.
  const report = existsSync(join(store.labDir, "reports", info.id, "report.html")) ? `/files/reports/${encodeURIComponent(info.id)}/report.html` : null;
  const empty: RunView = {
    row,
    label,
    config: info.config,
    icl: [],
    phase: NO_DETECTION,
    trainLoss: [],
    bump: NO_DETECTION,
    positionLoss: [],
    heads: [],
    inductionPhase: { ...NO_DETECTION, layer: null, head: null },
    bestHead: null,
    ablation: null,
    tasks: null,
    checkpoints,
    hasAttention,
    report,
  };
  let run: RunData;
  try {
    run = { ...readRun(store, info), label, group: label };
  } catch (e) {
    row.corrupt ??= `stored results cannot be read (${(e as Error).message})`;
    return empty;
  }
  const ip = run.inductionPhase;
  return {
    ...empty,
    icl: run.icl.map((c) => ({ tokens: c.tokens, score: c.score, lo: c.lo, hi: c.hi, loss50: c.loss50, loss500: c.loss500 })),
    phase: phaseDetection(run.phase),
    trainLoss: run.trainLoss,
    bump: bumpDetection(run.bump),
    positionLoss: run.positionLoss,
    heads: run.heads,
    inductionPhase: { ...phaseDetection(ip), layer: ip.layer, head: ip.head },
    bestHead: bestHead(run),
    ablation: run.ablation
      ? {
          tokens: run.ablation.tokens,
          clean: run.ablation.clean && { score: run.ablation.clean.score, lo: run.ablation.clean.lo, hi: run.ablation.clean.hi },
          heads: run.ablation.heads,
        }
      : null,
    tasks: run.tasks,
  };
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/**
 * Several runs side by side: ICL curves labelled by what differs between the runs (the report's
 * labels), each detected phase-change window, the last loss-by-position curves and the Shin-style
 * table. Runs whose results cannot be read are listed but draw nothing.
 */
export function compareView(store: RunStore, infos: readonly RunInfo[]): CompareView {
  const read: Array<Omit<RunData, "label" | "group"> | null> = infos.map((info) => safe(() => readRun(store, info), null));
  const labels = labelRuns(infos.map((info) => ({ info, config: asConfig(info.config) })));
  const runs = infos.map((info, i) => ({
    id: info.id,
    label: labels[i].label,
    status: displayStatus(info),
    model: describeModel(asConfig(info.config), info.kind),
  }));
  const data: RunData[] = [];
  read.forEach((r, i) => {
    if (r) data.push({ ...r, ...labels[i] });
  });
  const icl = data.flatMap((r) => r.icl.map((c) => ({ label: r.label, tokens: c.tokens, score: c.score, lo: c.lo, hi: c.hi })));
  const windows = data.flatMap((r) => (r.phase.status === "found" ? [{ label: r.label, start: r.phase.start, end: r.phase.end }] : []));
  const positionLoss = data
    .filter((r) => r.positionLoss.length > 0)
    .map((r, i) => ({ series: r.label, order: i, loss: r.positionLoss[r.positionLoss.length - 1].meanLoss }));
  let table = null;
  if (data.length > 1) {
    const groups = new Map<string, RunData[]>();
    for (const r of data) groups.set(r.label, [r]);
    const { rows, columns } = comparisonRows(groups);
    if (columns.length > 0) table = shinTable(rows, columns);
  }
  return { runs, icl, windows, positionLoss, table };
}
