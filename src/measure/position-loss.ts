/**
 * Per-position loss over fixed evaluation windows: the forward-only evaluation loop every
 * loss-based measure (ICL score, ablation, per-token-loss PCA) runs on.
 *
 * Windows: an Int32Array [N, L] of token ids, row-major, with L = nCtx + 1 tokens per window by
 * default (a model with context 512 makes 512 predictions per 513-token window).
 * Index convention: the loss at index i of a window is the cross-entropy (nats) of predicting
 * token i + 1 from tokens 0..i. Position p in 1-based words ("the 500th token") is index p − 1:
 * the ICL score uses indices 49 and 499.
 *
 * The loop is forward-only (noGrad), takes windows `batchSize` at a time, wraps each batch in
 * tidy() so memory stays flat however many windows there are, feeds only tokens 0..max index
 * (the models are causal, so later tokens cannot change earlier losses), and asks the model for
 * logits only at the indices wanted: the unembedding of every position is most of the forward
 * pass of a small model with a 4,096-token vocabulary.
 */
import * as op from "../engine/ops/index.ts";
import { noGrad, tidy } from "../engine/tensor.ts";
import type { HookOptions, LanguageModel } from "../model/model.ts";

/** Default number of windows per forward pass. */
export const DEFAULT_BATCH_SIZE = 8;

export interface WindowOptions {
  /** Tokens per window (default the model's nCtx + 1). */
  windowLength?: number;
  /** Use only the first n windows (default all). */
  nWindows?: number;
  /** Windows per forward pass (default 8). */
  batchSize?: number;
}

export interface WindowShape {
  n: number;
  length: number;
}

/** Validates windows [N, L] against a model and returns N (after `nWindows`) and L; errors name `caller`. */
export function windowShape(model: LanguageModel, windows: Int32Array, opts: WindowOptions & { caller: string }): WindowShape {
  const fn = opts.caller;
  const length = opts.windowLength ?? model.config.nCtx + 1;
  if (!Number.isInteger(length) || length < 2) throw new Error(`${fn}: 'windowLength' must be an integer ≥ 2, found ${length}`);
  if (windows.length % length !== 0) {
    throw new Error(`${fn}: 'windows' has ${windows.length} tokens, not a whole number of windows of ${length} tokens (windowLength)`);
  }
  const available = windows.length / length;
  const n = opts.nWindows ?? available;
  if (!Number.isInteger(n) || n < 1 || n > available) {
    throw new Error(`${fn}: 'nWindows' must be an integer in [1, ${available}] (windows given), found ${n}`);
  }
  return { n, length };
}

/** Checks the loss indices fit windows of `length` tokens and a model context of nCtx. */
function checkIndices(fn: string, maxIndex: number, minIndex: number, length: number, nCtx: number): void {
  if (minIndex < 0) throw new Error(`${fn}: loss index ${minIndex} is negative`);
  if (maxIndex + 1 >= length) {
    throw new Error(`${fn}: loss index ${maxIndex} needs ${maxIndex + 2} tokens per window, but windows have ${length}`);
  }
  if (maxIndex + 1 > nCtx) {
    throw new Error(`${fn}: loss index ${maxIndex} needs a context of ${maxIndex + 1} tokens, but the model's nCtx is ${nCtx}`);
  }
}

/** Hooks for every batch, or a function giving each batch its own (e.g. patterns from its clean run). */
export type BatchHooks = HookOptions | ((start: number, batch: number) => HookOptions);

export interface LossesAtOptions extends WindowOptions {
  /** Hooks for every forward pass (e.g. heads to ablate). */
  hooks?: BatchHooks;
}

export interface IndicesOptions extends LossesAtOptions {
  /** Loss indices wanted in every window, e.g. [49, 499]. */
  indices: readonly number[];
}

/** Losses at chosen indices: `values[w · k + j]` is window w's loss at `indices[j]`. */
export interface LossMatrix {
  nWindows: number;
  indices: number[];
  values: Float32Array;
}

/** One forward pass's inputs: B rows of tokens, the flat positions (b·T + t) to score and their targets. */
export interface Batch {
  tokens: Int32Array;
  B: number;
  /** All positions when omitted. */
  positions?: Int32Array;
  targets: Int32Array;
}

/**
 * One forward pass of a batch, returning the losses at its positions against its targets (a copy).
 * Must run inside noGrad/tidy (the callers do).
 */
export function batchLosses(model: LanguageModel, batch: Batch, hooks?: HookOptions): Float32Array {
  const { tokens, B, positions, targets } = batch;
  const { logits } = model.forward(tokens, B, { positions, hooks });
  const losses = op.crossEntropy(logits, targets, { reduction: "none" });
  return Float32Array.from(losses.data);
}

/**
 * Cuts the first shape.n windows into batches of `batchSize` and calls `visit(start, B, tokens)`
 * with each batch's windows truncated to their first T tokens ([B, T]); `visit` runs inside
 * noGrad and tidy, so everything it creates is released when it returns.
 */
export function forEachBatch(
  src: { windows: Int32Array; shape: WindowShape; T: number; batchSize: number },
  visit: (start: number, B: number, tokens: Int32Array) => void,
): void {
  const { windows, shape, T, batchSize } = src;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`'batchSize' must be a positive integer, found ${batchSize}`);
  const { n, length } = shape;
  for (let start = 0; start < n; start += batchSize) {
    const B = Math.min(batchSize, n - start);
    const tokens = new Int32Array(B * T);
    for (let b = 0; b < B; b++) tokens.set(windows.subarray((start + b) * length, (start + b) * length + T), b * T);
    noGrad(() =>
      tidy(() => {
        visit(start, B, tokens);
        return null;
      }),
    );
  }
}

