/**
 * What the experiments share: the calibrated model and training settings of the demo
 * (src/experiments/demo.ts, docs/demo-calibration.md) and their tiny `smoke` counterpart, the
 * demo's mixture (natural text + the labelled `repeats` ingredient), run names, and the choice of
 * widths that match parameter counts across architectures.
 *
 * Why the demo's setting: it is the one measured to form induction heads on a 2-core CPU within
 * minutes (attention-only, d_model 64, 2 heads × 32, shortformer positions, bytes, batch 2, lr 1e-3
 * after a 100k-token warm-up, 75% `repeats`; see DEMO and docs/demo-calibration.md).
 *
 * Positions: `shortformer-pre-ln` (positions added to the query/key input before ln1), not
 * TransformerLens' `shortformer` (after ln1). Measured (docs/demo-calibration.md, 2026-12-05):
 * with TransformerLens' convention this setting forms no induction head and no phase change within
 * its 24M tokens (2 layers: ICL −0.03, best induction 0.02; the same with W_pos initialised at
 * std 0.4 or 1, sinusoidal, or learning at 10× the rate, and with learned positions), while the
 * pre-LN convention has its phase change at 8–20M. Exports of such models load into
 * TransformerLens with two documented hooks (src/model/export.ts).
 */
import type { TrainConfigInput } from "../train/config.ts";
import { parseModelConfig, type ModelConfig } from "../model/config.ts";
import { buildModel, parameterCount } from "../model/model.ts";
import type { ExperimentScale, ResolvedOptions } from "./types.ts";
import { formatTokens } from "../util/format.ts";

/**
 * The demo's calibrated setting (docs/demo-calibration.md), which every experiment starts from:
 * the mixture (natural text + the labelled `repeats` ingredient), the model, the optimizer, the
 * token budget and the measurement schedule.
 */
export const DEMO = {
  natural: { brown: 1, legal: 1, email: 1 } as Record<string, number>,
  /** Weight of the repeats ingredient relative to the natural text's total. */
  repeatsShare: 0.75,
  model: { kind: "attn-only", dModel: 64, nHeads: 2, dHead: 32, nCtx: 512, positions: "shortformer-pre-ln", layerNorm: true } as const,
  batch: 2,
  lr: 1e-3,
  warmupTokens: 100 * 1024,
  tokens: 24_000_000,
  evalWindows: 600,
  perDecade: 10,
};

/** What the demo's setting gave when last measured (docs/demo-calibration.md), for the experiments' expected outcomes. */
export const DEMO_MEASURED =
  "Measured with this setting (`icl-lab demo --seeds 2`: seeds 0 and 1, 24M tokens per run, 600 windows, 2026-11-28): 2 layers — phase " +
  "change 7.9M–20M and 7.6M–19M tokens, final ICL score −1.73 [−1.95, −1.51] and −1.38 [−1.59, −1.16], an induction head L1H1 (0.74, " +
  "0.72) after a layer-0 previous-token head (0.93, 0.98); 3 layers — 8.8M–21.5M and 9.3M–21.5M, −1.64 and −1.59, induction heads in " +
  "layer 1 (0.88, 0.93); 1 layer — no phase change (its drift spreads over 0.8–1.0 decades of tokens), −0.41 [−0.54, −0.28] and −0.37, " +
  "induction ≤ 0.02; on the natural text alone every model within ±0.23 of zero (2 layers −0.20 and +0.23: at 24M tokens the heads " +
  "do not yet help on prose).";

/** "8M", "1.5M", "200k": token counts in descriptions. */
export function tokensText(n: number): string {
  return formatTokens(n, { compact: true });
}

/** The calibrated model in words: "d_model 64, 2 heads × 32, shortformer positions (pre-LN), bytes". */
export const LAB_MODEL_TEXT = `d_model ${DEMO.model.dModel}, ${DEMO.model.nHeads} heads × ${DEMO.model.dHead}, shortformer positions (pre-LN), bytes`;

/** The demo's mixture in words. */
export const DEMO_MIXTURE_TEXT =
  `${Object.keys(DEMO.natural).join(" + ")} (${Math.round(100 * (1 - DEMO.repeatsShare))}%) and the labelled ` +
  `\`repeats\` ingredient (${Math.round(100 * DEMO.repeatsShare)}%: random spans of printable characters, 10–40 or 60–250 long, repeated through each document)`;

