/**
 * What the corpus experiments (Shin et al. 2022) share: the domains they compare, which of them
 * this machine can build (the Debian ones need apt), equal unique-token budgets, and the run
 * config: the calibrated 2-layer attention-only model on natural text only (no `repeats`
 * ingredient: the question is what the corpus itself gives), measured on its own held-out text,
 * on a common evaluation set of every domain of the experiment (`icl@common`, see data.ts), by
 * loss by position (perplexity) and few-shot tasks.
 */
import type { TrainConfigInput } from "../train/config.ts";
import { baseConfig, runName, SCALES, seedList } from "./common.ts";
import { NATURAL } from "./natural.ts";
import type { ExperimentDefinition, PlanContext, ResolvedOptions } from "./types.ts";
import { ICL_COMMON } from "../measure/names.ts";

/** Domains shipped in npm packages (always available). */
export const NPM_DOMAINS = ["brown", "legal", "email", "zh_poetry"] as const;
/** Domains from Debian packages, used where apt can fetch them. */
export const DEBIAN_DOMAINS = ["bible_kjv", "man_en", "code_go", "fortunes_en"] as const;

/**
 * Evaluation windows of the corpus experiments (own text; the common set has as many). The
 * comparisons are between runs, at the end of training, of scores that differ by tenths of a nat:
 * 400 windows gave intervals of ±0.2 nats on natural text, 1,000 give about ±0.12.
 */
export const CORPUS_EVAL_WINDOWS = 1000;

/**
 * The ids that can be built here, and the others with the reason (a note for the plan).
 * The Debian sources' availability is checked without downloading anything.
 */
export async function selectAvailable(ids: readonly string[], ctx: PlanContext): Promise<{ ok: string[]; notes: string[] }> {
  const ok: string[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    const a = await ctx.available(id);
    if (a.ok) ok.push(id);
    else missing.push(`${id} (${a.reason ?? "not available"})`);
  }
  return { ok, notes: missing.length > 0 ? [`left out, not available on this machine: ${missing.join("; ")}`] : [] };
}

/**
 * Unique training tokens per run, at most, where the comparison is between domains: 5M bytes,
 * about what brown and email hold (legal, when compared, lowers it to its ~3.6M for every run).
 * With 2M, 30M training tokens were 15 epochs and code's held-out ICL score swung between seeds
 * (+0.62 and −0.20).
 */
export const DOMAIN_UNIQUE = { default: 5_000_000, smoke: 200_000 } as const;

/**
 * The same budget for every run: DOMAIN_UNIQUE, or less when a domain has fewer training tokens
 * (then every run gets that many).
 */
export async function equalBudget(domains: readonly string[], opts: ResolvedOptions, ctx: PlanContext): Promise<{ budget: number; notes: string[] }> {
  let budget: number = DOMAIN_UNIQUE[opts.scale];
  let smallest: string | null = null;
  for (const id of domains) {
    const t = await ctx.trainingTokens(id, { kind: "byte" });
    if (t < budget) {
      budget = t;
      smallest = id;
    }
  }
  return {
    budget,
    notes: smallest !== null ? [`unique-token budget lowered to ${budget.toLocaleString("en-US")} for every run: ${smallest} has no more training tokens`] : [],
  };
}

/** Equal weights over the sources. */
export function equalMixture(ids: readonly string[]): Record<string, number> {
  return Object.fromEntries(ids.map((id) => [id, 1 / ids.length]));
}

/**
 * Learning rate of the corpus experiments: `natural`'s. On natural text alone the demo's choice
 * (1e-3, the faster to form induction heads on its mixture) does not apply; 2e-3 reaches a lower
 * loss in the same tokens (docs/demo-calibration.md).
 */
export const CORPUS_LR = 2e-3;

/**
 * The natural-text scale every corpus experiment runs at (issue 14; `natural`'s setting): 40M
 * training tokens, the learning rate decayed with a cosine to a tenth (at a constant rate the final
 * ICL score swings by tenths of a nat between checkpoints), 6 checkpoints per decade from 250k
 * tokens (the first induction head timed to a factor 10^(1/6) ≈ 1.5; nothing forms before 250k).
 * At this scale code forms induction heads within 17–40M tokens and prose none.
 */
export const CORPUS_SCALE = { tokens: 40_000_000, perDecade: 6, first: 250_000, schedule: "cosine" } as const;

/** A corpus experiment's defaults at the natural-text scale, and where its heads form (for `--minutes`' note). */
export function corpusDefaults(seeds: number): Pick<ExperimentDefinition, "defaults" | "headsFrom"> {
  return { defaults: { seeds, tokens: CORPUS_SCALE.tokens }, headsFrom: CORPUS_HEADS_FROM };
}

/** Where a budget is too small for heads (`--minutes`' note): natural's first head on code_go, the fastest domain. */
export const CORPUS_HEADS_FROM = {
  tokens: NATURAL.headsFrom,
  what: "the 2-layer model formed its first induction head (≥ 0.3) on code_go, the fastest domain (docs/demo-calibration.md)",
};

/** A corpus experiment's run: the 2-layer attention-only model on natural text only. */
export function corpusRun(args: {
  experiment: string;
  name: string;
  seed: number;
  sources: Record<string, number>;
  uniqueTokens: number;
  tokens: number;
  opts: ResolvedOptions;
  /** Sources of the common evaluation set (none: no `icl@common`). */
  common?: readonly string[];
}): TrainConfigInput {
  const s = SCALES[args.opts.scale];
  const measures = ["icl", ...(args.common ? [ICL_COMMON] : []), "positionLoss", "heads", "tasks"];
  const c = baseConfig({
    experiment: args.experiment,
    name: args.name,
    seed: args.seed,
    scale: args.opts.scale,
    model: { ...s.model, nLayers: 2 },
    sources: args.sources,
    uniqueTokens: args.uniqueTokens,
    tokens: args.tokens,
    measures,
    measureOptions: args.common ? { [ICL_COMMON]: { sources: [...args.common] } } : undefined,
    perDecade: args.opts.scale === "default" ? CORPUS_SCALE.perDecade : undefined,
  });
  if (args.opts.scale === "default") {
    c.data = { ...c.data!, evalWindows: CORPUS_EVAL_WINDOWS };
    c.optim = { ...c.optim!, lr: CORPUS_LR, schedule: CORPUS_SCALE.schedule };
    c.checkpoints = { ...c.checkpoints!, first: Math.min(CORPUS_SCALE.first, args.tokens) };
  }
  return c;
}

/** One corpusRun per seed of the options, named `<experiment>-<parts>` (runName: `-s<seed>` for seeds other than 0). */
export function corpusRuns(args: Omit<Parameters<typeof corpusRun>[0], "name" | "seed"> & { parts: readonly string[] }): TrainConfigInput[] {
  const { parts, ...run } = args;
  return seedList(args.opts).map((seed) => corpusRun({ ...run, name: runName(args.experiment, parts, seed), seed }));
}

/** Domains given by the user (--domains, then --corpus), without repeats, in order. */
export function userDomains(opts: ResolvedOptions): string[] | null {
  if (opts.domains === null && opts.corpus.length === 0) return null;
  return [...new Set([...(opts.domains ?? []), ...opts.corpus])];
}
