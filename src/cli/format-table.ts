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

/**
 * printExperimentEnd for the experiments that run in this process (data-distribution,
 * implicit-dynamics): the JSON payload is the experiment's name, lab and seconds, then `fields` in
 * order, then the report's path.
 */
export function printInProcessExperimentEnd(
  name: string,
  json: boolean | undefined,
  result: { lab: string; seconds: number; summaryText: string | null; report: string | null },
  fields: object,
): void {
  printExperimentEnd({
    json,
    payload: { experiment: name, lab: result.lab, seconds: result.seconds, ...fields, report: result.report },
    summaryText: result.summaryText,
    seconds: result.seconds,
    report: result.report,
  });
}