/** Training tokens per run at the smoke scale (20 steps of 2 × 512). */
export const SMOKE_TOKENS = 20 * 1024;

export interface Scale {
  /** The attention-only model every experiment starts from (nLayers set per run). */
  model: { kind: "attn-only"; dModel: number; nHeads: number; dHead: number; nCtx: number; positions: "shortformer-pre-ln"; layerNorm: true };
  batch: number;
  lr: number;
  warmupTokens: number;
  /** Measurement checkpoints per decade of tokens, and the first one. */
  perDecade: number;
  first: number;
  /** Evaluation windows of the training mixture (and per source). */
  evalWindows: number;
  /** Options every experiment's measures share (fewer windows for the costly ones). */
  measureOptions: Record<string, Record<string, unknown>>;
  /** Windows of the final head ablation. */
  ablationWindows: number;
  /** Seconds between resume checkpoints (what an interruption can lose). */
  resumeEverySeconds: number;
}

export const SCALES: Record<ExperimentScale, Scale> = {
  default: {
    model: { ...DEMO.model },
    batch: DEMO.batch,
    lr: DEMO.lr,
    warmupTokens: DEMO.warmupTokens,
    perDecade: DEMO.perDecade,
    first: 16 * 1024,
    evalWindows: DEMO.evalWindows,
    measureOptions: {
      heads: { nSequences: 4 },
      positionLoss: { nWindows: 200 },
      tokenLoss: { nWindows: 400 },
      tasks: { nPrompts: 100 },
    },
    ablationWindows: 200,
    resumeEverySeconds: 60,
  },
  smoke: {
    model: { kind: "attn-only", dModel: 16, nHeads: 2, dHead: 8, nCtx: 512, positions: "shortformer-pre-ln", layerNorm: true },
    batch: 2,
    lr: 1e-3,
    warmupTokens: 2048,
    perDecade: 2,
    first: 4096,
    evalWindows: 6,
    measureOptions: {
      heads: { nSequences: 2 },
      positionLoss: { nWindows: 4 },
      tokenLoss: { nWindows: 6 },
      tasks: { nPrompts: 6, shots: [0, 2] },
    },
    ablationWindows: 4,
    // Smoke runs last seconds: resume checkpoints often enough that an interrupted one resumes.
    resumeEverySeconds: 0.2,
  },
};

/** The natural text of the demo's mixture: the user's corpora when given, else brown + legal + email. */
export function naturalSources(opts: ResolvedOptions): Record<string, number> {
  if (opts.corpus.length > 0) return Object.fromEntries(opts.corpus.map((id) => [id, 1]));
  return { ...DEMO.natural };
}

/** The demo's mixture: the natural sources share 1 − repeatsShare equally weighted, `repeats` the rest. */
export function demoMixture(natural: Record<string, number>): Record<string, number> {
  const total = Object.values(natural).reduce((a, b) => a + b, 0);
  const sources: Record<string, number> = {};
  for (const [id, w] of Object.entries(natural)) sources[id] = ((1 - DEMO.repeatsShare) * w) / total;
  sources.repeats = DEMO.repeatsShare;
  return sources;
}

/**
 * A run name: `<experiment>-<parts>` for seed 0 and `…-s<seed>` for the others, so that asking
 * for more seeds later reuses the seed-0 runs. Names longer than 64 characters are cut.
 */
export function runName(experiment: string, parts: readonly string[], seed: number): string {
  const base = [experiment, ...parts].join("-").replace(/[^A-Za-z0-9._-]/g, "_");
  const suffix = seed === 0 ? "" : `-s${seed}`;
  return base.slice(0, 64 - suffix.length) + suffix;
}

/** The seeds 0..n−1. */
export function seedList(opts: ResolvedOptions): number[] {
  return Array.from({ length: opts.seeds }, (_, i) => i);
}

