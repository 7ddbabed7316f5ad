/**
 * The lab's experiment reports for the dashboard's Reports page: each folder `<lab>/reports/<name>/`
 * with its HTML (`report.html` of a run-based experiment or `icl-lab report`, `index.html` of
 * data-distribution and implicit-dynamics), `summary.txt`, and the figures' Vega-Lite specs
 * `<figure>.vl.json` (src/report/render.ts `writeFigures`).
 *
 * Nothing outside `<lab>/reports` is read: report and figure names are single plain path segments
 * (`isReportName`), and below the reports folder only real folders and regular files count;
 * symbolic links are ignored, so one cannot point the page at a file elsewhere.
 */
import { type Dirent, existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { NAME } from "./files.ts";
import type { ReportRow } from "./types.ts";

/** The HTML file of a report, in the order looked for. */
const HTML_FILES = ["report.html", "index.html"];
const SPEC_SUFFIX = ".vl.json";

/** Whether `name` can name a report or a figure: the API's name characters, and neither `.` nor `..`. */
export function isReportName(name: string): boolean {
  return NAME.test(name) && name !== "." && name !== "..";
}

function reportsDir(labDir: string): string {
  return join(labDir, "reports");
}

/** The lab's reports, newest first (then by name); a lab without a reports folder has none. */
export function listReports(labDir: string): ReportRow[] {
  const root = reportsDir(labDir);
  if (!existsSync(root) || !statSync(root).isDirectory()) return [];
  const rows: ReportRow[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    // A folder whose name the API cannot address is left out rather than listed with dead links.
    if (!entry.isDirectory() || !isReportName(entry.name)) continue;
    const row = describe(root, entry.name);
    if (row) rows.push(row);
  }
  return rows.sort((a, b) => b.modified - a.modified || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether the lab has report `name` (cheaper than readReport: nothing inside is read). */
export function hasReport(labDir: string, name: string): boolean {
  return isReportName(name) && folder(reportsDir(labDir), name) !== null;
}

/** One report, or null when the lab has none of that name. */
export function readReport(labDir: string, name: string): ReportRow | null {
  if (!isReportName(name)) return null;
  return describe(reportsDir(labDir), name);
}

/** Thrown when a figure's spec file exists but is not JSON. */
export class CorruptFigureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CorruptFigureError";
  }
}

/**
 * The parsed Vega-Lite spec of figure `figure` of report `name`, or null when there is no such
 * report or figure. Throws CorruptFigureError when the file is not valid JSON.
 */
export function readFigure(labDir: string, name: string, figure: string): { spec: unknown } | null {
  if (!isReportName(name) || !isReportName(figure)) return null;
  const dir = folder(reportsDir(labDir), name);
  const path = dir && join(dir, `${figure}${SPEC_SUFFIX}`);
  if (!path || !isRegularFile(path)) return null;
  const text = readFileSync(path, "utf8");
  try {
    return { spec: JSON.parse(text) };
  } catch (e) {
    throw new CorruptFigureError(`figure '${figure}' of report '${name}' is not valid JSON (${(e as Error).message})`);
  }
}

/** `root/name` when it is a real folder (not a link), else null. */
function folder(root: string, name: string): string | null {
  const dir = join(root, name);
  try {
    return lstatSync(dir).isDirectory() ? dir : null;
  } catch {
    return null;
  }
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/** What the page shows of report folder `root/name`, or null when it is not there (or vanished while read). */
function describe(root: string, name: string): ReportRow | null {
  const dir = folder(root, name);
  if (!dir) return null;
  let entries: Dirent[];
  let modified: number;
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile());
    modified = lstatSync(dir).mtimeMs;
  } catch {
    return null;
  }
  const files = new Set<string>();
  let newestFile = -Infinity;
  for (const e of entries) {
    try {
      newestFile = Math.max(newestFile, lstatSync(join(dir, e.name)).mtimeMs);
      files.add(e.name);
    } catch {
      // removed since the folder was listed: not part of the report any more
    }
  }
  const html = HTML_FILES.find((f) => files.has(f));
  const figures = [...files]
    .filter((f) => f.endsWith(SPEC_SUFFIX))
    .map((f) => f.slice(0, -SPEC_SUFFIX.length))
    .filter(isReportName)
    .sort();
  let summary: string | null = null;
  if (files.has("summary.txt")) {
    try {
      summary = readFileSync(join(dir, "summary.txt"), "utf8");
    } catch {
      summary = null;
    }
  }
  return {
    name,
    html: html === undefined ? null : `reports/${name}/${html}`,
    figures,
    summary,
    // An empty folder dates from the folder itself.
    modified: Math.floor(files.size > 0 ? newestFile : modified),
  };
}
