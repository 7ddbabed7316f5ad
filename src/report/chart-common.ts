/**
 * What every chart spec of charts.ts shares: the Vega-Lite schema, the dataset names, sizes and
 * the log token axis.
 */
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

export const WIDTH = 560;
export const HEIGHT = 300;
/** SI-prefixed token counts on axes: 10k, 1M, 1G. */
export const TOKENS_FORMAT = "~s";

export function tokensAxis(title = "training tokens (log scale)") {
  return { field: "tokens", type: "quantitative" as const, scale: { type: "log" as const }, axis: { title, format: TOKENS_FORMAT } };
}

export function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** The head of every spec: the schema, the title, a description (the figure's alt text) and, for a single view, its size. */
export function specHead(title: string, description: string, size?: { width: number; height: number }) {
  return { $schema: VEGA_LITE_SCHEMA, title, description, ...size };
}

/** The size of the charts against training tokens. */
export const TOKENS_CHART_SIZE = { width: WIDTH, height: HEIGHT };

/**
 * A layer of shaded windows [start, end] on the log token axis, one per row of `dataset`, in its
 * series' colour; `tooltipTitle` names them in the tooltip.
 */
export function windowsLayer(dataset: string, tooltipTitle?: string) {
  return {
    data: { name: dataset },
    mark: { type: "rect" as const, opacity: 0.15 },
    encoding: {
      x: { field: "start", type: "quantitative" as const, scale: { type: "log" as const } },
      x2: { field: "end" },
      color: { field: "label", type: "nominal" as const, title: "run" },
      ...(tooltipTitle !== undefined
        ? {
            tooltip: [
              { field: "label", title: tooltipTitle },
              { field: "start", format: ",.0f" },
              { field: "end", format: ",.0f" },
            ],
          }
        : {}),
    },
  };
}
