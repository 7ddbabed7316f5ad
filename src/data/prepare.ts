/**
 * The data pipeline in one call, for trainers: `prepareData(options)` builds (or loads from the
 * cache) the tokenizer, each source's token store, the held-out split, the training sampler and
 * the fixed evaluation windows. With no options it gives the embedded default: the default suite
 * (npm sources) in equal weights, the default BPE tokenizer (4096), nCtx 512, 2,000 evaluation
 * windows per source, the "packed" evaluation policy, seed 0.
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { apportion, budgetPool, MixtureSampler, normalizeWeights, type MixtureSpec } from "./mixture.ts";
import { dataPaths } from "./paths.ts";
import { DEFAULT_SUITE } from "./sources/registry.ts";
import { segmentTokens, splitDocuments, HELD_OUT_FRACTION, type Segment, type Split } from "./split.ts";
import type { BuildOptions } from "./text-store.ts";
import { buildTokenStore, type SourceTokenStats, type TokenStore } from "./token-store.ts";
import { DEFAULT_TOKENIZER, getBpeTokenizer, getTokenizer, type Tokenizer, type TokenizerSpec } from "./tokenizer.ts";
import { concatWindows, sourceEvalWindows, takeWindows, type EvalPolicy, type EvalWindows } from "./windows.ts";
import { hashValue } from "./util.ts";

/** Options of prepareData (all optional). */
export interface PrepareDataOptions extends BuildOptions {
  /** A tokenizer or its spec (default: BPE 4096 on the default suite). */
  tokenizer?: Tokenizer | TokenizerSpec;
  /** Sources, weights and unique-token budget (default: the default suite, equal weights, no budget). */
  mixture?: MixtureSpec;
  /** Context length; windows have nCtx + 1 tokens (default 512). */
  nCtx?: number;
  /** Evaluation windows per source (default 2000). */
  evalWindows?: number;
  /** Evaluation policy (default "packed"). */
  evalPolicy?: EvalPolicy;
  /** Seed of the training order and of the budget subset (default 0). */
  seed?: number;
  /**
   * Seed of the evaluation windows (default 0). Separate from `seed` on purpose: models trained
   * with different seeds are measured on the same windows.
   */
  evalSeed?: number;
}

/** Per-source statistics of prepared data. */
export interface SourceDataStats extends SourceTokenStats {
  id: string;
  domain: string;
  language: string;
  /** Normalised mixture weight. */
  weight: number;
  split: Split["kind"];
  trainDocs: number;
  trainTokens: number;
  heldOutDocs: number;
  heldOutTokens: number;
  /** Unique training tokens this source contributes (its budget, or all its training tokens). */
  poolTokens: number;
  /** Training windows per epoch of this source's pool. */
  windowsPerEpoch: number;
  eval: { policy: EvalPolicy; windows: number; distinct: number; excludedDocs: number };
}

/** Statistics of prepared data. */
export interface DataStats {
  tokenizer: { id: string; vocabSize: number };
  nCtx: number;
  seed: number;
  evalSeed: number;
  heldOutFraction: number;
  /** Unique training tokens over all sources. */
  uniqueTokens: number;
  sources: SourceDataStats[];
}

/** What trainers get. */
export interface PreparedData {
  tokenizer: Tokenizer;
  /** Path of the tokenizer's tokenizer.json (to copy into a run folder). */
  tokenizerPath: string;
  nCtx: number;
  /** The mixture, normalised. */
  mixture: Array<{ id: string; weight: number }>;
  /** Training batches [batchSize, nCtx + 1]; `state()` / `restore()` to resume. */
  train: MixtureSampler;
  /**
   * Held-out evaluation windows [n, nCtx + 1]: of one source (its N windows), or of the mixture
   * (N windows split by weight, each source's part a prefix of its own set).
   */
  evalWindows(sourceId?: string): EvalWindows;
  /** Token frequencies over the training pools (length vocabSize). */
  tokenCounts(): Float64Array;
  stats: DataStats;
  /** Hash of everything the data depends on (for run records). */
  fingerprint: string;
}

function isTokenizer(t: Tokenizer | TokenizerSpec): t is Tokenizer {
  return typeof (t as Tokenizer).encode === "function";
}

