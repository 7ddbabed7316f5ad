/**
 * Head scores for every head of every attention layer: induction, prefix matching, copying and
 * previous token (Olsson et al. 2022; TransformerLens' head_detector). Models without attention
 * (mlp-only, lstm, rnn) have no heads: the result is an empty list, not an error.
 *
 * Detection patterns are data (as in TransformerLens): a [T, T] matrix D of 0/1 marking the
 * query → key pairs a head of that kind attends to; a head's attention A [T, T] scores
 *     score = Σ(A ⊙ D) / ΣA
 * either over every row ("all rows": TransformerLens' number) or over the rows where D has a target
 * ("targeted rows", the default of our scores), so that a perfect head scores 1:
 *   - induction: tokens BOS + R + R (R = `inductionLength` random tokens); D marks, for each token,
 *     the token after its earlier occurrences (TransformerLens' duplicate-token pattern shifted one
 *     column right). Only the second copy of R has targets, so over all rows a perfect induction
 *     head scores n/(2n + 1) < ½; `inductionTL` is that number (comparable with
 *     `head_detector.detect_head(..., "induction_head")` on the same tokens), `induction` the
 *     targeted-rows mean, which is the mean attention on the induction stripe of the second copy
 *     (the quantity of the mission's anchor 0.01 → 0.75);
 *   - prefix matching (Olsson): BOS + S repeated 4 times (S = 25 random tokens); the attention from
 *     each token of repeats 2–4 to the tokens after its earlier occurrences, summed, averaged over
 *     those tokens;
 *   - previous token: the attention from position i to i − 1, averaged over i ≥ 1 (on the
 *     induction sequences);
 * every score averaged over `nSequences` (10) sequences.
 *
 * Random tokens: drawn without replacement within a sequence (so a token has exactly one earlier
 * occurrence per repeat) from a pool that excludes the BOS token and, when token frequencies are
 * given, tokens never seen, the `excludeFraction` (10%) most and 10% least frequent of the rest
 * and rare ones (under a tenth of an even share; see tokenPool) (Olsson: "excluding the most and
 * least common tokens"). Without frequencies every token but BOS is eligible (token-pool.ts). A
 * run derives its pool once, from its training data, and keeps it with the run (inputs.ts,
 * run-inputs.ts); `pool` passes it in, so every reader draws the same tokens. BOS: `vocab.bos`
 * (the tokenizer's end-of-document token, which starts every document of packed windows); with
 * none given (null), no token is prepended.
 *
 * Copying score: the head's OV circuit on a token's embedding, through the unembedding:
 * logits_t = W_U · W_O^h · W_V^h · E_t with the layer norms folded as TransformerLens folds them
 * (centering and the weights kept; the 1/σ scale, which is positive and so cannot change the
 * share below, and the biases, which add the same vector for every token, dropped; MLPs and other
 * heads ignored: the direct path). The logits are mean-subtracted and ReLU'd; the raw score is the
 * share of the positive mass on the token itself, averaged over `copyingTokens` (200) random
 * pool tokens; `copying` rescales the raw share linearly from [0, 0.5] to [−1, 1] (4·raw − 1,
 * clamped to [−1, 1]): −1 for a head that never raises its input token, 1 for one that puts at
 * least half its positive logit mass on it.
 */
import * as op from "../engine/ops/index.ts";
import { noGrad, tidy, type Tensor } from "../engine/tensor.ts";
import { isAttentionModel, type AttentionConfig } from "../model/config.ts";
import type { LanguageModel } from "../model/model.ts";
import { patternHooks } from "../model/hooks.ts";
import { Rng } from "../util/random.ts";
import { checkPool, headScorePool, headScoreSettings, type HeadScore, type HeadScoreOptions, type HeadScoresResult } from "./token-pool.ts";

export {
  DEFAULT_EXCLUDE_FRACTION,
  DEFAULT_RARE_SHARE,
  checkPool,
  headScorePool,
  headScoreSettings,
  taskPool,
  tokenPool,
  type VocabInfo,
} from "./token-pool.ts";
// The option and result types live with the pool (token-pool.ts: the dashboard's bundle reads them without the engine).
export type { HeadScore, HeadScoreOptions, HeadScoresResult } from "./token-pool.ts";

