/**
 * `icl-lab demo`: the main job. Trains attention-only transformers with 1, 2 and 3 layers on the
 * same data, measures the ICL score (on the demo mixture and on its natural text alone) and every
 * head's scores at log-spaced checkpoints, detects the phase change, prints a table and writes a
 * report. The configuration and how it was found are in docs/demo-calibration.md.
 *
 * Data: the embedded npm sources (brown, legal, email) at the byte level, plus the labelled
 * synthetic ingredient `repeats` (repeated random spans, src/data/sources/repeats.ts). With
 * `--corpus name=PATH` the user's text replaces the npm sources (the ingredient stays, labelled).
 *
 * The demo is an experiment like the others (runner.ts): its runs train on the local process pool
 * (one run per core; the longest first, so 3 runs on 2 cores end together), an interrupted demo
 * resumes where it stopped, and a finished one only re-renders its report.
 */
import { DEMO, DEMO_MEASURED, DEMO_MIXTURE_TEXT, demoMixtureRuns, LAB_MODEL_TEXT, runName, tokensText } from "./common.ts";
import type { ExperimentDefinition } from "./types.ts";
import { ICL_NATURAL } from "../measure/names.ts";

export { DEMO } from "./common.ts";

export const DEMO_LAYERS = [1, 2, 3];

/** The demo as an experiment definition, for the given layer counts (default 1, 2, 3). */
export function demoExperiment(layers: readonly number[] = DEMO_LAYERS): ExperimentDefinition {
  for (const l of layers) if (!Number.isInteger(l) || l < 1 || l > 12) throw new Error(`demo: layer counts must be integers 1-12, found ${l}`);
  return {
    name: "demo",
    title: "the induction-head phase change in minutes: attention-only models with 1, 2 and 3 layers",
    description:
      `Attention-only transformers with ${layers.join(", ")} layer(s) (${LAB_MODEL_TEXT}) trained on ${DEMO_MIXTURE_TEXT}, ` +
      `${tokensText(DEMO.tokens)} tokens each (batch ${DEMO.batch} × ${DEMO.model.nCtx}, AdamW lr ${DEMO.lr}); at ${DEMO.perDecade} log-spaced ` +
      `checkpoints per decade the ICL score on ${DEMO.evalWindows.toLocaleString("en-US")} held-out windows of the mixture and of its natural text ` +
      "alone, and every head's scores. 3 runs: about 7 minutes on 2 idle cores, data preparation included (the 3-layer model on one core, " +
      "the 2- and then the 1-layer model on the other; measured: docs/demo-calibration.md).",
    corpusHelp: "your corpus replaces brown + legal + email as the natural text (the `repeats` ingredient stays, labelled)",
    expected:
      "Olsson et al. (2022): 2- and 3-layer attention-only models show an abrupt drop of the ICL score while induction heads form; " +
      "1-layer models do not. Expected here: for 2 and 3 layers a phase change within the budget, an ICL score on the mixture of about " +
      "−1 nat or lower at the end, a previous-token head in layer 0 and an induction head (score ≥ 0.5) after it; for 1 layer no abrupt " +
      "change, every head's induction score ≤ 0.1 and an ICL score well above the deeper models' (it only learns which characters a span uses). " +
      DEMO_MEASURED,
    defaults: { seeds: 1, tokens: DEMO.tokens },
    async configs(opts) {
      const configs = demoMixtureRuns(opts, {
        // With --corpus the runs are named after it, beside the default demo's in the same lab.
        experiment: "demo",
        layers,
        name: (nLayers, seed) => runName("demo", [...opts.corpus, `attn-${nLayers}l`], seed),
        measures: ["icl", ICL_NATURAL, "heads"],
      });
      return { configs, notes: [] };
    },
    summary: ["icl", "window", "induction", "loss50", "loss500", ICL_NATURAL],
  };
}
