/**
 * `icl-lab experiment data-distribution [--seeds N] [--steps N] [--jobs N] [--smoke] [--dry-run]
 * [--no-png] [--json]`: the in-context classification experiment (src/experiments/
 * data-distribution.ts). It trains vector-input classifiers, not language models on tokens, so it
 * has its own runner; `icl-lab experiment` hands the name over to this file.
 */
import { type InProcessExperimentCliOptions, printInProcessExperimentEnd } from "./in-process-experiment.ts";
import { UserError } from "./errors.ts";

export interface DataDistributionCliOptions extends InProcessExperimentCliOptions {
  jobs?: number;
}

export async function runDataDistributionCli(o: DataDistributionCliOptions): Promise<void> {
  if (o.tokens !== undefined) throw new UserError("--tokens does not apply to data-distribution (its runs count steps of 32 sequences); use --steps");
  if (o.corpus.length > 0 || o.domains !== undefined) throw new UserError("--corpus and --domains do not apply to data-distribution (its data are synthetic)");
  const { runDataDistribution, planDataDistribution, planText, NAME, TITLE } = await import("../experiments/data-distribution.ts");
  const opts = { lab: o.lab, seeds: o.seeds, steps: o.steps, smoke: o.smoke, jobs: o.jobs, png: o.png };
  if (o.dryRun) {
    let plan;
    try {
      plan = planDataDistribution(opts);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    if (o.json) console.log(JSON.stringify({ experiment: NAME, lab: plan.lab, scale: plan.scale, runs: plan.runs }, null, 2));
    else console.log(`experiment ${NAME}: ${TITLE}\n\n${planText(plan)}`);
    return;
  }
  let stopRequested: (() => void) | null = null;
  const stop = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSigint = () => {
    process.stderr.write("\nicl-lab: finishing the runs in progress; run the same command again to train the rest\n");
    stopRequested?.();
  };
  process.on("SIGINT", onSigint);
  let result;
  try {
    result = await runDataDistribution({ ...opts, stop });
  } finally {
    process.off("SIGINT", onSigint);
  }
  const { rows, targets, outcomes } = result;
  printInProcessExperimentEnd(NAME, o.json, result, { rows, targets, outcomes });
  const failed = outcomes.filter((x) => x.status === "failed");
  if (failed.length > 0) {
    process.stderr.write(`icl-lab: ${failed.length} run(s) failed: ${failed.map((f) => `${f.runId}: ${f.error ?? "unknown error"}`).join("; ")}\n`);
    process.exitCode = 1;
  }
}
