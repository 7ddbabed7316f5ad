/**
 * Reports: the experiment reports the lab holds (`<lab>/reports/<name>/`), newest first, each with
 * its HTML report, its figures and its summary; and one report's figures drawn from the Vega-Lite
 * specs the experiment wrote beside its HTML (`<figure>.vl.json`; data-distribution and
 * implicit-dynamics write them, run-based reports do not), each chart registered under its figure
 * name. Reports do not change while a run trains, so these pages load once.
 */
import type { TopLevelSpec } from "vega-lite";
import type { ReportRow } from "../../types.ts";
import { ApiFailure, getJson } from "../api.ts";
import { LiveChart } from "../chart.ts";
import { ago, fill, h } from "../dom.ts";
import type { Dispose } from "../route.ts";
import { errorBox, refresher } from "./common.ts";

/** The href of a file of the lab (served under /files/), each segment escaped. */
function fileHref(path: string): string {
  return `/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}

function reportHref(name: string): string {
  return `#/reports/${encodeURIComponent(name)}`;
}

function htmlLink(r: ReportRow): HTMLElement | string {
  return r.html ? h("a", { class: "button html-link", href: fileHref(r.html), target: "_blank", rel: "noopener" }, "HTML report") : "";
}

function summaryBox(r: ReportRow, open = false): HTMLElement {
  if (r.summary === null) return h("p", { class: "muted" }, "No summary.txt.");
  return h("details", { class: "summary", open }, h("summary", {}, "Summary"), h("pre", {}, r.summary));
}

function modifiedText(r: ReportRow, now: number): HTMLElement {
  return h("span", { class: "muted", title: new Date(r.modified).toISOString() }, `modified ${ago(r.modified, now)}`);
}

export function reportsPage(main: HTMLElement): Dispose {
  document.title = "reports · icl-lab";
  const body = h("div", { id: "reports" });
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "Reports")), body);
  refresher(async () => {
    let reports: ReportRow[];
    try {
      reports = await getJson<ReportRow[]>("/api/reports");
    } catch (e) {
      fill(body, errorBox((e as Error).message));
      return;
    }
    if (reports.length === 0) {
      fill(
        body,
        h("p", { class: "muted" }, "No reports yet. Experiments (`icl-lab experiment …`) and `icl-lab report` write them under the lab's reports/ folder."),
      );
      return;
    }
    const now = Date.now();
    fill(
      body,
      h(
        "ul",
        { class: "reports" },
        reports.map((r) =>
          h(
            "li",
            { "data-report": r.name },
            h(
              "div",
              { class: "report-head" },
              h("a", { class: "report-name", href: reportHref(r.name) }, r.name),
              " ",
              modifiedText(r, now),
              " ",
              h("span", { class: "muted" }, r.figures.length === 1 ? "· 1 figure" : `· ${r.figures.length} figures`),
              " ",
              htmlLink(r),
            ),
            summaryBox(r),
          ),
        ),
      ),
    );
  });
  return () => {};
}

export function reportPage(main: HTMLElement, name: string): Dispose {
  document.title = `${name} · reports · icl-lab`;
  const charts: LiveChart[] = [];
  let disposed = false;
  fill(main, h("h1", {}, name), h("p", { class: "muted" }, "Loading…"));
  refresher(async () => {
    let r: ReportRow;
    try {
      r = await getJson<ReportRow>(`/api/reports/${encodeURIComponent(name)}`);
    } catch (e) {
      const missing = e instanceof ApiFailure && e.status === 404;
      if (!disposed)
        fill(main, h("h1", {}, name), errorBox((e as Error).message), missing ? h("p", {}, h("a", { href: "#/reports" }, "Back to the reports.")) : "");
      return;
    }
    if (disposed) return;
    const figures = h("div", { id: "report-figures", "data-figures": r.figures.length });
    fill(
      main,
      h("div", { class: "page-head" }, h("h1", {}, r.name, " ", h("small", { class: "muted" }, "report")), h("div", { class: "controls" }, htmlLink(r))),
      h("p", {}, modifiedText(r, Date.now()), " · ", h("a", { href: "#/reports" }, "all reports")),
      summaryBox(r, r.figures.length === 0),
      figures,
    );
    if (r.figures.length === 0) {
      fill(
        figures,
        h(
          "p",
          { class: "note" },
          "This report has no figure specs (.vl.json) to draw here",
          r.html
            ? ["; its figures are in the ", h("a", { href: fileHref(r.html), target: "_blank", rel: "noopener" }, "HTML report"), "."]
            : ", and no HTML report.",
        ),
      );
      return;
    }
    await Promise.all(r.figures.map((f) => drawFigure(figures, r.name, f)));
  });

  /** One figure's section: its name, then the chart, or why it could not be loaded. */
  async function drawFigure(parent: HTMLElement, report: string, figure: string): Promise<void> {
    const el = h("div");
    const section = h("section", { class: "figure", "data-figure": figure }, h("h2", {}, figure), el);
    parent.append(section);
    let spec: TopLevelSpec;
    try {
      spec = await getJson<TopLevelSpec>(`/api/reports/${encodeURIComponent(report)}/figures/${encodeURIComponent(figure)}`);
    } catch (e) {
      section.append(errorBox((e as Error).message));
      return;
    }
    // A chart made after the page was left would register its view on the next page.
    if (disposed) return;
    const chart = new LiveChart(el, figure);
    charts.push(chart);
    await chart.show(spec);
  }

  return () => {
    disposed = true;
    for (const c of charts) c.dispose();
  };
}
