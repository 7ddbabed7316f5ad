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
import type { PlanContext, ResolvedOptions } from "./types.ts";
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

/** Unique training tokens of every run of a corpus experiment, at most (bytes: ~2 MB of text). */
export const CORPUS_BUDGET = { default: 2_000_000, smoke: 200_000 } as const;

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
 * The same budget for every run: `cap` (CORPUS_BUDGET unless the experiment names its own), or
 * less when a domain has fewer training tokens (then every run gets that many).
 */
export async function equalBudget(
  domains: readonly string[],
  opts: ResolvedOptions,
  ctx: PlanContext,
  cap: { readonly default: number; readonly smoke: number } = CORPUS_BUDGET,
): Promise<{ budget: number; notes: string[] }> {
  let budget: number = cap[opts.scale];
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
 * Learning rate of the corpus experiments: natural text only, where no induction head forms within
 * their budgets, so the demo's choice (1e-3, the faster to form induction heads on its mixture)
 * does not apply; 2e-3 reaches a lower loss in the same tokens, and it is the setting their
 * measured outcomes (docs/experiments.md) were made with.
 */
export const CORPUS_LR = 2e-3;

/** The first measured checkpoint of a corpus run timed for its first induction head (nothing forms before). */
export const CORPUS_FIRST_CHECKPOINT = 250_000;

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
  /**
   * Measurement checkpoints per decade at the default scale (default 3: the comparison is about the
   * end of training); corpus-source takes more to time the first induction head.
   */
  perDecade?: number;
  /** The first measured checkpoint at the default scale (default: the scale's). */
  first?: number;
  /** The learning-rate schedule at the default scale (default constant; corpus-source decays as `natural` does). */
  schedule?: "constant" | "cosine";
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
    perDecade: args.opts.scale === "default" ? (args.perDecade ?? 3) : undefined,
  });
  if (args.opts.scale === "default") {
    c.data = { ...c.data!, evalWindows: CORPUS_EVAL_WINDOWS };
    c.optim = { ...c.optim!, lr: CORPUS_LR, ...(args.schedule !== undefined ? { schedule: args.schedule } : {}) };
    if (args.first !== undefined) c.checkpoints = { ...c.checkpoints!, first: Math.min(args.first, args.tokens) };
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
