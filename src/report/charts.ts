/**
 * The charts of icl-lab as Vega-Lite specs: pure functions from plain data to a spec, with no Node
 * APIs, so the static reports (rendered to SVG and PNG on the server, render.ts) and the dashboard
 * (vega-embed in the browser) draw the same figures from the same code.
 *
 * Every spec keeps its data in top-level named `datasets` (names in DATASETS), so that a live view
 * can replace one with `view.change(name, …)` and tests can read the values a chart was given.
 * Training tokens are always on a log axis (the phase change is a matter of decades), and so is
 * the context position in loss-by-position charts (Olsson et al. plot it that way).
 */
import type { TopLevelSpec } from "vega-lite";

export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** Names of the datasets each spec holds (stable: the dashboard updates them by name). */
export const DATASETS = {
  icl: "icl",
  iclWindows: "iclWindows",
  trainLoss: "trainLoss",
  lossBumps: "lossBumps",
  induction: "induction",
  inductionWindows: "inductionWindows",
  positionLoss: "positionLoss",
  heads: "heads",
  attention: "attention",
  attentionTargets: "attentionTargets",
  pca: "pca",
  ablation: "ablation",
  tasks: "tasks",
  comparison: "comparison",
} as const;

const WIDTH = 560;
const HEIGHT = 300;
/** SI-prefixed token counts on axes: 10k, 1M, 1G. */
const TOKENS_FORMAT = "~s";

function tokensAxis(title = "training tokens (log scale)") {
  return { field: "tokens", type: "quantitative" as const, scale: { type: "log" as const }, axis: { title, format: TOKENS_FORMAT } };
}

// ---- ICL score over training -------------------------------------------------------------------

export interface IclPoint {
  /** The series (a run, or a group of seeds). */
  label: string;
  tokens: number;
  score: number;
  /** Band around the score: the bootstrap interval (one run) or mean ± sd (several seeds). */
  lo?: number | null;
  hi?: number | null;
}

/** A detected window [start, end] in tokens, shaded in its series' colour. */
export interface TokenWindow {
  label: string;
  start: number;
  end: number;
}

/** ICL score against training tokens (log x) per series, the band and each detected phase-change window shaded. */
export function iclScoreChart(data: { points: readonly IclPoint[]; windows?: readonly TokenWindow[]; title?: string }): TopLevelSpec {
  const band = data.points.filter((p) => isNum(p.lo) && isNum(p.hi));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "ICL score over training",
    description: "ICL score (loss at token 500 minus loss at token 50, nats) against training tokens; shaded: detected phase-change windows",
    width: WIDTH,
    height: HEIGHT,
    datasets: {
      [DATASETS.icl]: data.points.map((p) => ({ ...p })),
      [DATASETS.iclWindows]: (data.windows ?? []).map((w) => ({ ...w })),
    },
    layer: [
      {
        data: { name: DATASETS.iclWindows },
        mark: { type: "rect", opacity: 0.15 },
        encoding: {
          x: { field: "start", type: "quantitative", scale: { type: "log" } },
          x2: { field: "end" },
          color: { field: "label", type: "nominal", title: "run" },
          tooltip: [{ field: "label", title: "phase change" }, { field: "start", format: ",.0f" }, { field: "end", format: ",.0f" }],
        },
      },
      ...(band.length > 0
        ? [{
          data: { name: DATASETS.icl },
          transform: [{ filter: "isValid(datum.lo) && isValid(datum.hi)" }],
          mark: { type: "area" as const, opacity: 0.18 },
          encoding: {
            x: tokensAxis(),
            y: { field: "lo", type: "quantitative" as const },
            y2: { field: "hi" },
            color: { field: "label", type: "nominal" as const, title: "run" },
          },
        }]
        : []),
      {
        data: { name: DATASETS.icl },
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: {
          x: tokensAxis(),
          y: { field: "score", type: "quantitative", title: "ICL score (nats; lower = more ICL)" },
          color: { field: "label", type: "nominal", title: "run" },
          tooltip: [{ field: "label" }, { field: "tokens", format: ",.0f" }, { field: "score", format: ".3f" }],
        },
      },
      {
        // A datum-only layer still needs a row to draw from.
        data: { values: [{}] },
        mark: { type: "rule", strokeDash: [4, 4], color: "#888" },
        encoding: { y: { datum: 0, type: "quantitative" } },
      },
    ],
  };
}

