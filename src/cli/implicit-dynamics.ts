/**
 * `icl-lab experiment implicit-dynamics [--steps N] [--token-run ID] [--token-lab DIR] [--no-token] [--smoke]
 * [--no-png] [--json]`: the implicit-update dynamics experiment (src/experiments/
 * implicit-dynamics.ts). It trains vector-input regression models in this process, not language
 * models on tokens, so it has its own runner; `icl-lab experiment` hands the name over to this file.
 */
import { type InProcessExperimentCliOptions, printInProcessExperimentEnd } from "./in-process-experiment.ts";
import { UserError } from "./errors.ts";

/** The options of `icl-lab experiment` this runner reads (a structural subset of experiment.ts's). */
export interface ImplicitDynamicsCliOptions extends InProcessExperimentCliOptions {
  tokenRun?: string;
  tokenLab?: string;
  /** false with --no-token. */
  token?: boolean;
}

export async function runImplicitDynamicsCli(o: ImplicitDynamicsCliOptions): Promise<void> {
  if (o.tokens !== undefined) throw new UserError("--tokens does not apply to implicit-dynamics (its regression runs count steps); use --steps");
  if (o.corpus.length > 0 || o.domains !== undefined)
    throw new UserError("--corpus and --domains do not apply to implicit-dynamics (its regression data are synthetic)");
  if (o.seeds !== undefined && o.seeds !== 1) throw new UserError("implicit-dynamics runs one seed (its measurement averages over held-out sequences)");
  if (o.token === false && o.tokenRun !== undefined) throw new UserError("--token-run and --no-token exclude each other");
  const { runImplicitDynamics, NAME, TITLE, ID_SCALES } = await import("../experiments/implicit-dynamics.ts");
  if (o.dryRun) {
    const scale = { ...ID_SCALES[o.smoke ? "smoke" : "default"], ...(o.steps !== undefined ? { steps: o.steps } : {}) };
    if (o.json) console.log(JSON.stringify({ experiment: NAME, scale }, null, 2));
    else
      console.log(`experiment ${NAME}: ${TITLE}\n\n${JSON.stringify(scale)}\nmodels: transformer (1 block), lstm, rnn; then the token run's implicit update`);
    return;
  }
  let result;
  try {
    result = await runImplicitDynamics({
      lab: o.lab,
      smoke: o.smoke,
      steps: o.steps,
      png: o.png,
      tokenRun: o.token === false ? null : o.tokenRun,
      tokenLab: o.tokenLab,
    });
  } catch (e) {
    const m = (e as Error).message;
    if (m.startsWith("implicit-dynamics:")) throw new UserError(m);
    throw e;
  }
  const { scale, models, token, tokenNote } = result;
  printInProcessExperimentEnd(NAME, o.json, result, { scale, models, token, tokenNote });
}
