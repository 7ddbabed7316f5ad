/**
 * `corpus-diversity`: mixtures of two and three domains beside their single-domain models, all
 * with the same training tokens and the same number of unique tokens (Shin et al. 2022,
 * "diversity").
 */
import { COMMON } from "./data.ts";
import { corpusDefaults, corpusRuns, equalBudget, equalMixture, selectAvailable, userDomains } from "./corpus-common.ts";
import { LAB_MODEL_TEXT } from "./common.ts";
import type { ExperimentDefinition, ResolvedOptions } from "./types.ts";
import { ICL_COMMON } from "../measure/names.ts";

const NAME = "corpus-diversity";

/** The default groups: every combination within a group is trained (singles, pairs, the whole group). */
export const DIVERSITY_GROUPS: ReadonlyArray<{ ids: readonly string[]; debian: boolean }> = [
  { ids: ["brown", "legal", "email"], debian: false },
  { ids: ["man_en", "code_go"], debian: true },
];

/** Singles, every pair, and the whole group when it has three or more domains. */
export function groupMixtures(ids: readonly string[]): string[][] {
  const out: string[][] = ids.map((id) => [id]);
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) out.push([ids[i], ids[j]]);
  if (ids.length >= 3) out.push([...ids]);
  return out;
}

async function groups(opts: ResolvedOptions, ctx: Parameters<ExperimentDefinition["configs"]>[1]): Promise<{ groups: string[][]; notes: string[] }> {
  const given = userDomains(opts);
  if (given !== null) {
    // --domains replaces the default groups; --corpus alone joins the npm group.
    const ids = opts.domains !== null ? given : [...DIVERSITY_GROUPS[0].ids, ...opts.corpus];
    return { groups: [ids], notes: [] };
  }
  const out: string[][] = [];
  const notes: string[] = [];
  for (const g of DIVERSITY_GROUPS) {
    if (!g.debian) {
      out.push([...g.ids]);
      continue;
    }
    const a = await selectAvailable(g.ids, ctx);
    if (a.ok.length === g.ids.length) out.push([...g.ids]);
    else notes.push(`group ${g.ids.join(" + ")} left out: ${a.notes.join("; ")}`);
  }
  return { groups: out, notes };
}

export const corpusDiversity: ExperimentDefinition = {
  name: NAME,
  title: "mixtures of two and three domains beside their single-domain models (Shin et al. 2022: diversity)",
  description:
    `The 2-layer attention-only model (${LAB_MODEL_TEXT}, lr 2e-3 with cosine decay, as natural) on brown` +
    ", legal and email alone, on each pair and on all three; and, where apt " +
    "can fetch them, on man_en (Unix manuals) and code_go (Go source) alone and together — 2 seeds, every run 40M training tokens over " +
    "the same unique tokens split equally among its domains (5M, lowered to legal's ~3.6M when legal is compared); 6 checkpoints per " +
    "decade from 250k tokens (the first induction head timed to a factor 1.5); measured on 1,000 windows of its own mixture's held-out " +
    "text and of a common evaluation set of every domain of the experiment, by loss by position (perplexity), head scores and few-shot " +
    "tasks. 20 runs (14 without apt), 800M tokens: about 80–100 minutes on 2 idle cores (corpus-source's measured 40M-token runs: 7–9 " +
    "minutes each on one core).",
  corpusHelp: "your corpora join brown, legal and email: each alone, paired with each of them, and all together",
  domainsHelp: "the domains to combine (source ids, comma-separated): each alone, every pair, and all of them together",
  expected:
    "Shin et al. (2022): some corpora give no few-shot ICL alone but do in combination (KiN + Ency); not every combination helps (Cafe + " +
    "News). Expected here (not yet measured at this scale; docs/experiments.md has the earlier setting's numbers): code forms induction heads " +
    "alone (corpus-source), and a mixture that dilutes it with prose should form them later or not at all; read differences with the intervals.",
  ...corpusDefaults(2),
  async configs(opts, ctx) {
    const { groups: gs, notes } = await groups(opts, ctx);
    const all = [...new Set(gs.flat())];
    const { budget, notes: budgetNotes } = await equalBudget(all, opts, ctx);
    notes.push(...budgetNotes);
    const configs = gs
      .flatMap((g) => groupMixtures(g))
      .flatMap((mix) => corpusRuns({ experiment: NAME, parts: mix, sources: equalMixture(mix), uniqueTokens: budget, tokens: opts.tokens, opts, common: all }));
    notes.push(`common evaluation set (icl@${COMMON}): equal shares of the held-out windows of ${all.join(", ")}`);
    return { configs, notes };
  },
  summary: ["unique", "firstHead", "window", "induction", "icl", ICL_COMMON, "loss50", "loss500", "perplexity", "tasks"],
};
