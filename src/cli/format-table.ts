/** Plain-text tables for the CLI's human-readable output (`--json` prints the same rows as JSON). */

/** Left-aligned text table (numbers right-aligned). */
export function formatTable(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? c.toLocaleString("en-US") : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? "").length)));
  return cells
    .map((r, ri) =>
      r
        .map((c, i) => {
          const s = String(c ?? "");
          const numeric = ri > 0 && typeof rows[ri - 1][i] === "number";
          return numeric ? s.padStart(widths[i]) : s.padEnd(widths[i]);
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** An experiment's last words: its JSON (`--json`), or its summary, the wall time and the report's path. */
export function printExperimentEnd(o: { json?: boolean; payload: object; summaryText: string | null; seconds: number; report?: string | null }): void {
  if (o.json) {
    console.log(JSON.stringify(o.payload, null, 2));
    return;
  }
  if (o.summaryText !== null) console.log(o.summaryText);
  console.log(`\nwall time ${(o.seconds / 60).toFixed(1)} min${o.report ? `; report: ${o.report}` : ""}`);
}
