/**
 * Tables of the reports, as pure functions of plain data (no Node APIs), so that the dashboard can
 * build the same tables in the browser:
 *   - number and token formatting;
 *   - Shin-style comparison tables (Shin et al. 2022, NAACL): rows are corpora, mixtures or models,
 *     columns are metrics; a cell is bold when it is better than its column's mean and underlined
 *     when it is worse, where "better" follows the metric's direction (a lower ICL score, loss or
 *     perplexity is better; a higher accuracy or induction score is better). A cell equal to the
 *     mean, or a column with fewer than two values, is not marked.
 *   - HTML for a table, with every text escaped.
 */

/** Which way a metric improves. */
export type Better = "higher" | "lower";

/** Presentation of a cell relative to its column mean (Shin et al.): bold better, underline worse. */
export type CellMark = "bold" | "underline" | null;

export interface ShinColumn {
  /** Key into each row's `values`. */
  key: string;
  label: string;
  better: Better;
  /** Decimal places shown (default 3). */
  digits?: number;
  /** A line saying what the column is (shown as the header's title). */
  description?: string;
}

export interface ShinRow {
  label: string;
  /** Value per column key; null or NaN where the row has none. */
  values: Record<string, number | null>;
  /** Standard deviation per column key over the row's runs (seeds), when it holds several. */
  sd?: Record<string, number | null>;
  /** Runs behind the row (1 when absent). */
  n?: number;
}

export interface ShinTable {
  columns: ShinColumn[];
  rows: ShinRow[];
  /** Column means over the rows that have a value (null with none). */
  means: Record<string, number | null>;
  /** marks[row][column key]. */
  marks: Array<Record<string, CellMark>>;
}

function finite(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** Marks every cell against its column mean, respecting each column's direction of "better". */
export function shinTable(rows: readonly ShinRow[], columns: readonly ShinColumn[]): ShinTable {
  const means: Record<string, number | null> = {};
  const marks: Array<Record<string, CellMark>> = rows.map(() => ({}));
  for (const col of columns) {
    if (col.better !== "higher" && col.better !== "lower") {
      throw new Error(`shinTable: column '${col.key}' must have better 'higher' or 'lower', found ${JSON.stringify(col.better)}`);
    }
    const present = rows.map((r) => r.values[col.key]).filter(finite);
    const mean = present.length > 0 ? present.reduce((a, b) => a + b, 0) / present.length : null;
    means[col.key] = mean;
    rows.forEach((r, i) => {
      const v = r.values[col.key];
      let mark: CellMark = null;
      if (finite(v) && mean !== null && present.length >= 2 && v !== mean) {
        const better = col.better === "higher" ? v > mean : v < mean;
        mark = better ? "bold" : "underline";
      }
      marks[i][col.key] = mark;
    });
  }
  return { columns: [...columns], rows: [...rows], means, marks };
}

// ---- formatting ------------------------------------------------------------------------------

/** A number with fixed decimals, "−" for negatives (typographic minus), "—" when missing. */
export function formatNumber(v: number | null | undefined, digits = 3): string {
  if (!finite(v)) return "—";
  const s = Math.abs(v).toFixed(digits);
  return v < 0 && Number(s) !== 0 ? `−${s}` : s;
}

/** Token counts: 950, 12.3k, 4.50M, 1.63B (one formatter for the whole lab: src/util/format.ts). */
export { formatTokens } from "../util/format.ts";

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** The Shin table as an HTML <table> (class "shin"); bold and underline as <strong> and <u>. */
export function shinTableHtml(table: ShinTable, opts: { caption?: string } = {}): string {
  const head = table.columns
    .map((c) => {
      const arrow = c.better === "higher" ? "↑" : "↓";
      const title = `${c.description ? `${c.description}; ` : ""}${c.better} is better`;
      return `<th title="${escapeHtml(title)}" data-better="${c.better}">${escapeHtml(c.label)} ${arrow}</th>`;
    })
    .join("");
  const body = table.rows
    .map((r, i) => {
      const cells = table.columns
        .map((c) => {
          const v = r.values[c.key];
          let text = escapeHtml(formatNumber(v, c.digits ?? 3));
          const sd = r.sd?.[c.key];
          if ((r.n ?? 1) > 1 && finite(sd)) text += ` <span class="sd">± ${escapeHtml(formatNumber(sd, c.digits ?? 3))}</span>`;
          const mark = table.marks[i][c.key];
          const inner = mark === "bold" ? `<strong>${text}</strong>` : mark === "underline" ? `<u>${text}</u>` : text;
          const value = finite(v) ? ` data-value="${v}"` : "";
          return `<td class="num" data-key="${escapeHtml(c.key)}"${value} data-mark="${mark ?? "none"}">${inner}</td>`;
        })
        .join("");
      const n = (r.n ?? 1) > 1 ? ` <span class="sd">(${r.n} runs)</span>` : "";
      return `<tr><th scope="row">${escapeHtml(r.label)}${n}</th>${cells}</tr>`;
    })
    .join("\n");
  const means = table.columns.map((c) => `<td class="num">${escapeHtml(formatNumber(table.means[c.key], c.digits ?? 3))}</td>`).join("");
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
  return (
    `<table class="shin">${caption}<thead><tr><th></th>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>` +
    `<tfoot><tr><th scope="row">column mean</th>${means}</tr></tfoot></table>`
  );
}

/** A plain HTML table from a header and rows of already formatted cells (escaped here). */
export function htmlTable(
  header: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string>>,
  opts: { className?: string; numeric?: readonly boolean[] } = {},
): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const tr = rows.map((r) => `<tr>${r.map((c, i) => `<td${opts.numeric?.[i] ? ' class="num"' : ""}>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table${opts.className ? ` class="${escapeHtml(opts.className)}"` : ""}><thead><tr>${th}</tr></thead>\n<tbody>\n${tr}\n</tbody></table>`;
}