/** `length` distinct tokens from `pool` (a partial Fisher-Yates shuffle of a scratch copy). */
export function sampleDistinct(pool: Int32Array, rng: Rng, opts: { length: number }): Int32Array {
  const length = opts.length;
  if (length > pool.length) {
    throw new Error(`sampleDistinct: ${length} distinct tokens wanted but the token pool has only ${pool.length}`);
  }
  const scratch = Int32Array.from(pool);
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const j = i + rng.int(scratch.length - i);
    const t = scratch[i];
    scratch[i] = scratch[j];
    scratch[j] = t;
    out[i] = scratch[i];
  }
  return out;
}

/**
 * `count` sequences [BOS] + S repeated `repeats` times, S a fresh set of `length` distinct pool
 * tokens per sequence. Returns the tokens [count, T] and T.
 */
export function repeatedSequences(
  pool: Int32Array,
  rng: Rng,
  opts: { count: number; length: number; repeats: number; bos: number | null },
): { tokens: Int32Array; T: number } {
  const { count, length, repeats, bos } = opts;
  const offset = bos === null ? 0 : 1;
  const T = offset + length * repeats;
  const tokens = new Int32Array(count * T);
  for (let s = 0; s < count; s++) {
    const seg = sampleDistinct(pool, rng, { length });
    if (bos !== null) tokens[s * T] = bos;
    for (let r = 0; r < repeats; r++) tokens.set(seg, s * T + offset + r * length);
  }
  return { tokens, T };
}

// ---- detection patterns (row = query, column = key; 0/1, lower triangular) ----------------------

/** Previous-token pattern: D[i][i − 1] = 1. */
export function previousTokenDetection(T: number): Float32Array {
  const d = new Float32Array(T * T);
  for (let i = 1; i < T; i++) d[i * T + i - 1] = 1;
  return d;
}

/** Duplicate-token pattern: D[i][j] = 1 when j < i and tokens[j] = tokens[i]. */
export function duplicateTokenDetection(tokens: ArrayLike<number>): Float32Array {
  const T = tokens.length;
  const d = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < i; j++) if (tokens[j] === tokens[i]) d[i * T + j] = 1;
  return d;
}

/**
 * Induction pattern (TransformerLens): the duplicate-token pattern shifted one column right,
 * D[i][j] = 1 when 1 ≤ j ≤ i and tokens[j − 1] = tokens[i] with j − 1 < i.
 */
export function inductionDetection(tokens: ArrayLike<number>): Float32Array {
  const T = tokens.length;
  const dup = duplicateTokenDetection(tokens);
  const d = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 1; j <= i; j++) d[i * T + j] = dup[i * T + j - 1];
  return d;
}

/**
 * Prefix-matching pattern on [BOS?] + S repeated: for the token at offset p of repeat r ≥ 1, the
 * tokens after its occurrences in repeats r' < r (offset + r'·length + p + 1).
 */
export function prefixMatchingDetection(opts: { length: number; repeats: number; bos: boolean }): Float32Array {
  const { length, repeats } = opts;
  const offset = opts.bos ? 1 : 0;
  const T = offset + length * repeats;
  const d = new Float32Array(T * T);
  for (let r = 1; r < repeats; r++) {
    for (let p = 0; p < length; p++) {
      const q = offset + r * length + p;
      for (let r2 = 0; r2 < r; r2++) d[q * T + offset + r2 * length + p + 1] = 1;
    }
  }
  return d;
}

/**
 * Σ(A ⊙ D) / ΣA for one head's attention A [T, T] and a detection pattern D [T, T] (row-major, any
 * ArrayLike, e.g. a subarray of a [B, H, T, T] pattern), over all rows or only the rows where D
 * has a target. NaN when no row counts.
 */
