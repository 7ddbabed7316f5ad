/**
 * The data-distribution experiment's results (Chan et al. 2022; Reddy 2024), read from the lab's
 * store: per run the final ICL and IWL accuracies and the head scores over training; per sweep
 * point the mean over seeds with an interval; the onset of ICL with the induction score around it;
 * tables as text and HTML; figures (Vega-Lite) in the style of Chan's Fig. 2–4 (accuracy against
 * each knob) and Reddy's Fig. 1 (accuracy and head scores over training).
 *
 * Interval of a point: from the lowest 95% Wilson lower bound to the highest upper bound among its
 * seeds' final accuracies (each measured on `evalSequences` sequences) — the spread over seeds
 * widened by each run's own evaluation noise. "Non-overlapping" in the experiment's targets means
 * these intervals do not overlap.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import type { RunStore } from "../store/run-store.ts";
import type { ClassifierRunRecord } from "../train/classifier-run.ts";
import { CLASSIFICATION } from "../measure/icl-classification.ts";
import { METRIC } from "../measure/names.ts";
import { alignedMetrics } from "./data.ts";
import { VEGA_LITE_SCHEMA } from "./chart-common.ts";
import type { ReportFigure } from "./render.ts";
import { escapeHtml, htmlTable } from "./tables.ts";

/** The knobs of the data distribution. */
export interface Knobs {
  pBursty: number;
  burst: number;
  classes: number;
  epsilon: number;
  zipf: number;
}
export type KnobName = keyof Knobs;

export const KNOB_LABELS: Record<KnobName, string> = {
  pBursty: "burstiness p_B",
  burst: "copies per class B",
  classes: "classes K",
  epsilon: "within-class variation ε",
  zipf: "Zipf exponent α",
};

/** One sweep: a knob varied around a base point, with the architectures trained at each value. */
export interface SweepSpec {
  name: string;
  knob: KnobName;
  base: Knobs;
  values: number[];
  /** Architectures at every value. */
  archs: string[];
  /** Further architectures, at these values only. */
  more?: { archs: string[]; values: number[] };
  /** This sweep trains this many times the scale's steps (default 1). */
  stepsFactor?: number;
}

/** The training steps of a sweep's runs at a scale of `scaleSteps`. */
export function sweepSteps(sweep: SweepSpec, scaleSteps: number): number {
  return Math.round(scaleSteps * (sweep.stepsFactor ?? 1));
}

export interface CurvePoint {
  step: number;
  iclNovel: number;
  iclSwap: number;
  iwl: number;
  prevToken: number | null;
  induction: number | null;
}

export interface DdRun {
  runId: string;
  arch: string;
  seed: number;
  knobs: Knobs;
  status: string;
  /** Sequences per evaluation kind. */
  nEval: number;
  chanceIcl: number;
  chanceIwl: number;
  curve: CurvePoint[];
}

export function knobsOf(r: ClassifierRunRecord): Knobs {
  const t = r.train.task;
  return { pBursty: t.pBursty, burst: t.burst, classes: t.classes, epsilon: t.epsilon, zipf: t.zipf };
}

/** The runs (those the store holds), with their curves. */
export function readDdRuns(store: RunStore, runIds: readonly string[]): DdRun[] {
  const out: DdRun[] = [];
  for (const id of runIds) {
    const info = store.getRun(id);
    if (info === undefined) continue;
    const rec = info.config as ClassifierRunRecord;
    const curve = alignedMetrics(store.metricSeries(id, METRIC.step), store, id, {
      iclNovel: CLASSIFICATION.iclNovel,
      iclSwap: CLASSIFICATION.iclSwap,
      iwl: CLASSIFICATION.iwl,
      prevToken: CLASSIFICATION.prevToken,
      induction: CLASSIFICATION.induction,
    }).map((p) => ({
      step: p.value,
      iclNovel: p.iclNovel ?? NaN,
      iclSwap: p.iclSwap ?? NaN,
      iwl: p.iwl ?? NaN,
      prevToken: p.prevToken,
      induction: p.induction,
    }));
    const t = rec.train.task;
    out.push({
      runId: id,
      arch: rec.arch,
      seed: rec.train.seed,
      knobs: knobsOf(rec),
      status: info.status,
      nEval: rec.train.evalSequences,
      chanceIcl: t.burst / t.context,
      chanceIwl: 1 / t.labels,
      curve,
    });
  }
  return out;
}

