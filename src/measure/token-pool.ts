/**
 * The token pools random sequences and prompts draw from (head scores, few-shot tasks), and the
 * head scores' sequence settings the head-score pool depends on. Kept apart from heads.ts so that
 * what stores and reads a run's pools (inputs.ts, run-inputs.ts; the report and the dashboard)
 * does not load the tensor engine.
 */

/** What the measures need to know about the vocabulary beyond its size. */
export interface VocabInfo {
  /** Token prepended to head-score sequences and task prompts (the end-of-document token); null: none. */
  bos?: number | null;
  /** Count (or frequency) of each token id in the training data, length dVocab. */
  frequencies?: ArrayLike<number>;
}

/** Default share of the most and of the least frequent tokens left out of random sequences. */
export const DEFAULT_EXCLUDE_FRACTION = 0.1;

/**
 * Share of an even split below which a token counts as rare: a token is left out when its
 * frequency is under `DEFAULT_RARE_SHARE` / (number of tokens seen).
 */
export const DEFAULT_RARE_SHARE = 0.1;

/**
 * Token ids random sequences draw from: every id but BOS; with frequencies, only tokens seen in
 * the training data, without the `excludeFraction` most and least frequent of them and without
 * rare ones (frequency under `rareShare` of an even split). The last rule matters for byte-level
 * vocabularies: a third of the byte values a mixed English corpus contains are pieces of rare
 * UTF-8 characters, far more than the least frequent 10%, and a model has barely learned them —
 * measured on the demo's 2-layer model, random sequences of them cut its best head's induction
 * score from 0.50 to 0.32 (docs/demo-calibration.md). Olsson et al. leave out "the most and least
 * common tokens" for the same reason. When the rare-token rule leaves fewer than `minSize` tokens
 * (a small alphabet: English text alone has ~80 byte values, many of them rare), the most frequent
 * of the rare ones are kept to make up `minSize`.
 */
export function tokenPool(dVocab: number, vocab: VocabInfo = {}, opts: { excludeFraction?: number; rareShare?: number; minSize?: number } = {}): Int32Array {
  const bos = vocab.bos ?? null;
  const frac = opts.excludeFraction ?? DEFAULT_EXCLUDE_FRACTION;
  const rare = opts.rareShare ?? DEFAULT_RARE_SHARE;
  if (!(frac >= 0 && frac < 0.5)) throw new Error(`tokenPool: 'excludeFraction' must be in [0, 0.5), found ${frac}`);
  if (!(rare >= 0 && rare < 1)) throw new Error(`tokenPool: 'rareShare' must be in [0, 1), found ${rare}`);
  let ids = Array.from({ length: dVocab }, (_, i) => i).filter((i) => i !== bos);
  const f = vocab.frequencies;
  if (f !== undefined) {
    if (f.length !== dVocab) throw new Error(`tokenPool: 'frequencies' has ${f.length} entries, expected dVocab = ${dVocab}`);
    ids = ids.filter((i) => f[i] > 0).sort((a, b) => f[a] - f[b] || a - b);
    let total = 0;
    for (const i of ids) total += f[i];
    const minCount = (rare * total) / Math.max(1, ids.length);
    const cut = Math.floor(ids.length * frac);
    const middle = ids.slice(cut, ids.length - cut); // ascending frequency
    const kept = middle.filter((i) => f[i] >= minCount);
    const rareOnes = middle.filter((i) => f[i] < minCount);
    const refill = Math.max(0, Math.min(rareOnes.length, (opts.minSize ?? 0) - kept.length));
    ids = [...rareOnes.slice(rareOnes.length - refill), ...kept];
  }
  return Int32Array.from(ids);
}

/**
 * The few-shot tasks' token pool: every seen token but the 10% most and least frequent, rare ones
 * included (the tasks' measured accuracies were made with this pool; see tokenPool for the head
 * scores' stricter one).
 */
export function taskPool(dVocab: number, vocab: VocabInfo = {}): Int32Array {
  return tokenPool(dVocab, vocab, { rareShare: 0 });
}