export function patternScore(attn: ArrayLike<number>, detection: ArrayLike<number>, opts: { rows?: "all" | "targeted" } = {}): number {
  const T = Math.round(Math.sqrt(detection.length));
  if (T * T !== detection.length || attn.length !== detection.length) {
    throw new Error(`patternScore: 'attn' (${attn.length} values) and 'detection' (${detection.length}) must both be square [T, T]`);
  }
  const targeted = (opts.rows ?? "targeted") === "targeted";
  let num = 0,
    den = 0;
  for (let i = 0; i < T; i++) {
    let rowNum = 0,
      rowDen = 0,
      has = false;
    for (let j = 0; j < T; j++) {
      const a = attn[i * T + j],
        d = detection[i * T + j];
      rowDen += a;
      if (d !== 0) {
        has = true;
        rowNum += a * d;
      }
    }
    if (targeted && !has) continue;
    num += rowNum;
    den += rowDen;
  }
  return den > 0 ? num / den : NaN;
}

// ---- the measure -----------------------------------------------------------------------------

/** Attention patterns of every layer on `tokens` [B, T]: per layer a copy of [B, H, T, T]. */
export function attentionPatterns(model: LanguageModel, tokens: Int32Array, B: number): Float32Array[] {
  const L = model.config.nLayers;
  const names = patternHooks(L);
  return noGrad(() =>
    tidy(() => {
      // One logit row is the least the forward pass can be asked for; the patterns are the output.
      const { cache } = model.forward(tokens, B, { positions: Int32Array.of(0), hooks: { capture: names } });
      return names.map((n) => {
        const p = cache.get(n);
        if (p === undefined) throw new Error(`attentionPatterns: the model did not provide hook '${n}'`);
        return Float32Array.from(p.data);
      });
    }),
  );
}

/** Mean over sequences of a per-head pattern score: out[l][h]. */
function scoreHeads(patterns: Float32Array[], B: number, H: number, T: number, detectionOf: (b: number) => Float32Array, rows: "all" | "targeted"): number[][] {
  return patterns.map((p) => {
    const out = new Array<number>(H).fill(0);
    for (let b = 0; b < B; b++) {
      const d = detectionOf(b);
      for (let h = 0; h < H; h++) out[h] += patternScore(p.subarray((b * H + h) * T * T, (b * H + h + 1) * T * T), d, { rows }) / B;
    }
    return out;
  });
}

/** Rows [n, d] with the layer norm folded as in the module comment: centred, times w. */
function foldLn(x: Tensor, w: Tensor | undefined): Tensor {
  const centred = op.sub(x, op.mean(x, [-1], { keepDims: true }));
  return w === undefined ? centred : op.mul(centred, w);
}

/** Raw copying share of every head (out[l][h]) on the given tokens. */
export function copyingShares(model: LanguageModel, tokens: Int32Array): number[][] {
  const c = model.config as AttentionConfig;
  const H = c.nHeads,
    D = c.dHead,
    V = c.dVocab,
    n = tokens.length;
  const p = (name: string) => model.params.get(name);
  const need = (name: string) => {
    const t = p(name);
    if (t === undefined) throw new Error(`copyingShares: the model has no parameter '${name}'`);
    return t;
  };
  return noGrad(() =>
    tidy(() => {
      const emb = op.gatherRows(need("embed.W_E"), tokens); // (n, dModel)
      const out: number[][] = [];
      for (let l = 0; l < c.nLayers; l++) {
        const x = c.layerNorm ? foldLn(emb, p(`blocks.${l}.ln1.w`)) : emb;
        const z = op.matmul(x, need(`blocks.${l}.attn.W_V`)); // (n, H·D)
        const WO = need(`blocks.${l}.attn.W_O`); // (H·D, dModel)
        const perHead = Array.from({ length: H }, (_, h) => op.matmul(op.slice(z, 1, h * D, (h + 1) * D), op.slice(WO, 0, h * D, (h + 1) * D)));
        let resid = op.concat(perHead, 0); // (H·n, dModel): head-major rows
        if (c.layerNorm) resid = foldLn(resid, p("ln_final.w"));
        const logits = op.matmul(resid, need("unembed.W_U")).data; // (H·n, V)
        const shares = new Array<number>(H).fill(0);
        for (let h = 0; h < H; h++) {
          for (let i = 0; i < n; i++) {
            const row = logits.subarray((h * n + i) * V, (h * n + i + 1) * V);
            let m = 0;
            for (let v = 0; v < V; v++) m += row[v];
            m /= V;
            let pos = 0;
            for (let v = 0; v < V; v++) if (row[v] > m) pos += row[v] - m;
            const own = Math.max(0, row[tokens[i]] - m);
            shares[h] += (pos > 0 ? own / pos : 0) / n;
          }
        }
        out.push(shares);
      }
      return out;
    }),
  );
}

