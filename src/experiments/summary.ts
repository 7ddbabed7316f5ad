/**
 * The table an experiment prints at the end: one row per configuration (runs that differ only in
 * seed are one row: mean ± standard deviation), with the columns its definition lists, read from
 * the runs store through the report's readers (src/report/data.ts) and summarised by the report's
 * summary (src/report/summary.ts: final ICL, loss@50/500, best head, mean ± sd and its n < 2 rule),
 * so the table and the report show the same numbers.
 */
import type { RunData } from "../report/data.ts";
import { headName } from "../report/data.ts";
import { bestHead, finalMetrics, finiteValues, meanSd, meanSdByKey } from "../report/summary.ts";
import { ICL_COMMON, ICL_NATURAL } from "../measure/names.ts";
import { tInterval95 } from "../measure/stats.ts";
import { formatNumber, formatTokens } from "../report/tables.ts";
import { countParams } from "./common.ts";
import type { SummaryColumnKey } from "./types.ts";

// The column keys are part of an experiment's definition (types.ts), which this module reads.
export type { SummaryColumnKey } from "./types.ts";

export interface SummaryRow {
  /** The configuration (the report's group label). */
  label: string;
  runIds: string[];
  /** Raw values by column key (means over seeds; tasks as `task:<name>`), null when not measured. */
  values: Record<string, number | null>;
  /** Standard deviations over seeds (null with one seed). */
  sd: Record<string, number | null>;
  /** 95% t-intervals of the means over seeds (null with fewer than two finite values). */
  ci95: Record<string, [number, number] | null>;
  /** Each seed's values, in runIds' order (a first induction head not reached is null). */
  perRun: Array<Record<string, number | null>>;
}

export interface SummaryTable {
  header: string[];
  /** Formatted cells. */
  cells: string[][];
  rows: SummaryRow[];
}

/** The run's numbers by column key (tasks as `task:<name>`): the report's summary (src/report/summary.ts). */
function runValues(r: RunData): Record<string, number | null> {
  const f = finalMetrics(r);
  const model = r.config?.model as Record<string, unknown> | undefined;
  let params: number | null = null;
  try {
    params = model ? countParams(model, typeof model.dVocab === "number" ? model.dVocab : 257) : null;
  } catch {
    params = null;
  }
  const unique = r.config?.data?.uniqueTokens ?? null;
  return {
    params,
    tokens: r.info.tokens,
    unique,
    epochs: unique !== null && r.info.tokens > 0 ? r.info.tokens / unique : null,
    icl: f.icl,
    iclLo: f.iclLo,
    iclHi: f.iclHi,
    [ICL_NATURAL]: f.extraIcl[ICL_NATURAL] ?? null,
    [ICL_COMMON]: f.extraIcl[ICL_COMMON] ?? null,
    loss50: f.loss50,
    loss500: f.loss500,
    perplexity: f.perplexity,
    induction: f.induction,
    firstHead: f.firstHead,
    windowStart: r.phase.status === "found" ? r.phase.start : null,
    windowEnd: r.phase.status === "found" ? r.phase.end : null,
    ...Object.fromEntries(f.tasks.map((t) => [`task:${t.task}`, t.accuracy])),
  };
}

const HEADERS: Record<Exclude<SummaryColumnKey, "tasks">, string> = {
  params: "params",
  tokens: "tokens",
  unique: "unique tokens",
  epochs: "epochs",
  icl: "ICL score",
  [ICL_NATURAL]: "ICL (natural text)",
  [ICL_COMMON]: "ICL (common set)",
  loss50: "loss@50",
  loss500: "loss@500",
  perplexity: "perplexity",
  induction: "best induction head",
  firstHead: "first induction head (tokens)",
  window: "phase change (tokens)",
};

