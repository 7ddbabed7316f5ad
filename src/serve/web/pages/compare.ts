/**
 * Compare: the ICL-score curves of several runs overlaid (each detected phase-change window
 * shaded in the run's colour), their loss by position at the last checkpoint, and the
 * Shin-style table of the last checkpoints (bold: better than the column mean; underlined:
 * worse). Pick runs by ticking them or a whole experiment; the choice lives in the URL. Updates
 * live while any compared run trains.
 */
import { iclScoreChart, positionLossChart } from "../../../report/charts.ts";
import { shinTableHtml } from "../../../report/tables.ts";
import type { CompareView, RunsResponse } from "../../types.ts";
import { getJson } from "../api.ts";
import type { Dispose } from "../route.ts";
import { LiveChart } from "../chart.ts";
import { fill, h } from "../dom.ts";
import { onRunEvent } from "../live.ts";
import { errorBox, refresher, statusBadge } from "./common.ts";

type Json = Record<string, unknown>;

/**
 * One colour per run in every chart of the page, in the order the runs are listed, with a legend:
 * the report's specs colour each chart from its own data (so a run's colour could differ between
 * two charts) and hide the ICL chart's legend behind its shaded windows layer.
 */
export function recolor<T>(spec: T, runs: readonly string[]): T {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== "object") return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node as Json)) out[k] = k === "datasets" ? v : walk(v);
    const color = (out.encoding as Json | undefined)?.color as Json | undefined;
    if (color && (color.field === "label" || color.field === "series")) {
      const { legend: _legend, sort: _sort, ...rest } = color;
      (out.encoding as Json).color = { ...rest, type: "nominal", title: "run", scale: { domain: [...runs], scheme: "tableau10" } };
    }
    return out;
  };
  return walk(spec) as T;
}

export function comparePage(main: HTMLElement, query: URLSearchParams): Dispose {
  document.title = "compare · icl-lab";
  const experiment = query.get("experiment") ?? "";
  const ids = (query.get("runs") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const picker = h("div", { id: "compare-picker" });
  const status = h("div", { id: "compare-status" });
  const iclEl = h("div"),
    posEl = h("div");
  const table = h("div", { id: "compare-table", class: "table-wrap" });
  const icl = new LiveChart(iclEl, "compareIcl");
  const pos = new LiveChart(posEl, "comparePosition");
  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Compare runs")),
    picker,
    status,
    h("section", {}, h("h2", {}, "ICL score over training"), iclEl),
    h("section", {}, h("h2", {}, "Loss by position at the last checkpoint"), posEl),
    h("section", {}, h("h2", {}, "Last checkpoints side by side"), table),
  );

  let shown = new Set<string>();

  const r = refresher(async () => {
    const list = await getJson<RunsResponse>("/api/runs");
    renderPicker(picker, list, ids, experiment);
    if (ids.length === 0 && !experiment) {
      fill(status, h("p", { class: "muted" }, "Tick runs above (or choose an experiment) to overlay their ICL-score curves."));
      return;
    }
    let v: CompareView;
    try {
      v = await getJson<CompareView>(
        `/api/compare?${ids.length ? `runs=${ids.map(encodeURIComponent).join(",")}` : `experiment=${encodeURIComponent(experiment)}`}`,
      );
    } catch (e) {
      fill(status, errorBox((e as Error).message));
      return;
    }
    shown = new Set(v.runs.map((x) => x.id));
    const labels = v.runs.map((x) => x.label);
    fill(status, comparedList(v));
    await Promise.all([
      v.icl.length > 0
        ? icl.show(recolor(iclScoreChart({ points: v.icl, windows: v.windows, title: "ICL score of the compared runs" }), labels))
        : Promise.resolve(),
      v.positionLoss.length > 0
        ? pos.show(recolor(positionLossChart({ curves: v.positionLoss, seriesTitle: "run", sequential: false }), labels))
        : Promise.resolve(),
    ]);
    if (v.table)
      table.innerHTML = shinTableHtml(v.table, { caption: "Bold: better than the column mean; underlined: worse (↑ higher is better, ↓ lower is better)." });
    else table.textContent = "The table needs two or more runs with results.";
  });

  const off = onRunEvent((e) => {
    if (e === null || shown.has(e.id) || e.added) r.trigger();
  });
  return () => {
    off();
    icl.dispose();
    pos.dispose();
  };
}

/** The experiment menu and one checkbox per run; a change navigates to the compare page of the new choice. */
function renderPicker(picker: HTMLElement, list: RunsResponse, ids: string[], experiment: string): void {
  const chosen = new Set(ids);
  const exp = h(
    "select",
    { "aria-label": "experiment" },
    h("option", { value: "" }, "—"),
    list.experiments.map((e) => h("option", { value: e, selected: e === experiment }, e)),
  );
  exp.addEventListener("change", () => {
    location.hash = exp.value ? `#/compare?experiment=${encodeURIComponent(exp.value)}` : "#/compare";
  });
  const boxes = list.runs.map((run) => {
    const box = h("input", {
      type: "checkbox",
      value: run.id,
      checked: chosen.has(run.id) || (ids.length === 0 && experiment !== "" && run.experiment === experiment),
    });
    box.addEventListener("change", () => {
      const now = boxes.filter((b) => b.checked).map((b) => b.value);
      location.hash = now.length ? `#/compare?runs=${now.map(encodeURIComponent).join(",")}` : "#/compare";
    });
    return box;
  });
  fill(
    picker,
    h("div", { class: "controls" }, h("label", {}, "Whole experiment ", exp)),
    h(
      "div",
      { class: "chooser" },
      list.runs.map((run, i) => h("label", { class: "check", title: run.model }, boxes[i], run.id)),
    ),
  );
}

/** The compared runs, each with its link, status and model. */
function comparedList(v: CompareView): HTMLElement {
  return h(
    "p",
    {},
    h(
      "ul",
      { class: "compared" },
      v.runs.map((x) =>
        h(
          "li",
          { "data-run": x.id },
          h("a", { href: `#/run/${encodeURIComponent(x.id)}` }, x.label),
          " ",
          statusBadge({ status: x.status, corrupt: null, error: null }),
          h("span", { class: "muted" }, ` ${x.model}`),
        ),
      ),
    ),
  );
}
