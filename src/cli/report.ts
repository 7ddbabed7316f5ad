/**
 * `icl-lab report ID [--lab DIR] [--out DIR]`: writes the HTML report (and PNG figures) of a run
 * or of every run of an experiment. ID is a run id, an experiment name, or a unique start of a run
 * id. Prints the report's path on stdout (with `--json`, what was written); progress on stderr.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { RunStore, resolveLabDir } from "../store/run-store.ts";
import { UserError, withUserErrors } from "./errors.ts";
import { LAB_HELP } from "./options.ts";

interface ReportOptions {
  lab?: string;
  out?: string;
  png: boolean;
  attention: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("report")
    .description("write an HTML report with figures (and PNG files) for a run or an experiment")
    .argument("<id>", "a run id, an experiment name, or a unique start of a run id")
    .option("--lab <dir>", LAB_HELP)
    .option("--out <dir>", "output folder (default: <lab>/reports/<id>)")
    .option("--no-png", "do not write PNG files (the HTML has every figure inline)")
    .option("--no-attention", "do not recompute the best induction head's attention pattern from the last checkpoint")
    .option("--json", "print what was written as JSON")
    .action(
      withUserErrors(async (id: string, opts: ReportOptions) => {
        const lab = resolveLabDir(opts.lab);
        if (!existsSync(join(lab, "lab.db"))) {
          throw new UserError(`no lab at ${lab} (no lab.db there); give --lab DIR or set ICL_LAB_DIR`);
        }
        const { renderReport, resolveTarget, ReportError } = await import("../report/report.ts");
        try {
          const store = RunStore.open(lab);
          let target;
          try {
            target = resolveTarget(store, id);
          } finally {
            store.close();
          }
          process.stderr.write(`icl-lab: writing the report of ${"experiment" in target ? `experiment ${target.experiment}` : `run ${target.runIds[0]}`}…\n`);
          const r = await renderReport({ lab, out: opts.out, png: opts.png, attention: opts.attention, ...target });
          if (opts.json) {
            process.stdout.write(
              `${JSON.stringify({ html: r.html, dir: r.dir, figures: r.figures.map((f) => ({ id: f.id, title: f.title, png: f.png })), summaries: r.summaries, notes: r.notes }, null, 2)}\n`,
            );
          } else {
            for (const n of r.notes) process.stderr.write(`  not shown: ${n}\n`);
            process.stdout.write(`${r.html}\n`);
          }
        } catch (e) {
          if (e instanceof ReportError) throw new UserError(e.message);
          throw e;
        }
      }),
    );
}
