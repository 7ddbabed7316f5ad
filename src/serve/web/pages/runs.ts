/**
 * The runs list: every run of the lab with its status (running, finished, failed, stale; a
 * corrupt record is flagged, not hidden), model and data summary, tokens against the goal, the
 * last ICL score; a filter by experiment; tick runs to compare them. Refreshes on live events.
 */
import type { RunRow, RunsResponse } from "../../types.ts";
import { getJson } from "../api.ts";
import type { Dispose, Route } from "../route.ts";
import { ago, fill, h } from "../dom.ts";
import { onRunEvent } from "../live.ts";
import { errorBox, formatNumber, formatTokens, refresher, scoreText, statusBadge } from "./common.ts";

export function runsPage(main: HTMLElement, route: Route): Dispose {
  const experiment = route.query.get("experiment") ?? "";
  const selected = new Set<string>();
  const filter = h("select", { id: "experiment-filter", "aria-label": "experiment" });
  filter.addEventListener("change", () => {
    location.hash = filter.value ? `#/?experiment=${encodeURIComponent(filter.value)}` : "#/";
  });
  const compare = h("button", { id: "compare-selected", type: "button", disabled: true }, "Compare selected");
  compare.addEventListener("click", () => {
    location.hash = `#/compare?runs=${[...selected].map(encodeURIComponent).join(",")}`;
  });
  const body = h("div", { id: "runs" });
  const labPath = document.getElementById("lab-path");
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "Runs"), h("div", { class: "controls" }, h("label", {}, "Experiment ", filter), " ", compare)), body);

  const r = refresher(async () => {
    let data: RunsResponse;
    try {
      data = await getJson<RunsResponse>(`/api/runs${experiment ? `?experiment=${encodeURIComponent(experiment)}` : ""}`);
    } catch (e) {
      fill(body, errorBox((e as Error).message));
      return;
    }
    if (labPath) labPath.textContent = `lab: ${data.lab}`;
    fill(
      filter,
      h("option", { value: "" }, "all"),
      data.experiments.map((e) => h("option", { value: e, selected: e === experiment }, e)),
    );
    if (data.runs.length === 0) {
      fill(
        body,
        h(
          "p",
          { class: "muted" },
          experiment ? `No runs of experiment '${experiment}'.` : "No runs yet. Start one with `icl-lab train --preset tiny`; it appears here as it trains.",
        ),
      );
      return;
    }
    fill(body, table(data.runs));
  });

  function table(rows: RunRow[]): HTMLElement {
    const now = Date.now();
    const tick = (row: RunRow) => {
      const box = h("input", { type: "checkbox", "aria-label": `select ${row.id}`, checked: selected.has(row.id) });
      box.addEventListener("change", () => {
        if (box.checked) selected.add(row.id);
        else selected.delete(row.id);
        compare.disabled = selected.size === 0;
      });
      return box;
    };
    return h(
      "table",
      { class: "runs" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["", "run", "experiment", "status", "model", "data", "tokens", "ICL score (last)", "train loss", "updated"].map((c) => h("th", {}, c)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            { "data-run": row.id, class: row.corrupt ? "corrupt" : "" },
            h("td", {}, tick(row)),
            h("td", {}, h("a", { href: `#/run/${encodeURIComponent(row.id)}` }, row.id)),
            h("td", {}, row.experiment ?? "—"),
            h("td", {}, statusBadge(row)),
            h("td", { class: "model" }, row.model, row.seed !== null ? ` · seed ${row.seed}` : ""),
            h("td", {}, row.data ?? "—"),
            h(
              "td",
              { class: "num" },
              formatTokens(row.tokens),
              row.targetTokens ? h("span", { class: "muted" }, ` / ${formatTokens(row.targetTokens)}`) : "",
              row.targetTokens ? h("progress", { max: row.targetTokens, value: Math.min(row.tokens, row.targetTokens) }) : "",
            ),
            h("td", { class: "num", "data-icl": row.icl?.score ?? "" }, scoreText(row.icl)),
            h("td", { class: "num" }, formatNumber(row.trainLoss)),
            h("td", { class: "muted", title: new Date(row.updatedAt).toISOString() }, ago(row.updatedAt, now)),
          ),
        ),
      ),
    );
  }

  const off = onRunEvent(() => r.trigger());
  return off;
}
