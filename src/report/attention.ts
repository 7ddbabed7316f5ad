/**
 * The one place the report touches a model: the attention pattern of a run's best induction head
 * on a repeated random sequence. The store keeps head scores, not patterns (a [H, T, T] pattern per
 * layer and checkpoint would dwarf everything else), so the pattern is recomputed from the run's
 * last checkpoint: its parameters are loaded into the model its config describes and the forward
 * pass captures `blocks.{l}.attn.hook_pattern`. The report imports this module lazily, only when it
 * draws the figure; everything else in src/report reads stored results.
 *
 * The sequence is the induction score's (heads.ts), drawn with the run's measurement inputs
 * (src/measure/run-inputs.ts: its BOS, its head-score token pool, its seed): BOS and `length`
 * distinct random tokens, repeated twice — the first `length` tokens of the first sequence the run's
 * induction scores average over — and the score on it is the measure's (patternScore over the
 * targeted rows). A run trained before its inputs were stored has no pool to draw from: the tokens
 * then come from every token but BOS, and `note` says so.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { modelFromCheckpoint } from "../model/load.ts";
import { blockHooks } from "../model/hooks.ts";
import { parseModelConfig, isAttentionModel } from "../model/config.ts";
import { inductionDetection, patternScore, repeatedSequences, tokenPool } from "../measure/heads.ts";
import type { MeasureInputs } from "../measure/inputs.ts";
import { storedMeasureInputs } from "../measure/run-inputs.ts";
import { noGrad, tidy } from "../engine/tensor.ts";
import { RunStore } from "../store/run-store.ts";
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
  /** Seed of the random tokens. */
  seed: number;
  /** Where the random tokens come from: the run's head-score pool, or (no stored inputs) every token but BOS. */
  pool: "run" | "all";
  /** What a reader should know about the sequence (the run has no stored pool), or null. */
  note: string | null;
}

/**
 * The stored measurement inputs of the run a checkpoint file belongs to (`<lab>/runs/<id>/
 * checkpoints/<file>`, the trainer's layout), or null when the file is not in a lab's run folder
 * or the run has none.
 */
export function inputsOfCheckpoint(path: string): MeasureInputs | null {
  const ckDir = dirname(path),
    runFolder = dirname(ckDir),
    runs = dirname(runFolder),
    lab = dirname(runs);
  if (basename(ckDir) !== "checkpoints" || basename(runs) !== "runs" || !existsSync(join(lab, "lab.db"))) return null;
  const store = RunStore.open(lab);
  try {
    return store.getRun(basename(runFolder)) === undefined ? null : storedMeasureInputs(store, basename(runFolder));
  } finally {
    store.close();
  }
}

/**
 * One head's attention pattern on BOS + R + R from the checkpoint file at `path`. `length` is
 * capped so the sequence fits the context (default 25: a 51 × 51 picture stays readable).
 * `inputs`: the run's measurement inputs (default: those stored for the run the file belongs to);
 * their BOS and pool are used, and their seed unless `seed` is given. `bos` and `seed` serve runs
 * without stored inputs.
 */
export function headPatternFromCheckpoint(
  path: string,
  opts: { model: unknown; layer: number; head: number; bos?: number | null; length?: number; seed?: number; inputs?: MeasureInputs | null },
): HeadPattern {
  const config = parseModelConfig(opts.model);
  if (!isAttentionModel(config)) throw new Error(`headPatternFromCheckpoint: a ${config.kind} model has no attention heads`);
  if (opts.layer < 0 || opts.layer >= config.nLayers || opts.head < 0 || opts.head >= config.nHeads) {
    throw new Error(
      `headPatternFromCheckpoint: head L${opts.layer}H${opts.head} does not exist in a model of ${config.nLayers} layers × ${config.nHeads} heads`,
    );
  }
  const { model, checkpoint: ck } = modelFromCheckpoint(config, path);
  const inputs = opts.inputs === undefined ? inputsOfCheckpoint(path) : opts.inputs;
  const bos = inputs !== null ? inputs.bos : (opts.bos ?? null);
  const seed = opts.seed ?? inputs?.seed ?? 0;
  const offset = bos === null ? 0 : 1;
  const length = Math.max(2, Math.min(opts.length ?? 25, Math.floor((config.nCtx - offset) / 2)));
  const pool = inputs !== null ? inputs.pools.heads : tokenPool(config.dVocab, { bos });
  const { tokens, T } = repeatedSequences(pool, new Rng(seed), { count: 1, length: Math.min(length, pool.length), repeats: 2, bos });
  const name = blockHooks(opts.layer).pattern;
  const all = noGrad(() =>
    tidy(() => {
      const { cache } = model.forward(tokens, 1, { positions: Int32Array.of(0), hooks: { capture: [name] } });
      const p = cache.get(name);
      if (p === undefined) throw new Error(`headPatternFromCheckpoint: the model did not provide hook '${name}'`);
      return Float32Array.from(p.data); // [1, H, T, T]
    }),
  );
  const base = opts.head * T * T;
  const pattern = Array.from({ length: T }, (_, q) => Array.from(all.subarray(base + q * T, base + (q + 1) * T)));
  const det = inductionDetection(tokens);
  const targets: Array<{ query: number; key: number }> = [];
  for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) if (det[q * T + k] > 0) targets.push({ query: q, key: k });
  return {
    layer: opts.layer,
    head: opts.head,
    tokens: Array.from(tokens),
    pattern,
    targets,
    // The measure's own ratio (heads.ts), so that this is the induction score on this sequence.
    score: patternScore(all.subarray(base, base + T * T), det, { rows: "targeted" }),
    checkpointTokens: ck.tokens,
    seed,
    pool: inputs !== null ? "run" : "all",
    note:
      inputs !== null
        ? null
        : "the run has no stored measurement inputs (it was trained before they were stored): the random tokens come from every token but BOS, not from the head scores' pool",
  };
}