/** The copying score from the raw share: linear from [0, 0.5] to [−1, 1], clamped. */
export function rescaleCopying(raw: number): number {
  return Math.max(-1, Math.min(1, 4 * raw - 1));
}

/**
 * Induction (targeted rows and TransformerLens' all-rows ratio), prefix-matching, previous-token
 * and copying scores of every head. Deterministic for a seed; three forward passes of
 * `nSequences` short sequences and one OV product per layer.
 */
export function headScores(model: LanguageModel, opts: HeadScoreOptions = {}): HeadScoresResult {
  const c = model.config;
  const settings = headScoreSettings(c.nCtx, opts);
  const { nSequences, inductionLength, prefixLength, prefixRepeats, bos } = settings;
  const offset = bos === null ? 0 : 1;
  if (!isAttentionModel(c)) return { heads: [], ...settings };
  for (const [name, v, min] of [
    ["inductionLength", inductionLength, 2],
    ["prefixLength", prefixLength, 2],
    ["prefixRepeats", prefixRepeats, 2],
    ["nSequences", nSequences, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`headScores: '${name}' must be an integer ≥ ${min}, found ${v} (model nCtx ${c.nCtx})`);
  }
  if (offset + 2 * inductionLength > c.nCtx) throw new Error(`headScores: induction sequences of ${offset + 2 * inductionLength} tokens exceed nCtx ${c.nCtx}`);
  if (offset + prefixLength * prefixRepeats > c.nCtx)
    throw new Error(`headScores: prefix-matching sequences of ${offset + prefixLength * prefixRepeats} tokens exceed nCtx ${c.nCtx}`);
  const pool = opts.pool ?? headScorePool(c, opts);
  if (opts.pool !== undefined) checkPool(pool, c.dVocab, bos, "headScores");
  const rng = new Rng(opts.seed ?? 0);
  const H = c.nHeads;

  const ind = repeatedSequences(pool, rng, { count: nSequences, length: inductionLength, repeats: 2, bos });
  const indPatterns = attentionPatterns(model, ind.tokens, nSequences);
  const indDetection = (b: number) => inductionDetection(ind.tokens.subarray(b * ind.T, (b + 1) * ind.T));
  const induction = scoreHeads(indPatterns, nSequences, H, ind.T, indDetection, "targeted");
  const inductionTL = scoreHeads(indPatterns, nSequences, H, ind.T, indDetection, "all");
  const prevDet = previousTokenDetection(ind.T);
  const previous = scoreHeads(indPatterns, nSequences, H, ind.T, () => prevDet, "targeted");

  const pre = repeatedSequences(pool, rng, { count: nSequences, length: prefixLength, repeats: prefixRepeats, bos });
  const preDet = prefixMatchingDetection({ length: prefixLength, repeats: prefixRepeats, bos: bos !== null });
  const prefix = scoreHeads(attentionPatterns(model, pre.tokens, nSequences), nSequences, H, pre.T, () => preDet, "targeted");

  const copyTokens = sampleDistinct(pool, rng, { length: Math.min(settings.copyingTokens, pool.length) });
  const copying = copyingShares(model, copyTokens);

  const heads: HeadScore[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    for (let h = 0; h < H; h++) {
      heads.push({
        layer: l,
        head: h,
        induction: induction[l][h],
        inductionTL: inductionTL[l][h],
        prefixMatching: prefix[l][h],
        previousToken: previous[l][h],
        copying: rescaleCopying(copying[l][h]),
        copyingRaw: copying[l][h],
      });
    }
  }
  return { heads, ...settings };
}
