/**
 * The table an experiment prints at the end: one row per configuration (runs that differ only in
 * seed are one row: mean ± standard deviation), with the columns its definition lists, read from
 * the runs store through the report's readers (src/report/data.ts), so the table and the report
 * show the same stored numbers.
 */
import type { RunData } from "../report/data.ts";
import { headName } from "../report/data.ts";
import { formatNumber, formatTokens } from "../report/tables.ts";
import { countParams } from "./common.ts";

export type SummaryColumnKey =
  | "params" | "tokens" | "unique" | "epochs"
  | "icl" | "icl@natural" | "icl@common"
  | "loss50" | "loss500" | "perplexity"
  | "induction" | "window" | "tasks";

export interface SummaryRow {
  /** The configuration (the report's group label). */
  label: string;
  runIds: string[];
  /** Raw values by column key (means over seeds; tasks as `task:<name>`), null when not measured. */
  values: Record<string, number | null>;
  /** Standard deviations over seeds (null with one seed). */
  sd: Record<string, number | null>;
}

export interface SummaryTable {
  header: string[];
  /** Formatted cells. */
  cells: string[][];
  rows: SummaryRow[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sdOf = (xs: number[]) => (xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)) : null);

/** Accuracy of each task at the most shots measured, at the last checkpoint. */
function taskAccuracies(r: RunData): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of r.tasks?.tasks ?? []) {
    for (let i = t.shots.length - 1; i >= 0; i--) {
      const a = t.accuracy[i];
      if (a !== null && Number.isFinite(a)) {
        out[`task:${t.name}`] = a;
        break;
      }
    }
  }
  return out;
}

function runValues(r: RunData): Record<string, number | null> {
  const last = r.icl[r.icl.length - 1];
  const pos = r.positionLoss[r.positionLoss.length - 1];
  const meanLoss = pos ? mean(pos.meanLoss) : null;
  const best = r.heads.length > 0 && r.heads[r.heads.length - 1].heads.length > 0
    ? r.heads[r.heads.length - 1].heads.reduce((p, q) => (q.induction > p.induction ? q : p))
    : null;
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
    icl: last?.score ?? null,
    iclLo: last?.lo ?? null,
    iclHi: last?.hi ?? null,
    "icl@natural": r.extraIcl["icl@natural"] ?? null,
    "icl@common": r.extraIcl["icl@common"] ?? null,
    loss50: last?.loss50 ?? null,
    loss500: last?.loss500 ?? null,
    perplexity: meanLoss !== null && Number.isFinite(meanLoss) ? Math.exp(meanLoss) : null,
    induction: best?.induction ?? null,
    windowStart: r.phase.status === "found" ? r.phase.start : null,
    windowEnd: r.phase.status === "found" ? r.phase.end : null,
    ...taskAccuracies(r),
  };
}

const HEADERS: Record<Exclude<SummaryColumnKey, "tasks">, string> = {
  params: "params",
  tokens: "tokens",
  unique: "unique tokens",
  epochs: "epochs",
  icl: "ICL score",
  "icl@natural": "ICL (natural text)",
  "icl@common": "ICL (common set)",
  loss50: "loss@50",
  loss500: "loss@500",
  perplexity: "perplexity",
  induction: "best induction head",
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
    const values: Record<string, number | null> = {}, sd: Record<string, number | null> = {};
    for (const k of keys) {
      const xs = vals.map((v) => v[k]).filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x));
      values[k] = xs.length > 0 ? mean(xs) : null;
      sd[k] = xs.length > 1 ? sdOf(xs) : null;
    }
    const row: SummaryRow = { label, runIds: rs.map((r) => r.id), values, sd };
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
    const v = row.values, s = row.sd;
    const num = (k: string, digits = 3) => (v[k] === null || v[k] === undefined ? "—" : `${formatNumber(v[k], digits)}${s[k] !== null && s[k] !== undefined ? ` ± ${formatNumber(s[k], digits)}` : ""}`);
    const out = [row.label, ...(withSeeds ? [String(rs.length)] : [])];
    for (const c of columns) {
      switch (c) {
        case "params": out.push(v.params === null ? "—" : Math.round(v.params).toLocaleString("en-US")); break;
        case "tokens": out.push(formatTokens(v.tokens)); break;
        case "unique": out.push(v.unique === null ? "all" : formatTokens(v.unique)); break;
        case "epochs": out.push(v.epochs === null ? "—" : v.epochs.toFixed(1)); break;
        case "icl":
          out.push(rs.length === 1 && v.iclLo !== null && v.iclHi !== null
            ? `${formatNumber(v.icl)} [${formatNumber(v.iclLo)}, ${formatNumber(v.iclHi)}]`
            : num("icl"));
          break;
        case "perplexity": out.push(num("perplexity", 2)); break;
        case "induction": {
          const r0 = rs[0];
          const last = r0.heads[r0.heads.length - 1];
          const best = last && last.heads.length > 0 ? last.heads.reduce((p, q) => (q.induction > p.induction ? q : p)) : null;
          out.push(v.induction === null ? "—" : `${num("induction", 2)}${rs.length === 1 && best ? ` (${headName(best.layer, best.head)})` : ""}`);
          break;
        }
        case "window": {
          const found = vals.filter((x) => x.windowStart !== null);
          out.push(found.length === 0 ? "none"
            : `${formatTokens(mean(found.map((x) => x.windowStart!)))}–${formatTokens(mean(found.map((x) => x.windowEnd!)))}` +
              (rs.length > 1 ? ` (${found.length}/${rs.length})` : ""));
          break;
        }
        case "tasks": for (const t of tasks) out.push(num(t, 2)); break;
        default: out.push(num(c));
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
  return all.map((r) => r.map((c, i) => (c ?? "").padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