// ---- training loss -------------------------------------------------------------------------------

export interface LossPoint {
  label: string;
  tokens: number;
  loss: number;
}

export interface LossBumpMark {
  label: string;
  start: number;
  end: number;
  peak: number;
  /** Height of the bump above the convex hull (nats). */
  height: number;
}

/** Training loss against tokens (log x) per series; each detected bump shaded and its peak marked. */
export function trainLossChart(data: { points: readonly LossPoint[]; bumps?: readonly LossBumpMark[]; title?: string }): TopLevelSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Training loss",
    description: "Training loss (nats) against training tokens; shaded: the loss bump (non-convex stretch), dashed: its peak",
    width: WIDTH,
    height: HEIGHT,
    datasets: {
      [DATASETS.trainLoss]: data.points.map((p) => ({ ...p })),
      [DATASETS.lossBumps]: (data.bumps ?? []).map((b) => ({ ...b })),
    },
    layer: [
      {
        data: { name: DATASETS.lossBumps },
        mark: { type: "rect", opacity: 0.15 },
        encoding: {
          x: { field: "start", type: "quantitative", scale: { type: "log" } },
          x2: { field: "end" },
          color: { field: "label", type: "nominal", title: "run" },
        },
      },
      {
        data: { name: DATASETS.lossBumps },
        mark: { type: "rule", strokeDash: [6, 3], strokeWidth: 1.5 },
        encoding: {
          x: { field: "peak", type: "quantitative", scale: { type: "log" } },
          color: { field: "label", type: "nominal", title: "run" },
          tooltip: [{ field: "label", title: "loss bump" }, { field: "peak", format: ",.0f" }, { field: "height", format: ".4f" }],
        },
      },
      {
        data: { name: DATASETS.trainLoss },
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: {
          x: tokensAxis(),
          y: { field: "loss", type: "quantitative", title: "training loss (nats)", scale: { zero: false } },
          color: { field: "label", type: "nominal", title: "run" },
          tooltip: [{ field: "label" }, { field: "tokens", format: ",.0f" }, { field: "loss", format: ".4f" }],
        },
      },
    ],
  };
}

// ---- best head's induction score over training -------------------------------------------------

export interface InductionPoint {
  label: string;
  tokens: number;
  score: number;
  /** The head followed, e.g. "L1H3". */
  head: string;
}

/** The best head's induction score against tokens (log x), its detected rise shaded. */
export function inductionScoreChart(data: { points: readonly InductionPoint[]; windows?: readonly TokenWindow[]; title?: string }): TopLevelSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Induction score of the best head over training",
    description: "Induction score of each run's best head (at the last checkpoint) against training tokens; shaded: detected rise",
    width: WIDTH,
    height: HEIGHT,
    datasets: {
      [DATASETS.induction]: data.points.map((p) => ({ ...p })),
      [DATASETS.inductionWindows]: (data.windows ?? []).map((w) => ({ ...w })),
    },
    layer: [
      {
        data: { name: DATASETS.inductionWindows },
        mark: { type: "rect", opacity: 0.15 },
        encoding: {
          x: { field: "start", type: "quantitative", scale: { type: "log" } },
          x2: { field: "end" },
          color: { field: "label", type: "nominal", title: "run" },
        },
      },
      {
        data: { name: DATASETS.induction },
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: {
          x: tokensAxis(),
          y: { field: "score", type: "quantitative", title: "induction score", scale: { domain: [0, 1] } },
          color: { field: "label", type: "nominal", title: "run" },
          tooltip: [{ field: "label" }, { field: "head" }, { field: "tokens", format: ",.0f" }, { field: "score", format: ".3f" }],
        },
      },
    ],
  };
}

// ---- loss by position ----------------------------------------------------------------------------

export interface PositionCurve {
  /** Legend entry: a checkpoint's tokens (one run) or a run's label (comparison). */
  series: string;
  /** Order of the series in the legend and colour ramp. */
  order: number;
  /** Mean loss at each index 0..n−1 (index i predicts token i + 1, plotted at position i + 1). */
  loss: readonly number[];
}