/** The sequence settings headScores uses for a model of context `nCtx` (defaults filled in). */
export function headScoreSettings(nCtx: number, opts: HeadScoreOptions = {}): Omit<HeadScoresResult, "heads"> {
  const bos = opts.vocab?.bos ?? null;
  const offset = bos === null ? 0 : 1;
  const prefixRepeats = opts.prefixRepeats ?? 4;
  return {
    nSequences: opts.nSequences ?? 10,
    // Shorter sequences where the context is too small for the defaults (tiny test models).
    inductionLength: opts.inductionLength ?? Math.min(50, Math.floor((nCtx - offset) / 2)),
    prefixLength: opts.prefixLength ?? Math.min(25, Math.floor((nCtx - offset) / prefixRepeats)),
    prefixRepeats,
    copyingTokens: opts.copyingTokens ?? 200,
    bos,
  };
}

/**
 * The token pool of the head scores for a model (dVocab, nCtx) and these options: tokenPool with
 * the options' `excludeFraction` and room for the longest sequence (`minSize`). A run computes it
 * once from its training data and keeps it (src/measure/inputs.ts); `opts.pool` passes it back.
 */
export function headScorePool(model: { dVocab: number; nCtx: number }, opts: HeadScoreOptions = {}): Int32Array {
  const s = headScoreSettings(model.nCtx, opts);
  return tokenPool(model.dVocab, opts.vocab, { excludeFraction: opts.excludeFraction, minSize: Math.max(s.inductionLength, s.prefixLength) });
}

/** Throws unless `pool` is a pool for this vocabulary: ids in [0, dVocab), distinct, BOS left out. */
export function checkPool(pool: Int32Array, dVocab: number, bos: number | null, what: string): void {
  const seen = new Set<number>();
  for (const t of pool) {
    if (!Number.isInteger(t) || t < 0 || t >= dVocab) throw new Error(`${what}: the token pool holds ${t}, expected ids in [0, ${dVocab})`);
    if (t === bos) throw new Error(`${what}: the token pool holds the BOS token ${bos}`);
    if (seen.has(t)) throw new Error(`${what}: the token pool holds ${t} twice`);
    seen.add(t);
  }
}

export interface HeadScoreOptions {
  vocab?: VocabInfo;
  /**
   * The token pool random sequences draw from, when the run fixed it (src/measure/inputs.ts);
   * `vocab.frequencies` and `excludeFraction` are then not used. Default: `headScorePool`.
   */
  pool?: Int32Array;
  /** Seed of the random sequences and copying tokens (default 0). */
  seed?: number;
  /** Sequences each attention score is averaged over (default 10). */
  nSequences?: number;
  /** Length of the random sequence repeated twice for the induction score (default 50). */
  inductionLength?: number;
  /** Length of the random sequence repeated for the prefix-matching score (default 25). */
  prefixLength?: number;
  /** Repeats of it (default 4). */
  prefixRepeats?: number;
  /** Tokens the copying score is averaged over (default 200). */
  copyingTokens?: number;
  /** See tokenPool (default 0.1). */
  excludeFraction?: number;
}

export interface HeadScore {
  layer: number;
  head: number;
  /** Mean attention on the induction targets over the rows that have one (1 = perfect). */
  induction: number;
  /** The same ratio over all rows: TransformerLens head_detector's number. */
  inductionTL: number;
  prefixMatching: number;
  previousToken: number;
  /** Raw copying share rescaled from [0, 0.5] to [−1, 1]. */
  copying: number;
  /** Share of the positive (mean-subtracted) logit mass on the attended token, in [0, 1]. */
  copyingRaw: number;
}

export interface HeadScoresResult {
  /** One entry per head, layer-major; empty for models without attention. */
  heads: HeadScore[];
  nSequences: number;
  inductionLength: number;
  prefixLength: number;
  prefixRepeats: number;
  copyingTokens: number;
  bos: number | null;
}
