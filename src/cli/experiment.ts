/**
 * `icl-lab experiment NAME [--seeds N] [--tokens N] [--corpus NAME=PATH]… [--domains a,b] [--lab DIR]
 * [--dry-run]`: runs one of the experiments of src/experiments (phase-change, architectures,
 * smeared-keys, corpus-source, corpus-diversity, corpus-size) — trains what the lab does not
 * hold yet (an interrupted experiment resumes where it stopped), writes the report, prints the
 * summary table and the expected outcome. Without NAME: the list of experiments.
 * Progress goes to stderr; the table, the report's path and `--json` output to stdout.
 */
import { printExperimentEnd } from "./format-table.ts";
import type { Command } from "commander";
import type { ExperimentDefinition } from "../experiments/types.ts";
import { UserError, withUserErrors } from "./errors.ts";
import { MINUTES_HELP, minutesOption, positiveInt } from "./options.ts";

export interface ExperimentCliOptions {
  lab?: string;
  seeds?: number;
  tokens?: number;
  minutes?: number;
  /** data-distribution only: training steps per run. */
  steps?: number;
  corpus: string[];
  domains?: string;
  dryRun?: boolean;
  jobs?: number;
  smoke?: boolean;
  png: boolean;
  json?: boolean;
  /** implicit-dynamics only: the token run to measure; `--no-token` sets `token` to false. */
  tokenRun?: string;
  tokenLab?: string;
  token?: boolean;
}

/** `NAME=PATH` (a file or folder to add as source NAME) or `NAME` (a source the lab already knows). */
export function parseCorpus(v: string): { name: string; path?: string } {
  const m = /^([a-z][a-z0-9_]*)(?:=(.+))?$/.exec(v);
  if (m === null) throw new UserError(`--corpus must be NAME=PATH or NAME (NAME: lowercase letters, digits, '_', starting with a letter), found '${v}'`);
  return m[2] === undefined ? { name: m[1] } : { name: m[1], path: m[2] };
}

