/**
 * The "Detected: …" sentence of a figure caption: per run what a detector found, or "none" with
 * its reason (the ICL phase change, the loss bump).
 */
import type { RunData } from "../data.ts";
import { escapeHtml } from "../tables.ts";

/** "<b>label</b>: found(d)" or "<b>label</b>: none (reason)" per run, joined by "; ". */
export function detectedList<D extends { status: string }>(
  runs: readonly RunData[],
  pick: (r: RunData) => D,
  found: (d: Extract<D, { status: "found" }>) => string,
): string {
  return runs
    .map((r) => {
      const d = pick(r);
      const what = d.status === "found" ? found(d as Extract<D, { status: "found" }>) : `none (${escapeHtml((d as unknown as { reason: string }).reason)})`;
      return `<b>${escapeHtml(r.label)}</b>: ${what}`;
    })
    .join("; ");
}
