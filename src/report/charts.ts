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
import { DATASETS, isNum, specHead, TOKENS_CHART_SIZE, tokensAxis, windowsLayer } from "./chart-common.ts";

export { DATASETS, VEGA_LITE_SCHEMA } from "./chart-common.ts";
export * from "./head-charts.ts";
export * from "./result-charts.ts";

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
    ...specHead(
      data.title ?? "ICL score over training",
      "ICL score (loss at token 500 minus loss at token 50, nats) against training tokens; shaded: detected phase-change windows",
      TOKENS_CHART_SIZE,
    ),
    datasets: {
      [DATASETS.icl]: data.points.map((p) => ({ ...p })),
      [DATASETS.iclWindows]: (data.windows ?? []).map((w) => ({ ...w })),
    },
    layer: [
      windowsLayer(DATASETS.iclWindows, "phase change"),
      ...(band.length > 0
        ? [
            {
              data: { name: DATASETS.icl },
              transform: [{ filter: "isValid(datum.lo) && isValid(datum.hi)" }],
              mark: { type: "area" as const, opacity: 0.18 },
              encoding: {
                x: tokensAxis(),
                y: { field: "lo", type: "quantitative" as const },
                y2: { field: "hi" },
                color: { field: "label", type: "nominal" as const, title: "run" },
              },
            },
          ]
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
    ...specHead(
      data.title ?? "Training loss",
      "Training loss (nats) against training tokens; shaded: the loss bump (non-convex stretch), dashed: its peak",
      TOKENS_CHART_SIZE,
    ),
    datasets: {
      [DATASETS.trainLoss]: data.points.map((p) => ({ ...p })),
      [DATASETS.lossBumps]: (data.bumps ?? []).map((b) => ({ ...b })),
    },
    layer: [
      windowsLayer(DATASETS.lossBumps),
      {
        data: { name: DATASETS.lossBumps },
        mark: { type: "rule", strokeDash: [6, 3], strokeWidth: 1.5 },
        encoding: {
          x: { field: "peak", type: "quantitative", scale: { type: "log" } },
          color: { field: "label", type: "nominal", title: "run" },
          tooltip: [
            { field: "label", title: "loss bump" },
            { field: "peak", format: ",.0f" },
            { field: "height", format: ".4f" },
          ],
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
    ...specHead(
      data.title ?? "Induction score of the best head over training",
      "Induction score of each run's best head (at the last checkpoint) against training tokens; shaded: detected rise",
      TOKENS_CHART_SIZE,
    ),
    datasets: {
      [DATASETS.induction]: data.points.map((p) => ({ ...p })),
      [DATASETS.inductionWindows]: (data.windows ?? []).map((w) => ({ ...w })),
    },
    layer: [
      windowsLayer(DATASETS.inductionWindows),
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
    ...specHead(
      data.title ?? "Loss by position in the context",
      "Mean per-token loss (nats) against the token's position in the context; dashed: positions 50 and 500",
      TOKENS_CHART_SIZE,
    ),
    datasets: { [DATASETS.positionLoss]: rows },
    layer: [
      {
        data: { name: DATASETS.positionLoss },
        mark: { type: "line", strokeWidth: 1.5, clip: true },
        encoding: {
          x: { field: "position", type: "quantitative", scale: { type: "log" }, axis: { title: "token position in the context (log scale)" } },
          y: { field: "loss", type: "quantitative", title: "mean loss (nats)", scale: { zero: false } },
          color: {
            field: "series",
            type: "ordinal",
            sort: sortOrder,
            title: data.seriesTitle ?? "checkpoint",
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