/** 95% Wilson score interval of k/n. */
export function wilson(p: number, n: number): [number, number] {
  const z = 1.96;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
  values: number[];
}

/** Mean over seeds, interval from the lowest Wilson lower bound to the highest upper bound. */
export function seedInterval(values: readonly number[], n: number): Interval {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const bounds = values.map((v) => wilson(v, n));
  return { mean, lo: Math.min(...bounds.map((b) => b[0])), hi: Math.max(...bounds.map((b) => b[1])), values: [...values] };
}

export function overlaps(a: Interval, b: Interval): boolean {
  return a.lo <= b.hi && b.lo <= a.hi;
}

export interface PointRow {
  sweep: string;
  knob: KnobName;
  value: number;
  arch: string;
  seeds: number;
  icl: Interval;
  swap: Interval;
  iwl: Interval;
  induction: Interval | null;
  chanceIcl: number;
  chanceIwl: number;
}

function sameKnobs(a: Knobs, b: Knobs): boolean {
  return a.pBursty === b.pBursty && a.burst === b.burst && a.classes === b.classes && a.epsilon === b.epsilon && a.zipf === b.zipf;
}

/** The finished runs at a sweep's point. */
export function runsAt(runs: readonly DdRun[], sweep: SweepSpec, value: number, arch: string): DdRun[] {
  const knobs = { ...sweep.base, [sweep.knob]: value };
  return runs.filter((r) => r.arch === arch && r.status === "finished" && r.curve.length > 0 && sameKnobs(r.knobs, knobs));
}

/** One row per sweep, value and architecture that has finished runs. */
export function pointRows(runs: readonly DdRun[], sweeps: readonly SweepSpec[]): PointRow[] {
  const rows: PointRow[] = [];
  for (const s of sweeps) {
    const archs = [...s.archs, ...(s.more?.archs ?? [])];
    for (const arch of archs) {
      for (const value of s.values) {
        const rs = runsAt(runs, s, value, arch);
        if (rs.length === 0) continue;
        const last = rs.map((r) => r.curve.at(-1)!);
        const n = rs[0].nEval;
        const ind = last.map((p) => p.induction).filter((v): v is number => v !== null);
        rows.push({
          sweep: s.name,
          knob: s.knob,
          value,
          arch,
          seeds: rs.length,
          icl: seedInterval(
            last.map((p) => p.iclNovel),
            n,
          ),
          swap: seedInterval(
            last.map((p) => p.iclSwap),
            n,
          ),
          iwl: seedInterval(
            last.map((p) => p.iwl),
            n,
          ),
          induction: ind.length > 0 ? { mean: ind.reduce((a, b) => a + b, 0) / ind.length, lo: Math.min(...ind), hi: Math.max(...ind), values: ind } : null,
          chanceIcl: rs[0].chanceIcl,
          chanceIwl: rs[0].chanceIwl,
        });
      }
    }
  }
  return rows;
}

export interface OnsetRow {
  runId: string;
  arch: string;
  /** First evaluation steps where ICL accuracy passed 10% and 90% of its rise from chance to its final value. */
  step10: number;
  step90: number;
  /** Induction and previous-token scores at the last point before step10 and at step90. */
  inductionBefore: number | null;
  inductionAfter: number | null;
  prevBefore: number | null;
  prevAfter: number | null;
  finalIcl: number;
}

/**
 * The onset of ICL in every attention run whose final ICL accuracy is at least `minFinal`: where
 * it crossed 10% and 90% of its rise above chance, and the head scores on both sides.
 */
export function onsetRows(runs: readonly DdRun[], minFinal = 0.6): OnsetRow[] {
  const out: OnsetRow[] = [];
  for (const r of runs) {
    const last = r.curve.at(-1);
    if (last === undefined || last.induction === null || last.iclNovel < minFinal) continue;
    const rise = last.iclNovel - r.chanceIcl;
    const i10 = r.curve.findIndex((p) => p.iclNovel >= r.chanceIcl + 0.1 * rise);
    const i90 = r.curve.findIndex((p) => p.iclNovel >= r.chanceIcl + 0.9 * rise);
    if (i10 < 0 || i90 < 0) continue;
    const before = r.curve[Math.max(0, i10 - 1)];
    out.push({
      runId: r.runId,
      arch: r.arch,
      step10: r.curve[i10].step,
      step90: r.curve[i90].step,
      inductionBefore: before.induction,
      inductionAfter: r.curve[i90].induction,
      prevBefore: before.prevToken,
      prevAfter: r.curve[i90].prevToken,
      finalIcl: last.iclNovel,
    });
  }
  return out;
}