/** The summary of runs (as read by readRuns) with the given columns. */
export function summaryTable(runs: readonly RunData[], columns: readonly SummaryColumnKey[]): SummaryTable {
  const groups = new Map<string, RunData[]>();
  for (const r of runs) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  const rows: SummaryRow[] = [];
  const taskNames = new Set<string>();
  const perGroup = [...groups.entries()].map(([label, rs]) => {
    const vals = rs.map(runValues);
    for (const v of vals) for (const k of Object.keys(v)) if (k.startsWith("task:")) taskNames.add(k);
    const keys = new Set(vals.flatMap((v) => Object.keys(v)));
    const { values, sd } = meanSdByKey(vals, keys);
    const ci95 = Object.fromEntries([...keys].map((k) => [k, tInterval95(finiteValues(vals, k))]));
    const row: SummaryRow = { label, runIds: rs.map((r) => r.id), values, sd, ci95, perRun: vals };
    rows.push(row);
    return { row, rs, vals };
  });
  const tasks = [...taskNames].sort();
  const header = ["configuration", ...(runs.some((r) => groups.get(r.group)!.length > 1) ? ["seeds"] : [])];
  for (const c of columns) {
    if (c === "tasks") header.push(...tasks.map((t) => `${t.slice(5)} acc.`));
    else header.push(HEADERS[c]);
  }
  const withSeeds = header[1] === "seeds";
  const cells = perGroup.map(({ row, rs, vals }) => {
    const v = row.values,
      s = row.sd;
    const num = (k: string, digits = 3) =>
      v[k] === null || v[k] === undefined
        ? "—"
        : `${formatNumber(v[k], digits)}${s[k] !== null && s[k] !== undefined ? ` ± ${formatNumber(s[k], digits)}` : ""}`;
    const out = [row.label, ...(withSeeds ? [String(rs.length)] : [])];
    for (const c of columns) {
      switch (c) {
        case "params":
          out.push(v.params === null ? "—" : Math.round(v.params).toLocaleString("en-US"));
          break;
        case "tokens":
          out.push(formatTokens(v.tokens));
          break;
        case "unique":
          out.push(v.unique === null ? "all" : formatTokens(v.unique));
          break;
        case "epochs":
          out.push(v.epochs === null ? "—" : v.epochs.toFixed(1));
          break;
        case "icl":
          out.push(
            rs.length === 1 && v.iclLo !== null && v.iclHi !== null
              ? `${formatNumber(v.icl)} [${formatNumber(v.iclLo)}, ${formatNumber(v.iclHi)}]`
              : num("icl"),
          );
          break;
        case "perplexity":
          out.push(num("perplexity", 2));
          break;
        case "induction": {
          const best = bestHead(rs[0]);
          out.push(v.induction === null ? "—" : `${num("induction", 2)}${rs.length === 1 && best ? ` (${headName(best.layer, best.head)})` : ""}`);
          break;
        }
        case "firstHead": {
          // Runs without a head count as not reached: the mean is over the runs that formed one.
          const found = vals.filter((x) => x.firstHead !== null).map((x) => x.firstHead!);
          const m = meanSd(found);
          out.push(
            found.length === 0
              ? "none"
              : `${formatTokens(m.mean)}${found.length > 1 && m.sd !== null ? ` ± ${formatTokens(m.sd)}` : ""}${rs.length > 1 ? ` (${found.length}/${rs.length})` : ""}`,
          );
          break;
        }
        case "window": {
          const found = vals.filter((x) => x.windowStart !== null);
          out.push(
            found.length === 0
              ? "none"
              : `${formatTokens(meanSd(found.map((x) => x.windowStart!)).mean)}–${formatTokens(meanSd(found.map((x) => x.windowEnd!)).mean)}` +
                  (rs.length > 1 ? ` (${found.length}/${rs.length})` : ""),
          );
          break;
        }
        case "tasks":
          for (const t of tasks) out.push(num(t, 2));
          break;
        default:
          out.push(num(c));
      }
    }
    return out;
  });
  return { header, cells, rows };
}

/** The table as aligned text (two spaces between columns). */
export function formatTable(header: readonly string[], cells: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((c, i) => (c ?? "").padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