export function register(program: Command): void {
  program
    .command("experiment")
    .description(
      "run an experiment (phase-change, natural, architectures, smeared-keys, corpus-source, corpus-diversity, corpus-size, data-distribution, implicit-dynamics): train, resume, report, summarise; without NAME, list them",
    )
    .argument("[name]", "the experiment")
    .option("--seeds <n>", "seeds per configuration (default: the experiment's)", positiveInt("seeds"))
    .option("--tokens <n>", "training tokens per run (default: the experiment's)", positiveInt("tokens"))
    .option("--minutes <m>", MINUTES_HELP, minutesOption)
    .option("--steps <n>", "data-distribution, implicit-dynamics: training steps per run (default 8000, 3000)", positiveInt("steps"))
    .option(
      "--token-run <id>",
      "implicit-dynamics: the transformer token run to measure (default: the newest finished one in the lab, trained there first when it has none)",
    )
    .option("--token-lab <dir>", "implicit-dynamics: the lab holding the token run (default: --lab)")
    .option("--no-token", "implicit-dynamics: skip the token model")
    .option(
      "--corpus <name=path>",
      "your text (a file, a folder of .txt/.md, or JSONL), or a source id; repeatable; what it does depends on the experiment",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("--domains <ids>", "corpus experiments: the source ids to compare, comma-separated, instead of the defaults")
    .option("--lab <dir>", "lab folder (default ./icl-lab-runs or $ICL_LAB_DIR)")
    .option("--dry-run", "print the runs (with parameter counts and what the lab holds of them), train nothing")
    .option("--jobs <n>", "trainer processes (default: one per core, each one thread)", positiveInt("jobs"))
    .option("--smoke", "tiny models and ~20k tokens: checks the pipeline end to end in a minute (the numbers mean nothing)")
    .option("--no-png", "do not write PNG files beside the report (the HTML has every figure inline)")
    .option("--json", "print the plan or the results as JSON")
    .action(
      withUserErrors(async (name: string | undefined, o: ExperimentCliOptions) => {
        const { EXPERIMENTS, EXPERIMENT_NAMES, CLASSIFICATION_EXPERIMENTS } = await import("../experiments/index.ts");
        if (name === undefined) {
          if (o.json) {
            console.log(
              JSON.stringify(
                EXPERIMENT_NAMES.map((n) => ({
                  name: n,
                  title: EXPERIMENTS[n].title,
                  description: EXPERIMENTS[n].description,
                  expected: EXPERIMENTS[n].expected,
                  defaults: EXPERIMENTS[n].defaults,
                })),
                null,
                2,
              ),
            );
          } else {
            for (const n of EXPERIMENT_NAMES) console.log(`${n.padEnd(18)}${EXPERIMENTS[n].title}`);
            for (const [n, title] of Object.entries(CLASSIFICATION_EXPERIMENTS)) console.log(`${n.padEnd(18)}${title}`);
            console.log("\nicl-lab experiment NAME --dry-run shows an experiment's runs; docs/experiments.md describes each one and its expected outcome.");
          }
          return;
        }
        if (o.minutes !== undefined && Object.hasOwn(CLASSIFICATION_EXPERIMENTS, name))
          throw new UserError(`--minutes applies to the language-model experiments, not to ${name} (give --steps)`);
        if (name === "data-distribution") {
          const { runDataDistributionCli } = await import("./data-distribution.ts");
          await runDataDistributionCli(o);
          return;
        }
        if (name === "implicit-dynamics") {
          const { runImplicitDynamicsCli } = await import("./implicit-dynamics.ts");
          await runImplicitDynamicsCli(o);
          return;
        }
        await runAndPrint(name, o);
      }),
    );
}

/**
 * Runs an experiment (by name, or a definition: the demo's) with the CLI's options and prints
 * the plan (--dry-run), or the summary table, the wall time and the report's path; `--json` prints
 * either as JSON. Ctrl-C stops the trainer processes (the runs stay resumable); failed runs set
 * the exit code. Shared by `icl-lab experiment` and `icl-lab demo`.
 */
export async function runAndPrint(target: string | ExperimentDefinition, o: ExperimentCliOptions): Promise<void> {
  const { runExperiment, planTable, ExperimentError } = await import("../experiments/runner.ts");
  const corpus = o.corpus.map(parseCorpus);
  const domains =
    o.domains === undefined
      ? undefined
      : o.domains
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
  let stopRequested: (() => void) | null = null;
  const stop = new Promise<void>((resolve) => (stopRequested = resolve));
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write("\nicl-lab: stopping the trainer processes; run the same command again to resume where it stopped (Ctrl-C again to quit now)\n");
    stopRequested?.();
  };
  process.on("SIGINT", onSigint);
  let result;
  try {
    result = await runExperiment(target, {
      lab: o.lab,
      seeds: o.seeds,
      tokens: o.tokens,
      minutes: o.minutes,
      corpus,
      domains,
      dryRun: o.dryRun,
      jobs: o.jobs,
      scale: o.smoke ? "smoke" : "default",
      stop,
      report: { png: o.png },
    });
  } catch (e) {
    if (e instanceof ExperimentError) throw new UserError(e.message);
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
  }
  const def = result.definition;
  const runs = result.runs.map((r) => ({ name: r.name, runId: r.runId, params: r.params, state: r.state, resumeAt: r.resumeAt, config: r.resolved }));
  if (o.dryRun) {
    if (o.json) {
      console.log(
        JSON.stringify(
          { experiment: def.name, options: result.options, lab: result.lab, runs, notes: result.notes, description: def.description, expected: def.expected },
          null,
          2,
        ),
      );
      return;
    }
    console.log(`experiment ${def.name}: ${def.title}\n`);
    console.log(planTable(result));
    for (const n of result.notes) console.log(`note: ${n}`);
    console.log(`\n${def.description}\n\nexpected: ${def.expected}`);
    return;
  }
  const failed = result.outcomes.filter((x) => x.status === "failed");
  const stopped = result.outcomes.filter((x) => x.status === "stopped");
  printExperimentEnd({
    json: o.json,
    payload: {
      experiment: def.name,
      options: result.options,
      lab: result.lab,
      seconds: result.seconds,
      runs,
      outcomes: result.outcomes,
      summary: result.summary ? { header: result.summary.header, rows: result.summary.rows } : null,
      report: result.report?.html ?? null,
      notes: result.notes,
      expected: def.expected,
    },
    summaryText: result.summaryText,
    seconds: result.seconds,
    report: result.report?.html,
  });
  if (stopped.length > 0) process.stderr.write(`icl-lab: ${stopped.length} run(s) stopped before the end; run the same command again to resume them\n`);
  if (failed.length > 0) {
    process.stderr.write(`icl-lab: ${failed.length} run(s) failed: ${failed.map((f) => `${f.name}: ${f.error ?? "unknown error"}`).join("; ")}\n`);
    process.exitCode = 1;
  }
}