/**
 * Mean loss against the token's position in the context (log x), one curve per series; dashed
 * rules at positions 50 and 500 (the two ends of the ICL score).
 */
export function positionLossChart(data: { curves: readonly PositionCurve[]; title?: string; seriesTitle?: string; sequential?: boolean }): TopLevelSpec {
  const rows = data.curves.flatMap((c) =>
    c.loss.flatMap((loss, i) => (Number.isFinite(loss) ? [{ series: c.series, order: c.order, position: i + 1, loss }] : [])),
  );
  const maxPos = Math.max(0, ...data.curves.map((c) => c.loss.length));
  const rules = [50, 500].filter((p) => p <= maxPos);
  const sortOrder = [...data.curves].sort((a, b) => a.order - b.order).map((c) => c.series);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Loss by position in the context",
    description: "Mean per-token loss (nats) against the token's position in the context; dashed: positions 50 and 500",
    width: WIDTH,
    height: HEIGHT,
    datasets: { [DATASETS.positionLoss]: rows },
    layer: [
      {
        data: { name: DATASETS.positionLoss },
        mark: { type: "line", strokeWidth: 1.5, clip: true },
        encoding: {
          x: { field: "position", type: "quantitative", scale: { type: "log" }, axis: { title: "token position in the context (log scale)" } },
          y: { field: "loss", type: "quantitative", title: "mean loss (nats)", scale: { zero: false } },
          color: {
            field: "series", type: "ordinal", sort: sortOrder, title: data.seriesTitle ?? "checkpoint",
            ...(data.sequential === false ? { scale: { scheme: "category10" } } : { scale: { scheme: "viridis" } }),
          },
          tooltip: [{ field: "series" }, { field: "position" }, { field: "loss", format: ".3f" }],
        },
      },
      ...rules.map((p) => ({
        data: { values: [{}] },
        mark: { type: "rule" as const, strokeDash: [4, 4], color: "#888" },
        encoding: { x: { datum: p, type: "quantitative" as const } },
      })),
    ],
  };
}

// ---- head scores -----------------------------------------------------------------------------------

export interface HeadScoreRow {
  layer: number;
  head: number;
  induction: number;
  prefixMatching: number;
  previousToken: number;
  copying: number;
}

/** The four head scores: key, title and colour domain (copying is rescaled to [−1, 1]). */
export const HEAD_SCORE_KINDS = [
  { key: "induction", title: "induction", domain: [0, 1] },
  { key: "prefixMatching", title: "prefix matching", domain: [0, 1] },
  { key: "previousToken", title: "previous token", domain: [0, 1] },
  { key: "copying", title: "copying", domain: [-1, 1] },
] as const;

/** Four heatmaps (layers × heads), one per head score, each cell labelled with its value. */
export function headScoresChart(data: { heads: readonly HeadScoreRow[]; title?: string }): TopLevelSpec {
  const rows = data.heads.flatMap((h) =>
    HEAD_SCORE_KINDS.map((k) => ({ layer: h.layer, head: h.head, score: k.key, value: h[k.key] })),
  );
  const nHeads = Math.max(1, ...data.heads.map((h) => h.head + 1));
  const nLayers = Math.max(1, ...data.heads.map((h) => h.layer + 1));
  const cell = Math.max(18, Math.min(34, Math.floor(360 / nHeads)));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Head scores",
    description: "Induction, prefix-matching, previous-token and copying score of every head (rows: layers, columns: heads)",
    datasets: { [DATASETS.heads]: rows },
    hconcat: HEAD_SCORE_KINDS.map((k) => ({
      data: { name: DATASETS.heads },
      transform: [{ filter: { field: "score", equal: k.key } }],
      title: k.title,
      width: cell * nHeads,
      height: cell * nLayers,
      encoding: {
        x: { field: "head", type: "ordinal" as const, title: "head" },
        y: { field: "layer", type: "ordinal" as const, title: "layer" },
      },
      layer: [
        {
          mark: { type: "rect" as const },
          encoding: {
            color: {
              field: "value", type: "quantitative" as const, title: k.title,
              scale: { domain: [...k.domain], scheme: k.key === "copying" ? "redblue" : "blues", ...(k.key === "copying" ? { reverse: true } : {}) },
              legend: { orient: "bottom" as const, gradientLength: 100 },
            },
            tooltip: [{ field: "layer" }, { field: "head" }, { field: "value", format: ".3f", title: k.title }],
          },
        },
        ...(nHeads <= 16
          ? [{
            mark: { type: "text" as const, fontSize: 9 },
            encoding: {
              text: { field: "value", type: "quantitative" as const, format: ".2f" },
              color: { condition: { test: `abs(datum.value) > 0.6`, value: "white" }, value: "black" },
            },
          }]
          : []),
      ],
    })),
    resolve: { scale: { color: "independent" } },
  };
}

