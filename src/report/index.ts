/**
 * Reports: `renderReport` writes an HTML page with figures (inline SVG and PNG files) for a run or
 * an experiment; charts.ts holds the Vega-Lite spec builders the dashboard reuses, tables.ts the
 * Shin-style comparison tables.
 */
export { renderReport, resolveTarget, comparisonRows, ReportError } from "./report.ts";
export type { RenderReportOptions, RenderedReport, ReportFigure } from "./report.ts";
export * from "./charts.ts";
export * from "./tables.ts";
export { readRuns, readRun, summarize, labelRuns, selectCheckpoints, describeModel, describeMixture, type RunData, type RunSummary } from "./data.ts";
export { renderSvg, svgToPng, findFont } from "./render.ts";
