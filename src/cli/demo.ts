/**
 * `icl-lab demo`: the main job (src/experiments/demo.ts) — trains 1-, 2- and 3-layer
 * attention-only models (two at a time on 2 cores), then prints the table and writes the report.
 * Running it again resumes an interrupted demo, or only re-renders the report of a finished one.
 */
import type { Command } from "commander";
import { UserError, withUserErrors } from "./errors.ts";
import { runAndPrint } from "./experiment.ts";
import { MINUTES_HELP, minutesOption, positiveInt } from "./options.ts";

export function register(program: Command): void {
  program
    .command("demo")
    .description("Reproduce the induction-head phase change: 1-, 2- and 3-layer attention-only models, ICL score, head scores, report")
    .option("--lab <dir>", "lab folder (default ./icl-lab-runs or $ICL_LAB_DIR)")
    .option("--corpus <name=path>", "train on your own text (a file, a folder of .txt/.md, or JSONL) instead of the npm sources")
    .option("--tokens <n>", "training tokens per model", positiveInt("tokens"))
    .option("--minutes <m>", MINUTES_HELP, minutesOption)
    .option("--seeds <n>", "seeds per model", positiveInt("seeds"))
    .option("--layers <list>", "layer counts, comma-separated (default 1,2,3)")
    .option("--jobs <n>", "trainer processes (default: one per core, each one thread)", positiveInt("jobs"))
    .option(
      "--natural",
      "natural text alone (no synthetic ingredient): the calibrated natural-text setting, as `icl-lab experiment natural` (an hour or more; see --minutes)",
    )
    .option("--dry-run", "print the runs and what the lab holds of them, train nothing")
    .option("--smoke", "tiny models and ~20k tokens: checks the pipeline end to end (the numbers mean nothing)")
    .option("--no-png", "do not write PNG files beside the report (the HTML has every figure inline)")
    .option("--json", "print the results as JSON")
    .action(
      withUserErrors(
        async (o: {
          lab?: string;
          corpus?: string;
          tokens?: number;
          minutes?: number;
          seeds?: number;
          layers?: string;
          jobs?: number;
          natural?: boolean;
          dryRun?: boolean;
          smoke?: boolean;
          png: boolean;
          json?: boolean;
        }) => {
          const { demoExperiment } = await import("../experiments/demo.ts");
          let layers: number[] | undefined;
          if (o.layers !== undefined) {
            layers = o.layers.split(",").map((x) => Number(x.trim()));
            if (layers.length === 0 || layers.some((l) => !Number.isInteger(l) || l < 1 || l > 12))
              throw new UserError(`--layers must be integers 1-12, comma-separated, found '${o.layers}'`);
            if (new Set(layers).size !== layers.length) throw new UserError(`--layers lists a layer count twice: '${o.layers}'`);
          }
          const { naturalExperiment } = await import("../experiments/natural.ts");
          await runAndPrint(o.natural ? naturalExperiment(layers, "demo-natural") : demoExperiment(layers), {
            lab: o.lab,
            seeds: o.seeds,
            tokens: o.tokens,
            minutes: o.minutes,
            corpus: o.corpus === undefined ? [] : [o.corpus],
            jobs: o.jobs,
            dryRun: o.dryRun,
            smoke: o.smoke,
            png: o.png,
            json: o.json,
          });
        },
      ),
    );
}