/** The options with every default filled in (what `prepareData()` with no options means). */
export interface ResolvedPrepareOptions {
  tokenizer: Tokenizer | TokenizerSpec;
  mixture: Array<{ id: string; weight: number }>;
  uniqueTokens: number | undefined;
  nCtx: number;
  evalWindows: number;
  evalPolicy: EvalPolicy;
  seed: number;
  evalSeed: number;
}

/** Validates options and fills in the defaults; errors name the option. */
export function resolvePrepareOptions(options: PrepareDataOptions = {}): ResolvedPrepareOptions {
  const nCtx = options.nCtx ?? 512;
  const nEval = options.evalWindows ?? 2000;
  const policy = options.evalPolicy ?? "packed";
  const seed = options.seed ?? 0;
  const evalSeed = options.evalSeed ?? 0;
  if (!Number.isInteger(nCtx) || nCtx < 1) throw new Error(`prepareData: nCtx must be a positive integer, found ${options.nCtx}`);
  if (!Number.isInteger(nEval) || nEval < 1) throw new Error(`prepareData: evalWindows must be a positive integer, found ${options.evalWindows}`);
  if (policy !== "document" && policy !== "packed") {
    throw new Error(`prepareData: evalPolicy must be "document" or "packed", found ${JSON.stringify(options.evalPolicy)}`);
  }
  if (!Number.isInteger(seed) || !Number.isInteger(evalSeed)) throw new Error("prepareData: seed and evalSeed must be integers");
  const budget = options.mixture?.uniqueTokens;
  if (budget !== undefined && (!Number.isInteger(budget) || budget < 1)) {
    throw new Error(`prepareData: mixture.uniqueTokens must be a positive integer, found ${budget}`);
  }
  return {
    tokenizer: options.tokenizer ?? DEFAULT_TOKENIZER,
    mixture: normalizeWeights(options.mixture?.sources ?? DEFAULT_SUITE),
    uniqueTokens: budget,
    nCtx,
    evalWindows: nEval,
    evalPolicy: policy,
    seed,
    evalSeed,
  };
}

/** Builds or loads everything a training run needs (see the module comment for defaults). */
export async function prepareData(options: PrepareDataOptions = {}): Promise<PreparedData> {
  const r = resolvePrepareOptions(options);
  const { nCtx, seed, evalSeed, mixture } = r;
  const nEval = r.evalWindows;
  const policy = r.evalPolicy;
  const budget = r.uniqueTokens;
  const { tokenizer, tokenizerPath } = await tokenizerOf(r.tokenizer, options);

  // Token stores and splits.
  const stores: TokenStore[] = [];
  const splits: Split[] = [];
  for (const { id } of mixture) {
    const store = await buildTokenStore(id, tokenizer, options);
    stores.push(store);
    splits.push(splitDocuments(store.manifest.docOffsets, store.manifest.docHashes));
  }

  // Budgeted pools and the sampler.
  const pools = budgetedPools(mixture, splits, budget, seed);
  const sampler = new MixtureSampler(
    mixture.map(({ id, weight }, i) => ({ id, weight, tokens: stores[i].tokens, segments: pools[i] })),
    { nCtx, seed, eodId: tokenizer.eodId, identity: { tokenizer: tokenizer.id, stores: stores.map((s) => s.manifest.tokensSha256), budget: budget ?? null } },
  );

  // Evaluation windows, per source, eagerly (so a source too small fails here, not mid-run).
  const perSource = new Map<string, EvalWindows>();
  mixture.forEach(({ id }, i) => {
    perSource.set(id, sourceEvalWindows(stores[i].tokens, splits[i].heldOut, { sourceId: id, nCtx, n: nEval, policy, evalSeed, eodId: tokenizer.eodId }));
  });
  const shares = apportion(
    nEval,
    mixture.map((m) => m.weight),
  );
  let mixed: EvalWindows | null = null;

  return {
    tokenizer,
    tokenizerPath,
    nCtx,
    mixture,
    train: sampler,
    evalWindows(sourceId?: string): EvalWindows {
      if (sourceId !== undefined) {
        const w = perSource.get(sourceId);
        if (w === undefined) {
          throw new Error(`evalWindows: source '${sourceId}' is not in this mixture (${mixture.map((m) => m.id).join(", ")})`);
        }
        return w;
      }
      mixed ??= concatWindows(
        mixture.map(({ id }, i) => takeWindows(perSource.get(id)!, shares[i])),
        policy,
      );
      return mixed;
    },
    tokenCounts(): Float64Array {
      const counts = new Float64Array(tokenizer.vocabSize);
      mixture.forEach((_, i) => {
        const t = stores[i].tokens;
        for (const g of pools[i]) for (let k = g.start; k < g.end; k++) counts[t[k]]++;
        counts[tokenizer.eodId] += pools[i].length;
      });
      return counts;
    },
    stats: dataStats(r, { tokenizer, stores, splits, sampler, perSource }),
    fingerprint: hashValue({ sampler: sampler.fingerprint, nEval, policy, evalSeed }).slice(0, 24),
  };
}

