/**
 * The report's page: the summary table of every run, the sections, what was not shown, and each
 * run's stored config; CSS inline so the HTML file stands alone.
 */
import type { RunData } from "./data.ts";
import { headName } from "./data.ts";
import type { RunSummary } from "./summary.ts";
import { escapeHtml, formatNumber, formatTokens, htmlTable } from "./tables.ts";
import type { Section } from "./sections/types.ts";

const CSS = `
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #666; font-size: .9rem; }
table { border-collapse: collapse; font-size: .88rem; margin: .8rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #999; } tfoot th, tfoot td { border-top: 2px solid #999; color: #555; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.table-wrap { overflow-x: auto; }
table.shin strong { font-weight: 700; } table.shin u { text-decoration-thickness: 1.5px; }
.sd { color: #777; font-size: .8em; }
figure { margin: 1.5rem 0; } .chart { overflow-x: auto; } .chart svg { max-width: 100%; height: auto; }
figcaption, p.caption { font-size: .9rem; color: #333; max-width: 900px; }
a.png { font-size: .8rem; margin-left: .3rem; }
ul.notes { font-size: .88rem; color: #555; }
details { font-size: .85rem; margin: .3rem 0; } pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; }
small.id { color: #888; }
`;

export function page(p: {
  title: string;
  lab: string;
  runs: RunData[];
  summaries: RunSummary[];
  sections: Section[];
  notes: string[];
  font: string | null;
}): string {
  const summaryRows = p.summaries.map((s) => [
    s.label,
    s.model,
    `${formatTokens(s.tokens)} (${s.status})`,
    s.score === null ? "—" : `${formatNumber(s.score)}${s.lo !== null && s.hi !== null ? ` [${formatNumber(s.lo)}, ${formatNumber(s.hi)}]` : ""}`,
    s.window ? `${formatTokens(s.window.start)}–${formatTokens(s.window.end)}` : "none",
    s.bestHead ? `${headName(s.bestHead.layer, s.bestHead.head)}: ${formatNumber(s.bestHead.induction)}` : "—",
    formatNumber(s.loss50),
    formatNumber(s.loss500),
  ]);
  const summary = htmlTable(
    ["run", "model", "tokens", "final ICL score [interval]", "phase-change window (tokens)", "best induction head", "loss@50", "loss@500"],
    summaryRows,
    { className: "summary", numeric: [false, false, true, true, true, true, true, true] },
  );
  const runList = p.runs
    .map(
      (r) =>
        `<details><summary>${escapeHtml(r.label)} <small class="id">${escapeHtml(r.id)}${r.info.experiment ? ` · experiment ${escapeHtml(r.info.experiment)}` : ""}</small></summary>` +
        `<pre>${escapeHtml(JSON.stringify(r.info.config, null, 2) ?? "null")}</pre></details>`,
    )
    .join("\n");
  const notes = p.notes.length ? `<h2>Not shown</h2>\n<ul class="notes">${p.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>` : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(p.title)}</h1>
<p class="meta">Generated ${escapeHtml(new Date().toISOString())} from the lab ${escapeHtml(p.lab)}; ${p.runs.length} run${p.runs.length === 1 ? "" : "s"}.</p>
<h2>Summary</h2>
<div class="table-wrap">${summary}</div>
<p class="caption">Final ICL score: the last checkpoint's loss@500 − loss@50 (nats) with its bootstrap interval; the phase-change window is detected on the stored ICL-score
series (none: no drop larger than 0.15 nats and three times the noise); the best induction head is the head with the highest induction score at the last head measurement.</p>
${p.sections.map((s) => `<section>\n<h2>${escapeHtml(s.heading)}</h2>\n${s.html}\n</section>`).join("\n")}
${notes}
<h2>Runs</h2>
${runList}
<p class="meta">Charts: Vega-Lite specs (embedded beside each figure) rendered to SVG by Vega${p.font ? `; PNG files by resvg with ${escapeHtml(p.font)}` : ""}.</p>
</body>
</html>
`;
}
