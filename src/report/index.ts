/**
 * Reports: `renderReport` writes an HTML page with figures (inline SVG and PNG files) for a run or
 * an experiment; charts.ts holds the Vega-Lite spec builders the dashboard reuses, tables.ts the
 * Shin-style comparison tables, summary.ts the final numbers both tables print (shared with
 * src/experiments/summary.ts), sections/ one module per part of the page.
 */
export { renderReport, resolveTarget, comparisonRows, ReportError } from "./report.ts";
export type { RenderReportOptions, RenderedReport, ReportFigure } from "./report.ts";
export * from "./charts.ts";
export * from "./tables.ts";
export { readRuns, readRun, labelRuns, selectCheckpoints, describeModel, describeMixture, type RunData } from "./data.ts";
export { renderSvg, svgToPng, findFont } from "./render.ts";
export { bestHead, summarize, type RunSummary, finalIcl, finalMetrics, groupRuns, meanSd, meanSdByKey, type FinalMetrics, type MeanSd } from "./summary.ts";