// ---- attention pattern -----------------------------------------------------------------------------

export interface AttentionData {
  /** Query × key weights, rows = query positions (lower triangular). */
  pattern: readonly (readonly number[])[];
  /** The (query, key) cells an ideal induction head attends to, outlined. */
  targets?: ReadonlyArray<{ query: number; key: number }>;
  /** Token label of each position (token ids or text), for tooltips. */
  tokens?: readonly string[];
  title?: string;
}

/** One head's attention pattern as a heatmap (query rows × key columns), induction targets outlined. */
export function attentionChart(data: AttentionData): TopLevelSpec {
  const T = data.pattern.length;
  const cells: Array<{ query: number; key: number; weight: number; token?: string }> = [];
  for (let q = 0; q < T; q++) {
    for (let k = 0; k <= q && k < data.pattern[q].length; k++) {
      cells.push({ query: q, key: k, weight: data.pattern[q][k], ...(data.tokens ? { token: data.tokens[k] } : {}) });
    }
  }
  const size = Math.min(480, Math.max(200, T * 8));
  const every = T > 40 ? 10 : 5;
  const axis = (title: string) => ({ title, labelExpr: `datum.value % ${every} === 0 ? datum.value : ''`, ticks: false, labelAngle: 0 });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Attention pattern",
    description: "Attention weight from each query position (rows) to each key position (columns); outlined: induction targets",
    width: size,
    height: size,
    datasets: {
      [DATASETS.attention]: cells,
      [DATASETS.attentionTargets]: (data.targets ?? []).map((t) => ({ ...t })),
    },
    layer: [
      {
        data: { name: DATASETS.attention },
        mark: { type: "rect", aria: false },
        encoding: {
          x: { field: "key", type: "ordinal", axis: axis("key position") },
          y: { field: "query", type: "ordinal", axis: axis("query position") },
          color: { field: "weight", type: "quantitative", scale: { domain: [0, 1], scheme: "greys" }, title: "attention" },
          tooltip: [{ field: "query" }, { field: "key" }, { field: "weight", format: ".3f" }, ...(data.tokens ? [{ field: "token" }] : [])],
        },
      },
      {
        data: { name: DATASETS.attentionTargets },
        mark: { type: "rect", fill: null, stroke: "#e45756", strokeWidth: 1, aria: false },
        encoding: {
          x: { field: "key", type: "ordinal" },
          y: { field: "query", type: "ordinal" },
        },
      },
    ],
  };
}

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
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Per-token-loss PCA trajectories",
    description: "Each checkpoint's per-token-loss vector projected on the first two principal components",
    width: 420,
    height: 360,
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
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Head ablation",
    description: "Change of the ICL score (ablated minus clean, nats) when each head's output is zeroed; error bars: paired bootstrap interval",
    width: Math.max(240, Math.min(WIDTH, heads.length * 36)),
    height: 260,
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
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Few-shot task accuracy",
    description: "Accuracy against the number of in-context examples (shots) for each task; dashed: chance",
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
    $schema: VEGA_LITE_SCHEMA,
    title: data.title ?? "Comparison",
    description: "Each metric per row; blue: better than the column mean, orange: worse; the rule is the mean",
    datasets: { [DATASETS.comparison]: data.bars.map((b) => ({ ...b, metricTitle: `${b.metric} (${b.better === "higher" ? "higher" : "lower"} is better)` })) },
    data: { name: DATASETS.comparison },
    facet: { field: "metricTitle", type: "nominal", title: null, sort: metrics.map((m) => data.bars.find((b) => b.metric === m)!).map((b) => `${b.metric} (${b.better} is better)`) },
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
              field: "mark", type: "nominal", title: "vs column mean",
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

function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}
