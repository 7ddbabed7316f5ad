/**
 * Measurements of in-context classification (Chan et al. 2022; Reddy 2024) on the sequences of
 * src/data/synthetic/gaussian-mixture.ts, for a vector-input model (src/model/vector-input.ts):
 *
 * - accuracy: the fraction of sequences whose query is given its target label (argmax of the
 *   logits over the L labels at the query position, index T−1 = 2N) — on `icl-novel`, `icl-swap`
 *   and `iwl` sequences (see the generator for what each tests and its chance level);
 * - head scores on bursty `icl-novel` sequences (items at positions 2i, labels at 2i+1, the query
 *   at 2N; 0-based), from each head's attention pattern:
 *     previous-token score = mean over label positions 2i+1 of the attention to 2i (its item): the
 *       first half of the induction circuit, copying an item into its label's residual stream;
 *     induction score = the attention from the query (2N) summed over the label positions 2i+1
 *       whose item 2i has the query's class, averaged over sequences: 1 when the head looks only
 *       at the labels that answer the query (Reddy's "ICL head"; TransformerLens' head_detector
 *       form sum(attention × pattern) / sum(attention) with the pattern those label positions).
 *   Chance levels: 1/(2i+2) for previous-token at position 2i+1, B/(2N+1) for induction under
 *   uniform attention.
 *
 * Sequences come from a fixed seed, so every checkpoint and run is measured on the same ones.
 */
import * as op from "../engine/ops/index.ts";
import { noGrad, releaseGraph } from "../engine/tensor.ts";
import type { GaussianMixtureTask, SequenceBatch, SequenceKind } from "../data/synthetic/gaussian-mixture.ts";
import { Rng } from "../util/random.ts";
import type { VectorModel } from "../model/vector-input.ts";
import { isAttentionModel } from "../model/config.ts";

export const EVAL_KINDS = ["icl-novel", "icl-swap", "iwl"] as const;
export type EvalKind = (typeof EVAL_KINDS)[number];

export interface ClassificationResult {
  accuracy: number;
  /** Mean cross-entropy (nats) of the target label. */
  loss: number;
  n: number;
}

/** Flat positions b·T + T−1 of the query of every sequence in a batch. */
export function queryPositions(batch: number, T: number): Int32Array {
  return Int32Array.from({ length: batch }, (_, b) => b * T + T - 1);
}

/** Accuracy and loss of the model's query predictions on a batch. No gradient. */
export function classify(model: VectorModel, seqs: SequenceBatch): ClassificationResult {
  return noGrad(() => {
    const { logits } = model.forward(seqs.inputs, seqs.batch, { positions: queryPositions(seqs.batch, seqs.T) });
    const V = logits.shape[1];
    const losses = op.crossEntropy(logits, seqs.targets, { reduction: "none" });
    let correct = 0,
      loss = 0;
    for (let b = 0; b < seqs.batch; b++) {
      let best = 0;
      for (let v = 1; v < V; v++) if (logits.data[b * V + v] > logits.data[b * V + best]) best = v;
      if (best === seqs.targets[b]) correct++;
      loss += losses.data[b];
    }
    releaseGraph();
    return { accuracy: correct / seqs.batch, loss: loss / seqs.batch, n: seqs.batch };
  });
}

/** The evaluation sequences of one kind: `n` sequences from a fixed seed, in batches. */
export function evalSequences(task: GaussianMixtureTask, kind: SequenceKind, opts: { n: number; seed: number; batch?: number }): SequenceBatch[] {
  const rng = new Rng(`icl-classification/${kind}/${opts.seed}`);
  const size = opts.batch ?? 128;
  const out: SequenceBatch[] = [];
  for (let done = 0; done < opts.n; done += size) out.push(task.sample(Math.min(size, opts.n - done), kind, rng));
  return out;
}

/** Accuracy and loss over several batches (weighted by their sizes). */
export function classifyAll(model: VectorModel, batches: readonly SequenceBatch[]): ClassificationResult {
  let acc = 0,
    loss = 0,
    n = 0;
  for (const s of batches) {
    const r = classify(model, s);
    acc += r.accuracy * r.n;
    loss += r.loss * r.n;
    n += r.n;
  }
  return { accuracy: acc / n, loss: loss / n, n };
}

export interface HeadScores {
  /** [layer][head]. */
  prevToken: number[][];
  induction: number[][];
}

/**
 * Previous-token and induction scores of every head (definitions above) on bursty sequences; an
 * error for a model without attention.
 */
export function classificationHeadScores(model: VectorModel, batches: readonly SequenceBatch[]): HeadScores {
  const c = model.config;
  if (!isAttentionModel(c)) throw new Error(`classificationHeadScores: a ${c.kind} model has no attention heads`);
  const L = c.nLayers,
    H = c.nHeads;
  const prev = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  const ind = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  let nSeq = 0;
  for (const s of batches) {
    const names = Array.from({ length: L }, (_, l) => `blocks.${l}.attn.hook_pattern`);
    noGrad(() => {
      const { cache } = model.forward(s.inputs, s.batch, { positions: queryPositions(s.batch, s.T), hooks: { capture: names } });
      const T = s.T,
        N = (T - 1) / 2;
      for (let l = 0; l < L; l++) {
        const p = cache.get(names[l])!.data; // (B, H, T, T): query × key
        for (let b = 0; b < s.batch; b++) {
          const classes = s.classes.subarray(b * (N + 1), (b + 1) * (N + 1));
          for (let h = 0; h < H; h++) {
            const base = (b * H + h) * T * T;
            let pt = 0;
            for (let i = 0; i < N; i++) pt += p[base + (2 * i + 1) * T + 2 * i];
            prev[l][h] += pt / N;
            let a = 0;
            for (let i = 0; i < N; i++) if (classes[i] === classes[N]) a += p[base + (T - 1) * T + 2 * i + 1];
            ind[l][h] += a;
          }
        }
      }
      releaseGraph();
    });
    nSeq += s.batch;
  }
  return { prevToken: prev.map((r) => r.map((v) => v / nSeq)), induction: ind.map((r) => r.map((v) => v / nSeq)) };
}

/** The names the classification measurements are stored under (scalars per evaluation point; per-head matrices as vectors). */
export const CLASSIFICATION = {
  iclNovel: "cls.icl_novel",
  iclSwap: "cls.icl_swap",
  iwl: "cls.iwl",
  iclNovelLoss: "cls.icl_novel_loss",
  iwlLoss: "cls.iwl_loss",
  /** The best head's previous-token and induction scores, over all layers (attention models). */
  prevToken: "cls.prev_token",
  induction: "cls.induction",
  prevTokenHeads: "cls.prev_token_heads",
  inductionHeads: "cls.induction_heads",
} as const;
