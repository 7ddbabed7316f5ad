/** Pieces shared by the pages: status badges, number cells, error boxes, coalesced refreshes. */
import { formatNumber } from "../../../report/tables.ts";
import { formatTokens } from "../../../util/format.ts";
import type { RunRow } from "../../types.ts";
import { h } from "../dom.ts";

export { formatNumber, formatTokens };

export function statusBadge(row: Pick<RunRow, "status" | "corrupt" | "error">): HTMLElement {
  const badge = h("span", { class: `status status-${row.status}`, "data-status": row.status, title: row.error ?? "" }, row.status);
  if (!row.corrupt) return badge;
  return h("span", { class: "badges" }, badge, " ", h("span", { class: "status status-corrupt", "data-status": "corrupt", title: row.corrupt }, "corrupt"));
}

/** "−0.452 [−0.48, −0.42]". */
export function scoreText(icl: { score: number; lo: number | null; hi: number | null } | null): string {
  if (!icl) return "—";
  return `${formatNumber(icl.score)}${icl.lo !== null && icl.hi !== null ? ` [${formatNumber(icl.lo, 2)}, ${formatNumber(icl.hi, 2)}]` : ""}`;
}

export function errorBox(message: string): HTMLElement {
  return h("div", { class: "error", role: "alert" }, message);
}

/**
 * Runs `fn` now and again whenever `trigger()` is called; a trigger during a run queues one more
 * run, never more, so a burst of live events costs one refetch.
 */
export function refresher(fn: () => Promise<void>): { trigger: () => void; done: Promise<void> } {
  let running: Promise<void> | null = null;
  let again = false;
  const run = (): Promise<void> => {
    running = fn()
      .catch((e) => console.error(e))
      .then(() => {
        window.iclDashboard.refreshes++;
        running = null;
        if (again) {
          again = false;
          return run();
        }
      });
    return running;
  };
  const done = run();
  return {
    done,
    trigger: () => {
      if (running) again = true;
      else void run();
    },
  };
}

export function headName(layer: number, head: number): string {
  return `L${layer}H${head}`;
}
