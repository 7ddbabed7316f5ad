/**
 * Report section "Comparison in the style of Shin et al.": one row per configuration (means over
 * its seeds, src/report/summary.ts), the final numbers as columns, bold above the column mean and
 * underlined below (tables.ts), and the same as bar charts.
 */
import { comparisonChart, type ComparisonBar } from "../charts.ts";
import type { RunData } from "../data.ts";
import { finalMetrics, meanSdByKey } from "../summary.ts";
import { shinTable, shinTableHtml, type ShinColumn, type ShinRow, type ShinTable } from "../tables.ts";
import type { Section, SectionContext } from "./types.ts";

/** The comparison section (none with fewer than two groups) and its table. */
export async function comparisonSection(ctx: SectionContext): Promise<{ sections: Section[]; comparison: ShinTable | null }> {
  const { groups, seeds, figure } = ctx;
  const sections: Section[] = [];
  let comparison: ShinTable | null = null;
  if (groups.size > 1) {
    const { rows, columns } = comparisonRows(groups);
    if (columns.length > 0) {
      comparison = shinTable(rows, columns);
      const bars: ComparisonBar[] = comparison.rows.flatMap((r, i) =>
        comparison!.columns.flatMap((c) => {
          const v = r.values[c.key];
          const mean = comparison!.means[c.key];
          if (v === null || v === undefined || !Number.isFinite(v) || mean === null) return [];
          const m = comparison!.marks[i][c.key];
          return [
            {
              row: r.label,
              metric: c.label,
              value: v,
              better: c.better,
              mean,
              mark: m === "bold" ? ("better" as const) : m === "underline" ? ("worse" as const) : ("mean" as const),
            },
          ];
        }),
      );
      const tableHtml = shinTableHtml(comparison, { caption: "Bold: better than the column mean; underlined: worse (↑ higher is better, ↓ lower is better)." });
      sections.push({
        heading: "Comparison in the style of Shin et al.",
        html:
          `<div class="table-wrap">${tableHtml}</div>\n<p class="caption">Rows: ${seeds ? "configurations (runs differing only in seed are averaged; ± is the standard deviation)" : "runs"}; ` +
          "columns: the last checkpoint's ICL score, loss@50 and loss@500, evaluation perplexity (exp of the mean loss over positions), the best head's induction score, " +
          "and few-shot accuracies at the most shots measured. Presentation after Shin et al. (2022): bold above the column average, underlined below, " +
          "here with the direction of “better” per metric. <i>Anchor</i> (Shin et al. 2022): ICL depends heavily on the corpus's domain; some corpora give no ICL alone " +
          "but do in combination; more data helps up to a point; lower perplexity does not always mean better ICL.</p>\n" +
          (await figure(
            "comparison",
            "Comparison as bars",
            comparisonChart({ bars }),
            "The table above as bar charts, one per metric: blue bars are better than the column mean (bold in the table), orange ones worse (underlined); the dashed rule is the mean.",
          )),
      });
    }
  }
  return { sections, comparison };
}

/** Metrics of a run for the comparison table, by column key. */
function runMetrics(r: RunData): Record<string, number | null> {
  const f = finalMetrics(r);
  const out: Record<string, number | null> = {
    icl: f.icl,
    loss50: f.loss50,
    loss500: f.loss500,
    perplexity: f.perplexity,
    induction: f.induction,
  };
  for (const [measure, v] of Object.entries(f.extraIcl)) out[`extra:${measure}`] = v;
  // The most shots that fit the context.
  for (const t of f.tasks) out[`task:${t.task}:${t.shots}`] = t.accuracy;
  return out;
}

const BASE_COLUMNS: ShinColumn[] = [
  { key: "icl", label: "ICL score", better: "lower", description: "loss@500 − loss@50 at the last checkpoint (nats)" },
  { key: "loss50", label: "loss@50", better: "lower", description: "mean loss of the 50th token (nats)" },
  { key: "loss500", label: "loss@500", better: "lower", description: "mean loss of the 500th token (nats)" },
  { key: "perplexity", label: "perplexity", better: "lower", digits: 2, description: "exp of the mean evaluation loss over all positions" },
  { key: "induction", label: "best induction score", better: "higher", description: "induction score of the best head" },
];

/** The comparison table's rows (one per group, means over its runs) and the columns any row has. */
export function comparisonRows(groups: Map<string, RunData[]>): { rows: ShinRow[]; columns: ShinColumn[] } {
  const perGroup = [...groups.entries()].map(([label, rs]) => ({ label, metrics: rs.map(runMetrics) }));
  const keys = (prefix: string) => [...new Set(perGroup.flatMap((g) => g.metrics.flatMap((m) => Object.keys(m).filter((k) => k.startsWith(prefix)))))].sort();
  const taskKeys = keys("task:");
  const columns: ShinColumn[] = [
    ...BASE_COLUMNS,
    ...keys("extra:").map((k) => {
      const measure = k.slice("extra:".length);
      return { key: k, label: `ICL score (${measure})`, better: "lower" as const, description: `the last checkpoint's ${measure}.score (nats)` };
    }),
    ...taskKeys.map((k) => {
      const [, name, shots] = k.split(":");
      return { key: k, label: `${name} ${shots}-shot`, better: "higher" as const, description: `few-shot accuracy on the ${name} task with ${shots} examples` };
    }),
  ].filter((c) => perGroup.some((g) => g.metrics.some((m) => m[c.key] !== null && m[c.key] !== undefined && Number.isFinite(m[c.key]!))));
  const rows: ShinRow[] = perGroup.map((g) => ({
    label: g.label,
    ...meanSdByKey(
      g.metrics,
      columns.map((c) => c.key),
    ),
    n: g.metrics.length,
  }));
  return { rows, columns };
}