const pct = (v: number) => v.toFixed(2);
export const fmtInterval = (i: Interval) => `${pct(i.mean)} [${pct(i.lo)}, ${pct(i.hi)}]`;

export function pointTable(rows: readonly PointRow[]): { header: string[]; cells: string[][] } {
  return {
    header: ["sweep", "value", "model", "seeds", "ICL novel [interval]", "ICL swapped", "IWL", "induction (best head)", "seed values ICL / IWL"],
    cells: rows.map((r) => [
      r.sweep,
      `${r.knob}=${r.value}`,
      r.arch,
      String(r.seeds),
      fmtInterval(r.icl),
      fmtInterval(r.swap),
      fmtInterval(r.iwl),
      r.induction === null ? "—" : `${pct(r.induction.mean)} (${r.induction.values.map(pct).join(", ")})`,
      `${r.icl.values.map(pct).join(", ")} / ${r.iwl.values.map(pct).join(", ")}`,
    ]),
  };
}

export function onsetTable(rows: readonly OnsetRow[]): { header: string[]; cells: string[][] } {
  const f = (v: number | null) => (v === null ? "—" : v.toFixed(2));
  return {
    header: ["run", "ICL 10% → 90% (steps)", "induction before → after", "previous-token before → after", "final ICL"],
    cells: rows.map((r) => [
      r.runId,
      `${r.step10} → ${r.step90}`,
      `${f(r.inductionBefore)} → ${f(r.inductionAfter)}`,
      `${f(r.prevBefore)} → ${f(r.prevAfter)}`,
      r.finalIcl.toFixed(2),
    ]),
  };
}

// ---- figures -------------------------------------------------------------------------------

const MEASURES = [
  { key: "icl", label: "ICL (novel classes)" },
  { key: "swap", label: "ICL (swapped labels)" },
  { key: "iwl", label: "IWL (no support)" },
] as const;
const COLORS = {
  domain: [...MEASURES.map((m) => m.label), "induction score", "previous-token score"],
  range: ["#1f77b4", "#9ecae1", "#d62728", "#2ca02c", "#98df8a"],
};
const SWEEP_COLORS = { domain: COLORS.domain.slice(0, 3), range: COLORS.range.slice(0, 3) };

/** Chan Fig. 2–4 style: final accuracies against one knob, one panel per architecture, intervals over seeds, chance levels dashed. */
export function sweepChart(rows: readonly PointRow[], sweep: SweepSpec): TopLevelSpec {
  const data = rows
    .filter((r) => r.sweep === sweep.name)
    .flatMap((r) =>
      MEASURES.map((m) => ({ value: String(r.value), order: r.value, arch: r.arch, measure: m.label, mean: r[m.key].mean, lo: r[m.key].lo, hi: r[m.key].hi })),
    );
  const chance = rows
    .filter((r) => r.sweep === sweep.name)
    .flatMap((r) => [
      { arch: r.arch, chance: r.chanceIcl, what: "ICL chance" },
      { arch: r.arch, chance: r.chanceIwl, what: "IWL chance" },
    ]);
  const x = { field: "value", type: "ordinal" as const, sort: { field: "order" }, title: KNOB_LABELS[sweep.knob], axis: { labelAngle: 0 } };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: `${sweep.name}: accuracy against ${KNOB_LABELS[sweep.knob]} (base ${baseText(sweep.base, sweep.knob)})`,
    data: { values: [...data, ...chance.map((c) => ({ ...c, chanceRow: true }))] },
    facet: { column: { field: "arch", title: null, sort: [...sweep.archs, ...(sweep.more?.archs ?? [])] } },
    spec: {
      width: 190,
      height: 220,
      layer: [
        {
          transform: [{ filter: "datum.chanceRow" }],
          mark: { type: "rule", strokeDash: [4, 4], color: "#888" },
          encoding: { y: { field: "chance", type: "quantitative" } },
        },
        {
          transform: [{ filter: "!datum.chanceRow" }],
          mark: { type: "line", point: true },
          encoding: {
            x,
            y: { field: "mean", type: "quantitative", title: "final accuracy", scale: { domain: [0, 1] } },
            color: { field: "measure", type: "nominal", scale: SWEEP_COLORS, title: null },
          },
        },
        {
          transform: [{ filter: "!datum.chanceRow" }],
          mark: { type: "errorbar", thickness: 2 },
          encoding: {
            x,
            y: { field: "lo", type: "quantitative", title: "final accuracy" },
            y2: { field: "hi" },
            color: { field: "measure", type: "nominal", scale: SWEEP_COLORS },
          },
        },
      ],
    },
    resolve: { scale: { x: "shared" } },
  } as TopLevelSpec;
}

