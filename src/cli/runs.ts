/**
 * `icl-lab runs [--experiment NAME] [--json]`: the lab's runs, oldest first, with their status
 * (running, finished, failed; `stale` for a run marked running whose process is gone, `corrupt`
 * for one whose stored config cannot be read), tokens trained, and the last train loss and ICL
 * score stored.
 */
import type { Command } from "commander";
import { headline } from "../measure/headline.ts";
import { METRIC } from "../measure/names.ts";
import { RunStore } from "../store/run-store.ts";
import { withUserErrors } from "./errors.ts";
import { labOptions } from "./options.ts";
import { formatTable } from "./format-table.ts";

export interface RunRow {
  id: string;
  experiment: string | null;
  kind: string | null;
  status: string;
  tokens: number;
  trainLoss: number | null;
  iclScore: number | null;
  checkpoints: number;
  error: string | null;
}

/** One row per run of the lab (optionally of one experiment). */
export function listRunRows(lab: string | undefined, experiment?: string): RunRow[] {
  const store = RunStore.open(lab);
  try {
    return store.listRuns(experiment === undefined ? {} : { experiment }).map((r) => {
      return {
        id: r.id,
        experiment: r.experiment,
        kind: r.kind,
        status: r.corrupt ? "corrupt" : r.stale ? "stale" : r.status,
        tokens: r.tokens,
        ...headline(store, r.id),
        checkpoints: store.checkpoints(r.id).length,
        error: r.corrupt ?? r.error,
      };
    });
  } finally {
    store.close();
  }
}

export function register(program: Command): void {
  labOptions(
    program
      .command("runs")
      .description("list the lab's runs: status, tokens, last train loss and ICL score")
      .option("--experiment <name>", "only the runs of this experiment"),
  ).action(
    withUserErrors(async (opts: { experiment?: string; lab?: string; json?: boolean }) => {
      const rows = listRunRows(opts.lab, opts.experiment);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(
          opts.experiment === undefined ? "no runs yet (start one with `icl-lab train --preset tiny`)\n" : `no runs of experiment '${opts.experiment}'\n`,
        );
        return;
      }
      const fmt = (x: number | null, digits: number) => (x === null ? "—" : x.toFixed(digits));
      process.stdout.write(
        `${formatTable(
          ["id", "kind", "status", "tokens", METRIC.trainLoss, METRIC.iclScore],
          rows.map((r) => [r.id, r.kind ?? "—", r.status, r.tokens, fmt(r.trainLoss, 4), fmt(r.iclScore, 3)]),
        )}\n`,
      );
    }),
  );
}
