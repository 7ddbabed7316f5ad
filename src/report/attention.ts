/**
 * The one place the report touches a model: the attention pattern of a run's best induction head
 * on a repeated random sequence. The store keeps head scores, not patterns (a [H, T, T] pattern per
 * layer and checkpoint would dwarf everything else), so the pattern is recomputed from the run's
 * last checkpoint: its parameters are loaded into the model its config describes and the forward
 * pass captures `blocks.{l}.attn.hook_pattern`. The report imports this module lazily, only when it
 * draws the figure; everything else in src/report reads stored results.
 *
 * The sequence is the induction score's (heads.ts): BOS (when the run's head scores used one) and
 * `length` distinct random tokens, repeated twice; the tokens come from a seed, so a report is
 * reproducible. The pool is every token but BOS (the measure also leaves out the rarest and most
 * frequent tokens, which needs the training data; a picture does not).
 */
import { modelFromCheckpoint } from "../model/load.ts";
import { blockHooks } from "../model/hooks.ts";
import { parseModelConfig, isAttentionModel } from "../model/config.ts";
import { inductionDetection, repeatedSequences, tokenPool } from "../measure/heads.ts";
import { noGrad, tidy } from "../engine/tensor.ts";
import { Rng } from "../util/random.ts";

export interface HeadPattern {
  layer: number;
  head: number;
  /** Tokens of the sequence. */
  tokens: number[];
  /** Attention [T][T], rows = query positions. */
  pattern: number[][];
  /** Cells where an ideal induction head attends (query, key). */
  targets: Array<{ query: number; key: number }>;
  /** Mean attention on those targets (the induction score on this one sequence). */
  score: number;
  /** Training tokens of the checkpoint used. */
  checkpointTokens: number;
}

/**
 * One head's attention pattern on BOS + R + R from the checkpoint file at `path`. `length` is
 * capped so the sequence fits the context (default 25: a 51 × 51 picture stays readable).
 */
export function headPatternFromCheckpoint(
  path: string,
  opts: { model: unknown; layer: number; head: number; bos?: number | null; length?: number; seed?: number },
): HeadPattern {
  const config = parseModelConfig(opts.model);
  if (!isAttentionModel(config)) throw new Error(`headPatternFromCheckpoint: a ${config.kind} model has no attention heads`);
  if (opts.layer < 0 || opts.layer >= config.nLayers || opts.head < 0 || opts.head >= config.nHeads) {
    throw new Error(`headPatternFromCheckpoint: head L${opts.layer}H${opts.head} does not exist in a model of ${config.nLayers} layers × ${config.nHeads} heads`);
  }
  const { model, checkpoint: ck } = modelFromCheckpoint(config, path);
  const bos = opts.bos ?? null;
  const offset = bos === null ? 0 : 1;
  const length = Math.max(2, Math.min(opts.length ?? 25, Math.floor((config.nCtx - offset) / 2)));
  const pool = tokenPool(config.dVocab, { bos });
  const { tokens, T } = repeatedSequences(pool, new Rng(opts.seed ?? 0), { count: 1, length: Math.min(length, pool.length), repeats: 2, bos });
  const name = blockHooks(opts.layer).pattern;
  const all = noGrad(() => tidy(() => {
    const { cache } = model.forward(tokens, 1, { positions: Int32Array.of(0), hooks: { capture: [name] } });
    const p = cache.get(name);
    if (p === undefined) throw new Error(`headPatternFromCheckpoint: the model did not provide hook '${name}'`);
    return Float32Array.from(p.data); // [1, H, T, T]
  }));
  const base = opts.head * T * T;
  const pattern = Array.from({ length: T }, (_, q) => Array.from(all.subarray(base + q * T, base + (q + 1) * T)));
  const det = inductionDetection(tokens);
  const targets: Array<{ query: number; key: number }> = [];
  let sum = 0;
  for (let q = 0; q < T; q++) {
    for (let k = 0; k <= q; k++) {
      if (det[q * T + k] > 0) {
        targets.push({ query: q, key: k });
        sum += pattern[q][k];
      }
    }
  }
  return {
    layer: opts.layer, head: opts.head, tokens: Array.from(tokens), pattern, targets,
    score: targets.length > 0 ? sum / new Set(targets.map((t) => t.query)).size : NaN,
    checkpointTokens: ck.tokens,
  };
}