/** The tokenizer (trained and cached on first use) and the path of its tokenizer.json (saved if missing). */
async function tokenizerOf(spec: Tokenizer | TokenizerSpec, options: PrepareDataOptions): Promise<{ tokenizer: Tokenizer; tokenizerPath: string }> {
  let tokenizer: Tokenizer;
  let tokenizerPath: string;
  const paths = dataPaths(options.lab);
  if (isTokenizer(spec)) {
    tokenizer = spec;
    tokenizerPath = join(paths.tokenizers, tokenizer.id, "tokenizer.json");
  } else if (spec.kind === "bpe") {
    const r = await getBpeTokenizer(spec, options);
    tokenizer = r.tokenizer;
    tokenizerPath = join(r.dir, "tokenizer.json");
  } else {
    tokenizer = await getTokenizer(spec, options);
    tokenizerPath = spec.kind === "file" ? spec.path : join(paths.tokenizers, tokenizer.id, "tokenizer.json");
  }
  if (!existsSync(tokenizerPath)) tokenizer.save(tokenizerPath);
  return { tokenizer, tokenizerPath };
}

/** Each source's training pool: all its training segments, or the share of `budget` (unique tokens) its weight gives it. */
function budgetedPools(mixture: ResolvedPrepareOptions["mixture"], splits: Split[], budget: number | undefined, seed: number): Segment[][] {
  const budgets =
    budget === undefined
      ? mixture.map(() => undefined)
      : apportion(
          budget,
          mixture.map((m) => m.weight),
        );
  return mixture.map(({ id }, i) => {
    const trainTokens = segmentTokens(splits[i].train);
    const b = budgets[i];
    if (b !== undefined && b > trainTokens) {
      throw new Error(
        `source '${id}' has ${trainTokens.toLocaleString("en-US")} training tokens (after holding out ${HELD_OUT_FRACTION * 100}%), ` +
          `but the mixture asks it for ${b.toLocaleString("en-US")} unique tokens (weight ${mixture[i].weight.toFixed(3)} × uniqueTokens ` +
          `${budget!.toLocaleString("en-US")}); lower uniqueTokens or this source's weight`,
      );
    }
    return budgetPool(splits[i].train, { budget: b, seed, sourceId: id });
  });
}

/** The statistics of prepared data: per source, its store's, its split's, its pool's and its evaluation windows'. */
function dataStats(
  r: ResolvedPrepareOptions,
  d: { tokenizer: Tokenizer; stores: TokenStore[]; splits: Split[]; sampler: MixtureSampler; perSource: Map<string, EvalWindows> },
): DataStats {
  const { nCtx, seed, evalSeed, mixture } = r;
  const { tokenizer, stores, splits } = d;
  const poolTokens = d.sampler.poolTokens();
  const perEpoch = d.sampler.windowsPerEpoch();
  return {
    tokenizer: { id: tokenizer.id, vocabSize: tokenizer.vocabSize },
    nCtx,
    seed,
    evalSeed,
    heldOutFraction: HELD_OUT_FRACTION,
    uniqueTokens: Object.values(poolTokens).reduce((a, b) => a + b, 0),
    sources: mixture.map(({ id, weight }, i) => {
      const m = stores[i].manifest;
      const w = d.perSource.get(id)!;
      return {
        id,
        domain: m.domain,
        language: m.language,
        weight,
        ...m.stats,
        split: splits[i].kind,
        trainDocs: splits[i].train.length,
        trainTokens: segmentTokens(splits[i].train),
        heldOutDocs: splits[i].heldOut.length,
        heldOutTokens: segmentTokens(splits[i].heldOut),
        poolTokens: poolTokens[id],
        windowsPerEpoch: perEpoch[id],
        eval: { policy: r.evalPolicy, windows: w.n, distinct: w.distinct, excludedDocs: w.excludedDocs },
      };
    }),
  };
}
