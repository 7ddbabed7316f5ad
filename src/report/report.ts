/**
 * `renderReport({ lab, runIds | experiment, out })`: one self-contained HTML file (CSS inline,
 * every figure an inline SVG, each figure's Vega-Lite spec embedded as JSON beside it) plus every
 * figure as a PNG file in the same folder.
 *
 * This module is the orchestrator: it reads the runs, renders and writes figures and the page;
 * each section (sections/*.ts) shapes its figures and writes their captions, the page (page.ts)
 * lays them out, and summary.ts computes the final numbers the tables print.
 *
 * The report reads stored results (data.ts) and derives what the store does not hold (phase
 * change, loss bump, PCA, Shin-table marks) at report time. One figure needs a model: the best
 * induction head's attention pattern is recomputed from the run's last checkpoint, through
 * attention.ts, imported only when that figure is drawn.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { RunStore, resolveLabDir, type RunInfo } from "../store/run-store.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { readRuns, type RunData } from "./data.ts";
import { page } from "./page.ts";
import { findFont, renderSvg, svgToPng } from "./render.ts";
import { ablationSection, tasksSection } from "./sections/ablation.ts";
import { attentionSection } from "./sections/attention.ts";
import { comparisonSection } from "./sections/comparison.ts";
import { headScoresSection, inductionSection } from "./sections/heads.ts";
import { iclSection, otherIclSections } from "./sections/icl.ts";
import { positionLossSection, trainLossSection } from "./sections/loss.ts";
import { pcaSection } from "./sections/pca.ts";
import type { FigureFn, Section, SectionContext } from "./sections/types.ts";
import { groupRuns, summarize, type RunSummary } from "./summary.ts";
import { escapeHtml, type ShinTable } from "./tables.ts";
import type { TopLevelSpec } from "vega-lite";

export { comparisonRows } from "./sections/comparison.ts";

/** A report target that does not exist, or options that do not make sense. */
export class ReportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportError";
  }
}

export interface RenderReportOptions {
  /** The lab folder (default $ICL_LAB_DIR or ./icl-lab-runs). */
  lab?: string;
  /** The runs to report on, in this order. Give these or `experiment`. */
  runIds?: readonly string[];
  /** Every run of this experiment, oldest first. */
  experiment?: string;
  /** Output folder (default <lab>/reports/<experiment or run id>); created if needed. */
  out?: string;
  /** Heading of the page (default from the target). */
  title?: string;
  /** Write PNG files (default true). */
  png?: boolean;
  /** Recompute the best induction head's attention pattern from the last checkpoint (default true). */
  attention?: boolean;
  /** Most runs drawn individually (loss by position, heatmaps, attention, ablation); default 6. */
  maxRunFigures?: number;
}

export interface ReportFigure {
  id: string;
  title: string;
  /** The PNG file, when written. */
  png: string | null;
  spec: TopLevelSpec;
}

export interface RenderedReport {
  /** The HTML file. */
  html: string;
  dir: string;
  figures: ReportFigure[];
  summaries: RunSummary[];
  /** The Shin-style comparison, when the report has two or more rows to compare. */
  comparison: ShinTable | null;
  /** What could not be drawn, and why. */
  notes: string[];
}

/**
 * The runs an ID names: a run id, else an experiment name, else a unique run-id prefix. Throws a
 * ReportError listing what the lab holds when it names nothing.
 */
export function resolveTarget(store: RunStore, id: string): { runIds: string[] } | { experiment: string } {
  if (store.getRun(id)) return { runIds: [id] };
  const all = store.listRuns();
  if (all.some((r) => r.experiment === id)) return { experiment: id };
  const prefixed = all.filter((r) => r.id.startsWith(id));
  if (prefixed.length === 1) return { runIds: [prefixed[0].id] };
  throw new ReportError(unknownTarget(id, all, store.labDir, prefixed.length));
}

function unknownTarget(id: string, all: readonly RunInfo[], lab: string, ambiguous: number): string {
  if (ambiguous > 1) return `'${id}' is the start of ${ambiguous} run ids in ${lab}; give the whole id`;
  if (all.length === 0) return `no run or experiment named '${id}': the lab ${lab} has no runs yet`;
  const experiments = [...new Set(all.map((r) => r.experiment).filter((e): e is string => e !== null))];
  const runs = all.slice(-8).map((r) => r.id);
  return (
    `no run or experiment named '${id}' in ${lab}; experiments: ${experiments.length ? experiments.join(", ") : "(none)"}; ` +
    `runs: ${runs.join(", ")}${all.length > runs.length ? ` (and ${all.length - runs.length} more)` : ""}`
  );
}

