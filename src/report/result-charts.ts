/**
 * Charts of further results as Vega-Lite specs (see charts.ts): per-token-loss PCA trajectories,
 * head ablation, few-shot tasks and the comparison table as bars.
 */
import type { TopLevelSpec } from "vega-lite";
import { DATASETS, specHead, WIDTH } from "./chart-common.ts";

// ---- per-token-loss PCA ------------------------------------------------------------------------------

export interface PcaPoint {
  label: string;
  tokens: number;
  pc1: number;
  pc2: number;
}

/** Each series' checkpoints in the first two principal components, joined in training order. */
export function pcaChart(data: { points: readonly PcaPoint[]; explained?: readonly number[]; title?: string }): TopLevelSpec {
  const pct = (i: number) => (data.explained?.[i] !== undefined ? ` (${(100 * data.explained[i]).toFixed(1)}% of variance)` : "");
  return {
    ...specHead(data.title ?? "Per-token-loss PCA trajectories", "Each checkpoint's per-token-loss vector projected on the first two principal components", {
      width: 420,
      height: 360,
    }),
    datasets: { [DATASETS.pca]: data.points.map((p) => ({ ...p, logTokens: Math.log10(p.tokens) })) },
    data: { name: DATASETS.pca },
    encoding: {
      x: { field: "pc1", type: "quantitative", title: `PC1${pct(0)}`, scale: { zero: false } },
      y: { field: "pc2", type: "quantitative", title: `PC2${pct(1)}`, scale: { zero: false } },
      color: { field: "label", type: "nominal", title: "run" },
    },
    layer: [
      { mark: { type: "line", strokeWidth: 1.5 }, encoding: { order: { field: "tokens", type: "quantitative" } } },
      {
        mark: { type: "point", filled: true },
        encoding: {
          size: { field: "logTokens", type: "quantitative", title: "log10 tokens", scale: { zero: false, range: [10, 120] }, legend: { format: ".1f" } },
          tooltip: [{ field: "label" }, { field: "tokens", format: ",.0f" }, { field: "pc1", format: ".3f" }, { field: "pc2", format: ".3f" }],
        },
      },
    ],
  };
}

// ---- ablation ----------------------------------------------------------------------------------------

export interface AblationBar {
  /** Head name, e.g. "L1H3". */
  head: string;
  variant: "zero" | "pattern";
  /** Ablated − clean ICL score (positive: the head carried ICL). */
  delta: number;
  lo?: number | null;
  hi?: number | null;
}

/** Change of the ICL score when each head is ablated (zero and pattern-preserving), with intervals. */
export function ablationChart(data: { bars: readonly AblationBar[]; title?: string }): TopLevelSpec {
  const heads = [...new Set(data.bars.map((b) => b.head))];
  return {
    ...specHead(
      data.title ?? "Head ablation",
      "Change of the ICL score (ablated minus clean, nats) when each head's output is zeroed; error bars: paired bootstrap interval",
      { width: Math.max(240, Math.min(WIDTH, heads.length * 36)), height: 260 },
    ),
    datasets: { [DATASETS.ablation]: data.bars.map((b) => ({ ...b })) },
    data: { name: DATASETS.ablation },
    encoding: {
      x: { field: "head", type: "nominal", sort: heads, title: "head", axis: { labelAngle: 0 } },
      xOffset: { field: "variant", type: "nominal", sort: ["zero", "pattern"] },
    },
    layer: [
      {
        mark: { type: "bar" },
        encoding: {
          y: { field: "delta", type: "quantitative", title: "Δ ICL score when ablated (nats)" },
          color: { field: "variant", type: "nominal", title: "ablation", sort: ["zero", "pattern"] },
          tooltip: [{ field: "head" }, { field: "variant" }, { field: "delta", format: ".3f" }, { field: "lo", format: ".3f" }, { field: "hi", format: ".3f" }],
        },
      },
      {
        transform: [{ filter: "isValid(datum.lo) && isValid(datum.hi)" }],
        mark: { type: "rule", color: "black" },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } },
      },
    ],
  };
}