/** A training config at a scale, with everything the experiments share. */
export function baseConfig(args: {
  experiment: string;
  name: string;
  seed: number;
  model: Record<string, unknown>;
  sources: Record<string, number>;
  uniqueTokens?: number;
  tokens: number;
  scale: ExperimentScale;
  measures: string[];
  measureOptions?: Record<string, Record<string, unknown>>;
  perDecade?: number;
}): TrainConfigInput {
  const s = SCALES[args.scale];
  const measureOptions: Record<string, Record<string, unknown>> = {};
  // Only the options of measures the run takes (they are part of the run's identity).
  for (const m of args.measures) if (s.measureOptions[m] !== undefined) measureOptions[m] = { ...s.measureOptions[m] };
  for (const [m, o] of Object.entries(args.measureOptions ?? {})) measureOptions[m] = { ...measureOptions[m], ...o };
  return {
    name: args.name,
    experiment: args.experiment,
    seed: args.seed,
    model: args.model,
    data: {
      sources: args.sources,
      tokenizer: { kind: "byte" },
      ...(args.uniqueTokens !== undefined ? { uniqueTokens: args.uniqueTokens } : {}),
      evalWindows: s.evalWindows,
      evalPolicy: "packed",
    },
    optim: { lr: s.lr, warmupTokens: Math.min(s.warmupTokens, args.tokens), schedule: "constant" },
    batch: s.batch,
    tokens: args.tokens,
    checkpoints: { perDecade: args.perDecade ?? s.perDecade, first: Math.min(s.first, args.tokens), resumeEverySeconds: s.resumeEverySeconds },
    measures: args.measures,
    ...(Object.keys(measureOptions).length > 0 ? { measureOptions } : {}),
  };
}

/**
 * Attention-only runs of the lab's model on the demo's mixture, one per layer count and seed: the
 * demo's and the phase-change experiment's runs (they differ in names, measures and size).
 */
export function demoMixtureRuns(
  opts: ResolvedOptions,
  runs: { experiment: string; layers: readonly number[]; name: (nLayers: number, seed: number) => string; measures: string[] },
): TrainConfigInput[] {
  const s = SCALES[opts.scale];
  const sources = demoMixture(naturalSources(opts));
  const configs: TrainConfigInput[] = [];
  for (const nLayers of runs.layers) {
    for (const seed of seedList(opts)) {
      configs.push(
        baseConfig({
          experiment: runs.experiment,
          name: runs.name(nLayers, seed),
          seed,
          scale: opts.scale,
          model: { ...s.model, nLayers },
          sources,
          tokens: opts.tokens,
          measures: runs.measures,
        }),
      );
    }
  }
  return configs;
}

/** Parameters of a model config (dVocab given; 257 for the byte tokenizer). */
export function countParams(model: object, dVocab = 257): number {
  return parameterCount(buildModel(parseModelConfig({ ...model, dVocab }) as ModelConfig));
}

/**
 * The width whose model has the parameter count nearest `target`, by bisection over `widths`
 * (ascending; the count grows with the width); an error when even that one is more than
 * `tolerance` (relative) away.
 */
export function matchParams(
  target: number,
  widths: readonly number[],
  make: (width: number) => Record<string, unknown>,
  opts: { tolerance?: number; what: string; dVocab?: number },
): { model: Record<string, unknown>; params: number } {
  if (widths.length === 0) throw new Error(`${opts.what}: no widths to choose from`);
  const counted = new Map<number, number>();
  const count = (i: number) => {
    if (!counted.has(i)) counted.set(i, countParams(make(widths[i]), opts.dVocab));
    return counted.get(i)!;
  };
  // The first width whose count reaches the target (or the last one).
  let lo = 0,
    hi = widths.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (count(mid) >= target) hi = mid;
    else lo = mid + 1;
  }
  const i = lo > 0 && Math.abs(count(lo - 1) - target) <= Math.abs(count(lo) - target) ? lo - 1 : lo;
  const best = { model: make(widths[i]), params: count(i) };
  const tol = opts.tolerance ?? 0.1;
  if (Math.abs(best.params - target) > tol * target) {
    throw new Error(
      `${opts.what}: no width gives ${target.toLocaleString("en-US")} parameters within ${Math.round(tol * 100)}% ` +
        `(nearest: ${best.params.toLocaleString("en-US")})`,
    );
  }
  return best;
}

/** 1, 2, …, n (a range of widths to search). */
export function range(from: number, to: number, step = 1): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}