/**
 * Losses at the same `indices` of every window (e.g. [49, 499] for the ICL score, or every index
 * for the per-position curve). Only tokens 0..max(indices) are fed, and logits are asked for at
 * the indices only (all positions when every index up to the maximum is wanted).
 */
export function lossesAt(model: LanguageModel, windows: Int32Array, opts: IndicesOptions): LossMatrix {
  const fn = "lossesAt";
  const indices = opts.indices;
  const shape = windowShape(model, windows, { ...opts, caller: fn });
  if (indices.length === 0) throw new Error(`${fn}: 'indices' is empty`);
  const maxIndex = Math.max(...indices),
    minIndex = Math.min(...indices);
  checkIndices(fn, maxIndex, minIndex, shape.length, model.config.nCtx);
  const k = indices.length;
  const T = maxIndex + 1;
  // Every index 0..T−1 in order: the model's full logits are exactly what is wanted.
  const all = k === T && indices.every((x, i) => x === i);
  const values = new Float32Array(shape.n * k);
  forEachBatch({ windows, shape, T, batchSize: opts.batchSize ?? DEFAULT_BATCH_SIZE }, (start, B, tokens) => {
    const positions = all ? undefined : new Int32Array(B * k);
    const targets = new Int32Array(B * k);
    for (let b = 0; b < B; b++) {
      const row = (start + b) * shape.length;
      for (let j = 0; j < k; j++) {
        if (positions !== undefined) positions[b * k + j] = b * T + indices[j];
        targets[b * k + j] = windows[row + indices[j] + 1];
      }
    }
    const hooks = typeof opts.hooks === "function" ? opts.hooks(start, B) : opts.hooks;
    values.set(batchLosses(model, { tokens, B, positions, targets }, hooks), start * k);
  });
  return { nWindows: shape.n, indices: [...indices], values };
}

/**
 * One loss per window at a window-specific index (`indexOf[w]`): the per-token-loss PCA's fixed
 * random positions. Returns n losses.
 */
export function lossesAtEach(model: LanguageModel, windows: Int32Array, opts: WindowOptions & { indexOf: Int32Array }): Float32Array {
  const fn = "lossesAtEach";
  const indexOf = opts.indexOf;
  const shape = windowShape(model, windows, { ...opts, caller: fn });
  if (indexOf.length < shape.n) throw new Error(`${fn}: 'indexOf' has ${indexOf.length} indices for ${shape.n} windows`);
  let maxIndex = 0,
    minIndex = Infinity;
  for (let w = 0; w < shape.n; w++) {
    maxIndex = Math.max(maxIndex, indexOf[w]);
    minIndex = Math.min(minIndex, indexOf[w]);
  }
  checkIndices(fn, maxIndex, minIndex, shape.length, model.config.nCtx);
  const out = new Float32Array(shape.n);
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  // T per batch would vary; one T for all keeps the loop simple and costs little (max index).
  forEachBatch({ windows, shape, T: maxIndex + 1, batchSize }, (start, B, tokens) => {
    const T = maxIndex + 1;
    const positions = new Int32Array(B),
      targets = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      const idx = indexOf[start + b];
      positions[b] = b * T + idx;
      targets[b] = windows[(start + b) * shape.length + idx + 1];
    }
    out.set(batchLosses(model, { tokens, B, positions, targets }), start);
  });
  return out;
}

export interface PositionLossOptions extends WindowOptions {
  /** Also return the per-window matrix [N][nPositions] (large: 2,000 × 512 numbers). */
  perWindow?: boolean;
  /** Number of loss indices, 0..nPositions−1 (default the model's nCtx, capped by the windows). */
  nPositions?: number;
}

export interface PositionLossResult {
  nWindows: number;
  /** Mean loss (nats) at each index 0..nPositions−1: meanLoss[i] predicts token i + 1. */
  meanLoss: number[];
  /** Standard error of each mean (sd / √N). */
  seLoss: number[];
  /** [N][nPositions] when asked for. */
  perWindow?: number[][];
}

/** Per-position loss: the mean loss at every index over the windows (512 values for nCtx 512). */
export function positionLoss(model: LanguageModel, windows: Int32Array, opts: PositionLossOptions = {}): PositionLossResult {
  const shape = windowShape(model, windows, { ...opts, caller: "positionLoss" });
  const P = opts.nPositions ?? Math.min(model.config.nCtx, shape.length - 1);
  const indices = Array.from({ length: P }, (_, i) => i);
  const m = lossesAt(model, windows, { ...opts, indices });
  return summarizeLossMatrix(m, opts.perWindow ?? false);
}

/** Mean and standard error by index of a loss matrix (and the matrix as plain arrays if asked). */
export function summarizeLossMatrix(m: LossMatrix, perWindow = false): PositionLossResult {
  const k = m.indices.length,
    N = m.nWindows;
  const sum = new Float64Array(k),
    sq = new Float64Array(k);
  for (let w = 0; w < N; w++) {
    for (let j = 0; j < k; j++) {
      const v = m.values[w * k + j];
      sum[j] += v;
      sq[j] += v * v;
    }
  }
  const meanLoss = Array.from(sum, (s) => s / N);
  const seLoss = Array.from(sq, (s, j) => (N > 1 ? Math.sqrt(Math.max(0, (s - N * meanLoss[j] ** 2) / (N - 1)) / N) : 0));
  const out: PositionLossResult = { nWindows: N, meanLoss, seLoss };
  if (perWindow) out.perWindow = Array.from({ length: N }, (_, w) => Array.from(m.values.subarray(w * k, (w + 1) * k)));
  return out;
}