// ---- few-shot tasks ------------------------------------------------------------------------------------

export interface TaskPoint {
  label: string;
  task: string;
  shots: number;
  accuracy: number;
  chance: number;
}

/** Few-shot accuracy against the number of shots, one panel per task, chance dashed. */
export function tasksChart(data: { points: readonly TaskPoint[]; title?: string }): TopLevelSpec {
  return {
    ...specHead(data.title ?? "Few-shot task accuracy", "Accuracy against the number of in-context examples (shots) for each task; dashed: chance"),
    datasets: { [DATASETS.tasks]: data.points.map((p) => ({ ...p })) },
    data: { name: DATASETS.tasks },
    facet: { column: { field: "task", type: "nominal", title: null } },
    spec: {
      width: 200,
      height: 180,
      layer: [
        {
          mark: { type: "line", point: true },
          encoding: {
            x: { field: "shots", type: "quantitative", title: "shots" },
            y: { field: "accuracy", type: "quantitative", title: "accuracy", scale: { domain: [0, 1] } },
            color: { field: "label", type: "nominal", title: "run" },
            tooltip: [{ field: "label" }, { field: "task" }, { field: "shots" }, { field: "accuracy", format: ".3f" }],
          },
        },
        {
          mark: { type: "rule", strokeDash: [4, 4], color: "#888" },
          encoding: { y: { field: "chance", type: "quantitative", aggregate: "mean" } },
        },
      ],
    },
  };
}

// ---- comparison bars (the Shin table as charts) --------------------------------------------------------

export interface ComparisonBar {
  /** The row (corpus, mixture or model). */
  row: string;
  /** The column's label. */
  metric: string;
  value: number;
  better: "higher" | "lower";
  /** The column mean the bar is compared with. */
  mean: number;
  /** "better" or "worse" than the mean (the table's bold and underline), or "mean". */
  mark: "better" | "worse" | "mean";
}

/** One bar chart per metric (rows on x), bars coloured better / worse than the column mean, the mean as a rule. */
export function comparisonChart(data: { bars: readonly ComparisonBar[]; title?: string }): TopLevelSpec {
  const rows = [...new Set(data.bars.map((b) => b.row))];
  const metrics = [...new Set(data.bars.map((b) => b.metric))];
  return {
    ...specHead(data.title ?? "Comparison", "Each metric per row; blue: better than the column mean, orange: worse; the rule is the mean"),
    datasets: { [DATASETS.comparison]: data.bars.map((b) => ({ ...b, metricTitle: `${b.metric} (${b.better === "higher" ? "higher" : "lower"} is better)` })) },
    data: { name: DATASETS.comparison },
    facet: {
      field: "metricTitle",
      type: "nominal",
      title: null,
      sort: metrics.map((m) => data.bars.find((b) => b.metric === m)!).map((b) => `${b.metric} (${b.better} is better)`),
    },
    columns: 3,
    spec: {
      width: Math.max(160, Math.min(320, rows.length * 28)),
      height: 160,
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            x: { field: "row", type: "nominal", sort: rows, title: null, axis: { labelAngle: -30, labelLimit: 120 } },
            y: { field: "value", type: "quantitative", title: null },
            color: {
              field: "mark",
              type: "nominal",
              title: "vs column mean",
              scale: { domain: ["better", "worse", "mean"], range: ["#4c78a8", "#f58518", "#9d9d9d"] },
            },
            tooltip: [{ field: "row" }, { field: "metric" }, { field: "value", format: ".3f" }, { field: "mean", format: ".3f" }],
          },
        },
        {
          mark: { type: "rule", strokeDash: [4, 3], color: "black" },
          encoding: { y: { field: "mean", type: "quantitative", aggregate: "mean" } },
        },
      ],
    },
    resolve: { scale: { y: "independent" } },
  };
}
