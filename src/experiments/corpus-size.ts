/**
 * `corpus-size`: the same corpus at 1/64, 1/16, ¼, ½ and all of its training tokens as the
 * unique-token budget, at a fixed number of training tokens (smaller budgets repeat more epochs)
 * (Shin et al. 2022, "size"). Smaller budgets are subsets of larger ones (src/data/mixture.ts
 * budgetPool). Why the range reaches down to 1/64: a 100k-parameter model trained on 8M tokens
 * shows no difference between ⅛ and all of brown (measured: held-out perplexity 8.80 and 8.73);
 * the effect of data size appears only once the data is repeated tens of times.
 */
import { corpusDefaults, corpusRuns, selectAvailable } from "./corpus-common.ts";
import { LAB_MODEL_TEXT } from "./common.ts";
import type { ExperimentDefinition } from "./types.ts";

const NAME = "corpus-size";

/** Budgets as fractions of the corpus's training tokens, with their run-name parts. */
export const SIZE_FRACTIONS: ReadonlyArray<{ fraction: number; part: string }> = [
  { fraction: 1 / 64, part: "1of64" },
  { fraction: 1 / 16, part: "1of16" },
  { fraction: 1 / 4, part: "1of4" },
  { fraction: 1 / 2, part: "1of2" },
  { fraction: 1, part: "all" },
];

export const corpusSize: ExperimentDefinition = {
  name: NAME,
  title: "unique-token budgets of 1/64, 1/16, ¼, ½ and all of a corpus at fixed training tokens (Shin et al. 2022: size)",
  description:
    `The 2-layer attention-only model (${LAB_MODEL_TEXT}, lr 2e-3 with cosine decay, as natural) on code_go (Go source from Debian, ` +
    "about 58M training tokens; brown, 5.4M, where apt cannot fetch it), with 1/64, 1/16, ¼, ½ and all of them as its unique tokens, " +
    "2 seeds, each run 40M training tokens (so from ~44 epochs down to under one on code_go); 6 checkpoints per decade from 250k tokens; " +
    "measured on 1,000 windows of the corpus's held-out text (the same windows for every budget), by loss by position (perplexity), " +
    "head scores (and the tokens to the first induction head) and few-shot tasks. 10 runs, 400M tokens: about 40–50 minutes on 2 idle cores.",
  corpusHelp: "the corpus whose size varies (one --corpus; default brown)",
  domainsHelp: "the corpus whose size varies (one source id; default brown)",
  expected:
    "Shin et al. (2022): more pretraining data helps in-context learning up to a point (6B → 56B tokens: a large gain; 56B → 150B: " +
    "little). Expected here: held-out perplexity falls with the budget while the data repeats many times and flattens after; whether and when " +
    "code forms its induction head at each budget, with the ICL score, is the new measurement (docs/experiments.md, corpus-size).",
  ...corpusDefaults(2),
  async configs(opts, ctx) {
    const given = [...new Set([...(opts.domains ?? []), ...opts.corpus])];
    if (given.length > 1) throw new Error(`corpus-size varies the size of one corpus; ${given.length} were given (${given.join(", ")})`);
    const notes: string[] = [];
    let corpus = given[0];
    if (corpus === undefined) {
      // Code, where induction heads form at this scale (so the budget can change when they do); prose otherwise.
      const code = await selectAvailable(["code_go"], ctx);
      corpus = code.ok.length > 0 ? "code_go" : "brown";
      if (code.ok.length === 0) notes.push(...code.notes, "brown instead: edited prose forms no induction head at this scale");
    }
    const total = await ctx.trainingTokens(corpus, { kind: "byte" });
    const configs = SIZE_FRACTIONS.flatMap(({ fraction, part }) =>
      corpusRuns({
        experiment: NAME,
        parts: [corpus, part],
        sources: { [corpus]: 1 },
        uniqueTokens: Math.max(1, Math.floor(total * fraction)),
        tokens: opts.tokens,
        opts,
      }),
    );
    notes.push(`${corpus}: ${total.toLocaleString("en-US")} training tokens (bytes) after the held-out split`);
    return { configs, notes };
  },
  summary: ["unique", "epochs", "firstHead", "window", "induction", "icl", "loss50", "loss500", "perplexity", "tasks"],
};