/** Reddy Fig. 1 style: ICL, IWL and the best heads' scores over training, one line per seed. */
export function curvesChart(runs: readonly DdRun[], title: string): TopLevelSpec {
  const values = runs.flatMap((r) =>
    r.curve.flatMap((p) => [
      { step: p.step, run: `seed ${r.seed}`, measure: MEASURES[0].label, value: p.iclNovel },
      { step: p.step, run: `seed ${r.seed}`, measure: MEASURES[2].label, value: p.iwl },
      ...(p.induction !== null ? [{ step: p.step, run: `seed ${r.seed}`, measure: "induction score", value: p.induction }] : []),
      ...(p.prevToken !== null ? [{ step: p.step, run: `seed ${r.seed}`, measure: "previous-token score", value: p.prevToken }] : []),
    ]),
  );
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    width: 560,
    height: 260,
    data: { values },
    mark: { type: "line" },
    encoding: {
      x: { field: "step", type: "quantitative", title: "training step" },
      y: { field: "value", type: "quantitative", title: "accuracy / head score", scale: { domain: [0, 1] } },
      color: { field: "measure", type: "nominal", scale: COLORS, title: null },
      strokeDash: { field: "run", type: "nominal", title: null },
    },
  } as TopLevelSpec;
}

function baseText(k: Knobs, except?: KnobName): string {
  return (Object.keys(k) as KnobName[])
    .filter((n) => n !== except)
    .map((n) => `${n}=${k[n]}`)
    .join(", ");
}

export interface DdReportInput {
  title: string;
  intro: string;
  runs: DdRun[];
  sweeps: SweepSpec[];
  /** Runs whose curves make the Reddy-style figure (e.g. the attention model at the base point). */
  curveRuns: Array<{ title: string; runs: DdRun[] }>;
  out: string;
  png?: boolean;
}

/** Writes index.html (and PNG figures) under `out`; returns the HTML's path. */
export async function renderDdReport(input: DdReportInput): Promise<{ html: string; figures: string[] }> {
  const { writeFigures } = await import("./render.ts");
  mkdirSync(input.out, { recursive: true });
  const rows = pointRows(input.runs, input.sweeps);
  const figures: ReportFigure[] = [];
  for (const s of input.sweeps) {
    figures.push({
      name: `sweep-${s.name}`,
      spec: sweepChart(rows, s),
      caption: `Final accuracy against ${KNOB_LABELS[s.knob]}: mean over seeds, bars from the lowest to the highest 95% Wilson bound among the seeds; dashed: chance (ICL 1/(N/B), IWL 1/L).`,
    });
  }
  for (const [i, c] of input.curveRuns.entries()) {
    if (c.runs.length === 0) continue;
    figures.push({
      name: `curves-${i}`,
      spec: curvesChart(c.runs, c.title),
      caption:
        "ICL on novel classes, IWL, and the best head's induction and previous-token scores over training (the definitions in src/measure/icl-classification.ts).",
    });
  }
  const { parts, written } = await writeFigures(figures, input.out, input.png);
  const pt = pointTable(rows);
  const ot = onsetTable(onsetRows(input.runs));
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
table{border-collapse:collapse;font-size:.85rem}th,td{padding:.2rem .5rem;border-bottom:1px solid #e4e4e4;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.chart svg{max-width:100%;height:auto}figcaption{font-size:.9rem}</style></head>
<body><h1>${escapeHtml(input.title)}</h1><p>${escapeHtml(input.intro)}</p>
<h2>Final accuracies</h2>${htmlTable(pt.header, pt.cells)}
<h2>Figures</h2>${parts.join("\n")}
<h2>Onset of ICL and the induction head</h2>${htmlTable(ot.header, ot.cells)}
<h2>Runs</h2><ul>${input.runs.map((r) => `<li>${escapeHtml(r.runId)} (${escapeHtml(r.status)})</li>`).join("")}</ul>
</body></html>`;
  const path = join(input.out, "index.html");
  writeFileSync(path, html);
  return { html: path, figures: written };
}