/** Reads the runs an option set names (a ReportError when it names none). */
function loadRuns(opts: RenderReportOptions): { lab: string; runs: RunData[]; target: string } {
  if ((opts.runIds === undefined) === (opts.experiment === undefined)) {
    throw new ReportError("renderReport: give either 'runIds' or 'experiment' (exactly one)");
  }
  const lab = resolveLabDir(opts.lab);
  if (!existsSync(join(lab, "lab.db"))) throw new ReportError(`no lab at ${lab} (no lab.db there)`);
  const store = RunStore.open(lab);
  let runs: RunData[];
  let target: string;
  try {
    let infos: RunInfo[];
    if (opts.experiment !== undefined) {
      infos = store.listRuns({ experiment: opts.experiment });
      if (infos.length === 0) throw new ReportError(unknownTarget(opts.experiment, store.listRuns(), lab, 0));
      target = opts.experiment;
    } else {
      if (opts.runIds!.length === 0) throw new ReportError("renderReport: 'runIds' is empty");
      infos = opts.runIds!.map((id) => {
        const info = store.getRun(id);
        if (!info) throw new ReportError(unknownTarget(id, store.listRuns(), lab, 0));
        return info;
      });
      target = opts.runIds!.length === 1 ? opts.runIds![0] : `${opts.runIds![0]}+${opts.runIds!.length - 1}`;
    }
    runs = readRuns(store, infos);
  } finally {
    store.close();
  }

  return { lab, runs, target };
}

/** Writes the report; see the module comment. */
export async function renderReport(opts: RenderReportOptions): Promise<RenderedReport> {
  const { lab, runs, target } = loadRuns(opts);
  const dir = resolve(opts.out ?? join(lab, "reports", target));
  mkdirSync(dir, { recursive: true });
  const writePng = opts.png ?? true;
  const figures: ReportFigure[] = [];
  const notes: string[] = [];
  let figNo = 0;

  /** Renders one figure: inline SVG, PNG file, embedded spec and caption. */
  const figure: FigureFn = async (id: string, title: string, spec: TopLevelSpec, captionHtml: string): Promise<string> => {
    const { svg, warnings } = await renderSvg(spec);
    for (const w of warnings) notes.push(`${title}: Vega-Lite warned: ${w}`);
    let png: string | null = null;
    if (writePng) {
      png = join(dir, `${id}.png`);
      writeAtomic(png, await svgToPng(svg));
    }
    figures.push({ id, title, png, spec });
    figNo++;
    const specJson = JSON.stringify(spec).replace(/</g, "\\u003c");
    return (
      `<figure id="fig-${escapeHtml(id)}">\n<div class="chart">${svg}</div>\n` +
      `<figcaption><b>Figure ${figNo}. ${escapeHtml(title)}.</b> ${captionHtml}` +
      `${png ? ` <a class="png" href="${escapeHtml(`${id}.png`)}">PNG</a>` : ""}</figcaption>\n` +
      `<script type="application/json" class="vega-lite-spec" data-figure="${escapeHtml(id)}">${specJson}</script>\n</figure>`
    );
  };

  const summaries = runs.map(summarize);
  const groups = groupRuns(runs);
  const ctx: SectionContext = {
    runs,
    groups,
    seeds: [...groups.values()].some((g) => g.length > 1),
    maxRuns: opts.maxRunFigures ?? 6,
    notes,
    figure,
  };
  // In page order: figures are numbered as they are drawn.
  const sections: Section[] = [];
  for (const section of [iclSection, otherIclSections, trainLossSection, inductionSection, positionLossSection, headScoresSection]) {
    sections.push(...(await section(ctx)));
  }
  if (opts.attention ?? true) sections.push(...(await attentionSection(ctx)));
  for (const section of [pcaSection, ablationSection, tasksSection]) sections.push(...(await section(ctx)));
  const { sections: compared, comparison } = await comparisonSection(ctx);
  sections.push(...compared);

  const title =
    opts.title ?? (opts.experiment !== undefined ? `icl-lab report: experiment ${opts.experiment}` : `icl-lab report: ${runs.map((r) => r.id).join(", ")}`);
  const html = page({ title, lab, runs, summaries, sections, notes, font: writePng ? findFont().source : null });
  const htmlPath = join(dir, "report.html");
  writeAtomic(htmlPath, html);
  return { html: htmlPath, dir, figures, summaries, comparison, notes };
}

function writeAtomic(path: string, data: string | Buffer): void {
  writeFileAtomic(path, data);
}
