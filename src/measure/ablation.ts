/**
 * Head ablation: how much of the model's ICL score each head carries (Olsson et al. 2022).
 *
 * For every head of every attention layer, the ICL score is measured again with that head's output
 * (its z, before W_O) set to zero, in two variants:
 *   - "zero": plain zero-ablation; later layers see the changed residual stream, so their
 *     attention patterns may change too (the total effect of the head);
 *   - "pattern": pattern-preserving ablation; every attention pattern of every layer is frozen
 *     from the clean run of the same windows, then the head is zeroed: only the head's own
 *     contribution through the values is removed (its effect on other heads' attention is not).
 * In the last layer both variants coincide (no later pattern can change).
 *
 * Per head and variant: the ablated score, delta = ablated − clean (positive: the head carried
 * ICL) with a paired bootstrap interval over windows, and share = (clean − ablated) / clean, the
 * fraction of the model's ICL score the head carries (1: all of it; null when the clean score is
 * 0). Shares of several heads need not sum to 1 (heads interact).
 *
 * Cost: 1 + (variants × heads) forward passes over the windows, each to index 499 with logits at
 * the two ICL indices only; the default of 500 windows (DEFAULT_ABLATION_WINDOWS) keeps a 2-layer,
 * 8-head model at 33 passes × 500 windows. Deltas are paired differences on the same windows, far
 * less noisy than the score itself, and each carries its interval.
 */
import * as op from "../engine/ops/index.ts";
import { isAttentionModel } from "../model/config.ts";
import { patternHooks } from "../model/hooks.ts";
import type { HeadRef, LanguageModel } from "../model/model.ts";
import { tidy, type Tensor } from "../engine/tensor.ts";
import { ICL_EARLY_INDEX, ICL_LATE_INDEX, iclScoreFromLosses, type IclIndices } from "./icl-score.ts";
import { DEFAULT_BATCH_SIZE, batchLosses, forEachBatch, windowShape, type WindowOptions } from "./position-loss.ts";
import { bootstrapMean, finiteOrNull, type BootstrapOptions } from "./stats.ts";

export type AblationVariant = "zero" | "pattern";
export const DEFAULT_ABLATION_WINDOWS = 500;

export interface AblationOptions extends WindowOptions, BootstrapOptions, IclIndices {
  /** Variants to run (default both). */
  variants?: readonly AblationVariant[];
  /** Heads to ablate (default every head of every attention layer). */
  heads?: readonly HeadRef[];
}

export interface AblationEffect {
  /** ICL score with the head ablated. */
  score: number;
  /** score − clean score, with its paired bootstrap interval. */
  delta: number;
  deltaLo: number;
  deltaHi: number;
  /** (clean − ablated) / clean; null when the clean score is 0. */
  share: number | null;
}

export interface HeadAblation {
  layer: number;
  head: number;
  zero?: AblationEffect;
  pattern?: AblationEffect;
}

export interface AblationResult {
  nWindows: number;
  early: number;
  late: number;
  clean: { score: number; loss50: number; loss500: number; lo: number; hi: number; halfWidth: number };
  heads: HeadAblation[];
}

/** Every head of every attention layer of the model, layer-major. */
export function allHeads(model: LanguageModel): HeadRef[] {
  const c = model.config;
  if (!isAttentionModel(c)) return [];
  const out: HeadRef[] = [];
  for (let l = 0; l < c.nLayers; l++) for (let h = 0; h < c.nHeads; h++) out.push({ layer: l, head: h });
  return out;
}

/** The ICL score of the model with each head ablated, zero and pattern-preserving. */
export function headAblation(model: LanguageModel, windows: Int32Array, opts: AblationOptions = {}): AblationResult {
  const early = opts.early ?? ICL_EARLY_INDEX,
    late = opts.late ?? ICL_LATE_INDEX;
  const length = opts.windowLength ?? model.config.nCtx + 1;
  const nWindows = opts.nWindows ?? Math.min(DEFAULT_ABLATION_WINDOWS, Math.floor(windows.length / length));
  const shape = windowShape(model, windows, { ...opts, nWindows, caller: "headAblation" });
  if (!(early >= 0 && early < late && late + 1 < shape.length && late < model.config.nCtx)) {
    throw new Error(`headAblation: indices ${early} < ${late} must fit windows of ${shape.length} tokens and nCtx ${model.config.nCtx}`);
  }
  const variants = opts.variants ?? ["zero", "pattern"];
  const heads = opts.heads ?? allHeads(model);
  const wantPatterns = variants.includes("pattern") && heads.length > 0;
  const T = late + 1;
  const N = shape.n;
  const cleanDiff = new Float64Array(N),
    cleanEarly = new Float64Array(N),
    cleanLate = new Float64Array(N);
  const diffs = new Map<AblationVariant, Float64Array[]>(variants.map((v) => [v, heads.map(() => new Float64Array(N))]));
  const patternNames = patternHooks(model.config.nLayers);

  forEachBatch({ windows, shape, T, batchSize: opts.batchSize ?? DEFAULT_BATCH_SIZE }, (start, B, tokens) => {
    const positions = new Int32Array(2 * B),
      targets = new Int32Array(2 * B);
    for (let b = 0; b < B; b++) {
      const row = (start + b) * shape.length;
      positions[2 * b] = b * T + early;
      positions[2 * b + 1] = b * T + late;
      targets[2 * b] = windows[row + early + 1];
      targets[2 * b + 1] = windows[row + late + 1];
    }
    const clean = model.forward(tokens, B, { positions, hooks: { capture: wantPatterns ? patternNames : [] } });
    let patterns: Map<number, Tensor> | undefined;
    if (wantPatterns) patterns = new Map(patternNames.map((n, l) => [l, clean.cache.get(n)!]));
    const cl = op.crossEntropy(clean.logits, targets, { reduction: "none" }).data;
    for (let b = 0; b < B; b++) {
      cleanEarly[start + b] = cl[2 * b];
      cleanLate[start + b] = cl[2 * b + 1];
      cleanDiff[start + b] = cl[2 * b + 1] - cl[2 * b];
    }
    for (const v of variants) {
      heads.forEach((ref, i) => {
        const hooks = v === "zero" ? { ablate: [ref] } : { ablate: [ref], patterns };
        // Each ablated pass is released at once (the clean patterns, made before, stay).
        const ab = tidy(() => batchLosses(model, { tokens, B, positions, targets }, hooks));
        const d = diffs.get(v)![i];
        for (let b = 0; b < B; b++) d[start + b] = ab[2 * b + 1] - ab[2 * b];
      });
    }
  });

  const c = iclScoreFromLosses(cleanEarly, cleanLate, { ...opts, early, late });
  const effect = (d: Float64Array): AblationEffect => {
    const delta = new Float64Array(N);
    for (let w = 0; w < N; w++) delta[w] = d[w] - cleanDiff[w];
    const ci = bootstrapMean(delta, opts);
    const score = c.score + ci.estimate;
    return { score, delta: ci.estimate, deltaLo: ci.lo, deltaHi: ci.hi, share: c.score !== 0 ? finiteOrNull((c.score - score) / c.score) : null };
  };
  return {
    nWindows: N,
    early,
    late,
    clean: { score: c.score, loss50: c.loss50, loss500: c.loss500, lo: c.lo, hi: c.hi, halfWidth: c.halfWidth },
    heads: heads.map((ref, i) => {
      const out: HeadAblation = { layer: ref.layer, head: ref.head };
      for (const v of variants) out[v] = effect(diffs.get(v)![i]);
      return out;
    }),
  };
}
