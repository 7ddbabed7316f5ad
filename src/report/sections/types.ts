/**
 * What every report section gets and gives: the shaped runs (src/report/data.ts) and a `figure`
 * callback the orchestrator (../report.ts) supplies, which renders a spec, writes its PNG and
 * numbers it; a section returns its HTML and adds what it could not draw to `notes`.
 */
import type { TopLevelSpec } from "vega-lite";
import type { RunData } from "../data.ts";

export interface Section {
  heading: string;
  html: string;
}

/** Renders one figure (inline SVG, PNG file, embedded spec) and returns its HTML with the caption. */
export type FigureFn = (id: string, title: string, spec: TopLevelSpec, captionHtml: string) => Promise<string>;

export interface SectionContext {
  runs: readonly RunData[];
  /** Runs by group (runs differing only in seed share one): src/report/summary.ts `groupRuns`. */
  groups: Map<string, RunData[]>;
  /** Whether some group holds more than one run (seeds are averaged). */
  seeds: boolean;
  /** Most runs drawn individually. */
  maxRuns: number;
  /** What could not be drawn, and why (sections append). */
  notes: string[];
  figure: FigureFn;
}
