/**
 * Head charts as Vega-Lite specs (see charts.ts): every head's scores as heatmaps, and one head's
 * attention pattern.
 */
import type { TopLevelSpec } from "vega-lite";
import { DATASETS, specHead } from "./chart-common.ts";

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
  const rows = data.heads.flatMap((h) => HEAD_SCORE_KINDS.map((k) => ({ layer: h.layer, head: h.head, score: k.key, value: h[k.key] })));
  const nHeads = Math.max(1, ...data.heads.map((h) => h.head + 1));
  const nLayers = Math.max(1, ...data.heads.map((h) => h.layer + 1));
  const cell = Math.max(18, Math.min(34, Math.floor(360 / nHeads)));
  return {
    ...specHead(data.title ?? "Head scores", "Induction, prefix-matching, previous-token and copying score of every head (rows: layers, columns: heads)"),
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
              field: "value",
              type: "quantitative" as const,
              title: k.title,
              scale: { domain: [...k.domain], scheme: k.key === "copying" ? "redblue" : "blues", ...(k.key === "copying" ? { reverse: true } : {}) },
              legend: { orient: "bottom" as const, gradientLength: 100 },
            },
            tooltip: [{ field: "layer" }, { field: "head" }, { field: "value", format: ".3f", title: k.title }],
          },
        },
        ...(nHeads <= 16
          ? [
              {
                mark: { type: "text" as const, fontSize: 9 },
                encoding: {
                  text: { field: "value", type: "quantitative" as const, format: ".2f" },
                  color: { condition: { test: `abs(datum.value) > 0.6`, value: "white" }, value: "black" },
                },
              },
            ]
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
    ...specHead(
      data.title ?? "Attention pattern",
      "Attention weight from each query position (rows) to each key position (columns); outlined: induction targets",
      { width: size, height: size },
    ),
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
