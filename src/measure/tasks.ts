/**
 * Few-shot tasks built from the vocabulary, each with a chance baseline, scored by accuracy against
 * the number of shots (0, 1, 2, 4, 8, 16). Every prompt is fresh random tokens (from the token pool
 * of heads.ts: no BOS, and with frequencies no very rare or very common tokens), so the only way to
 * beat chance is to use the context:
 *   - "induction": continuation of a repeated random sequence. S = 10 distinct tokens; the prompt
 *     is [BOS] + S repeated `shots` times + the first j tokens of S (j uniform in 1..9); the answer
 *     is S[j]; the candidates are the 10 tokens of S (chance 1/10);
 *   - "kv-recall": in-context key → value recall. 16 keys and 16 values, all distinct; the prompt
 *     is [BOS] + `shots` pairs (key, value) + a query key, one of the shown keys (with 0 shots a key
 *     whose value is never shown); the answer is its value; the candidates are the 16 values
 *     (chance 1/16);
 *   - "classification": in-context classification with arbitrary labels (after Chan et al. 2022):
 *     two classes of 4 exemplar tokens each and two label tokens, all drawn afresh for every
 *     prompt, so the exemplar → label mapping changes from prompt to prompt; the prompt is [BOS] +
 *     `shots` (exemplar, label) pairs with exemplars drawn uniformly from both classes + a query
 *     exemplar (one shown in the prompt when shots ≥ 1); the answer is its class's label; the
 *     candidates are the two labels (chance 1/2).
 * Candidates are listed in token-id order (ties between equal logits then say nothing about the
 * answer). A prompt holds only the tokens before the answer; the model is asked for logits at its last
 * position and never sees the answer in that slot. With 0 shots the answer appears nowhere in the
 * prompt. The prediction is the candidate with the highest logit (so chance = 1/candidates); the
 * result also gives the mean loss (nats, full vocabulary) of the answer, which moves before
 * accuracy does in small models.
 */
import * as op from "../engine/ops/index.ts";
import { noGrad, tidy } from "../engine/tensor.ts";
import type { LanguageModel } from "../model/model.ts";
import { Rng } from "../util/random.ts";
import { sampleDistinct } from "./heads.ts";
import { checkPool, taskPool, type VocabInfo } from "./token-pool.ts";

export const TASK_NAMES = ["induction", "kv-recall", "classification"] as const;
export type TaskName = (typeof TASK_NAMES)[number];
export const DEFAULT_SHOTS = [0, 1, 2, 4, 8, 16] as const;

export interface TaskPrompt {
  /** The tokens the model sees (the answer is the token that would follow). */
  tokens: Int32Array;
  answer: number;
  /** Tokens the prediction chooses among (the answer is one of them). */
  candidates: Int32Array;
}

interface TaskSpec {
  candidates: number;
  /** Distinct tokens one prompt draws. */
  distinct: number;
  /** Prompt length for `shots` shots, BOS excluded (the longest, for the fit check). */
  maxLength(shots: number): number;
  make(pool: Int32Array, shots: number, rng: Rng, bos: number | null): TaskPrompt;
}

const SEQ = 10,
  PAIRS = 16,
  PER_CLASS = 4;

function withBos(bos: number | null, body: number[]): Int32Array {
  return Int32Array.from(bos === null ? body : [bos, ...body]);
}

/** Candidates in id order, so that their order says nothing about which one is the answer. */
function sorted(xs: Int32Array): Int32Array {
  return Int32Array.from(xs).sort();
}

const tasks: Record<TaskName, TaskSpec> = {
  induction: {
    candidates: SEQ,
    distinct: SEQ,
    maxLength: (shots) => shots * SEQ + SEQ - 1,
    make(pool, shots, rng, bos) {
      const s = sampleDistinct(pool, rng, { length: SEQ });
      const j = 1 + rng.int(SEQ - 1);
      const body: number[] = [];
      for (let r = 0; r < shots; r++) body.push(...s);
      body.push(...s.subarray(0, j));
      return { tokens: withBos(bos, body), answer: s[j], candidates: sorted(s) };
    },
  },
  "kv-recall": {
    candidates: PAIRS,
    distinct: 2 * PAIRS,
    maxLength: (shots) => 2 * shots + 1,
    make(pool, shots, rng, bos) {
      const t = sampleDistinct(pool, rng, { length: 2 * PAIRS });
      const keys = t.subarray(0, PAIRS),
        values = t.subarray(PAIRS);
      // `shots` pairs in a random order; with more shots than pairs, pairs repeat.
      const shown: number[] = [];
      for (let i = 0; i < shots; i++) shown.push(i % PAIRS);
      rng.shuffle(shown);
      const body: number[] = [];
      for (const i of shown) body.push(keys[i], values[i]);
      const q = shots === 0 ? 0 : shown[rng.int(shown.length)];
      body.push(keys[q]);
      return { tokens: withBos(bos, body), answer: values[q], candidates: sorted(values) };
    },
  },
  classification: {
    candidates: 2,
    distinct: 2 * PER_CLASS + 2,
    maxLength: (shots) => 2 * shots + 1,
    make(pool, shots, rng, bos) {
      const t = sampleDistinct(pool, rng, { length: 2 * PER_CLASS + 2 });
      const exemplars = t.subarray(0, 2 * PER_CLASS); // class of exemplar i: i < PER_CLASS ? 0 : 1
      const labels = t.subarray(2 * PER_CLASS);
      const classOf = (i: number) => (i < PER_CLASS ? 0 : 1);
      const body: number[] = [];
      const shown: number[] = [];
      for (let k = 0; k < shots; k++) {
        const i = rng.int(2 * PER_CLASS);
        shown.push(i);
        body.push(exemplars[i], labels[classOf(i)]);
      }
      const q = shots === 0 ? rng.int(2 * PER_CLASS) : shown[rng.int(shown.length)];
      body.push(exemplars[q]);
      return { tokens: withBos(bos, body), answer: labels[classOf(q)], candidates: sorted(labels) };
    },
  },
};

/** Chance accuracy of a task: 1 / number of candidates. */
export function taskChance(task: TaskName): number {
  return 1 / tasks[task].candidates;
}

/** `n` prompts of a task with `shots` shots, deterministic for the generator's state. */
export function buildPrompts(task: TaskName, opts: { n: number; shots: number; pool: Int32Array; rng: Rng; bos?: number | null }): TaskPrompt[] {
  const { n, shots } = opts;
  const spec = tasks[task];
  if (spec === undefined) throw new Error(`buildPrompts: unknown task '${task}'; expected one of ${TASK_NAMES.join(", ")}`);
  return Array.from({ length: n }, () => spec.make(opts.pool, shots, opts.rng, opts.bos ?? null));
}

/**
 * Accuracy (argmax over the candidates) and mean answer loss of the model on prompts; prompts of
 * equal length share a forward pass, with logits at their last position only.
 */
export function evaluatePrompts(
  model: LanguageModel,
  prompts: readonly TaskPrompt[],
  opts: { batchSize?: number } = {},
): { accuracy: number; answerLoss: number } {
  const batchSize = opts.batchSize ?? 32;
  const byLength = new Map<number, TaskPrompt[]>();
  for (const p of prompts) {
    const g = byLength.get(p.tokens.length);
    if (g === undefined) byLength.set(p.tokens.length, [p]);
    else g.push(p);
  }
  let correct = 0,
    loss = 0;
  const V = model.config.dVocab;
  for (const [T, group] of byLength) {
    for (let start = 0; start < group.length; start += batchSize) {
      const batch = group.slice(start, start + batchSize);
      const B = batch.length;
      const tokens = new Int32Array(B * T),
        positions = new Int32Array(B),
        answers = new Int32Array(B);
      batch.forEach((p, b) => {
        tokens.set(p.tokens, b * T);
        positions[b] = b * T + T - 1;
        answers[b] = p.answer;
      });
      noGrad(() =>
        tidy(() => {
          const logits = model.forward(tokens, B, { positions }).logits; // (B, V)
          const ce = op.crossEntropy(logits, answers, { reduction: "none" }).data;
          batch.forEach((p, b) => {
            let best = p.candidates[0];
            for (const c of p.candidates) if (logits.data[b * V + c] > logits.data[b * V + best]) best = c;
            if (best === p.answer) correct++;
            loss += ce[b];
          });
          return null;
        }),
      );
    }
  }
  return { accuracy: correct / prompts.length, answerLoss: loss / prompts.length };
}

export interface TaskOptions {
  tasks?: readonly TaskName[];
  shots?: readonly number[];
  /** Prompts per task and shot count (default 200). */
  nPrompts?: number;
  seed?: number;
  vocab?: VocabInfo;
  /**
   * The token pool prompts draw from, when the run fixed it (src/measure/inputs.ts);
   * `vocab.frequencies` is then not used. Default: `taskPool`.
   */
  pool?: Int32Array;
  batchSize?: number;
}

export interface TaskResult {
  name: TaskName;
  chance: number;
  shots: number[];
  /** Accuracy at each shot count; null where the prompt does not fit the model's context. */
  accuracy: Array<number | null>;
  answerLoss: Array<number | null>;
  nPrompts: number;
}

/** Accuracy against shots for each task. Deterministic for a seed. */
export function taskAccuracy(model: LanguageModel, opts: TaskOptions = {}): { tasks: TaskResult[] } {
  const names = opts.tasks ?? TASK_NAMES;
  const shots = [...(opts.shots ?? DEFAULT_SHOTS)];
  const nPrompts = opts.nPrompts ?? 200;
  const bos = opts.vocab?.bos ?? null;
  const pool = opts.pool ?? taskPool(model.config.dVocab, opts.vocab);
  if (opts.pool !== undefined) checkPool(pool, model.config.dVocab, bos, "taskAccuracy");
  const rng = new Rng(opts.seed ?? 0);
  return {
    tasks: names.map((name) => {
      const spec = tasks[name];
      if (spec === undefined) throw new Error(`taskAccuracy: unknown task '${name}'; expected one of ${TASK_NAMES.join(", ")}`);
      if (pool.length < spec.distinct) {
        throw new Error(
          `taskAccuracy: task '${name}' needs ${spec.distinct} distinct tokens per prompt, but the token pool has ${pool.length} (dVocab ${model.config.dVocab}, BOS and excluded tokens removed)`,
        );
      }
      const accuracy: Array<number | null> = [],
        answerLoss: Array<number | null> = [];
      for (const k of shots) {
        if (!Number.isInteger(k) || k < 0) throw new Error(`taskAccuracy: shot counts must be integers ≥ 0, found ${k}`);
        if (spec.maxLength(k) + (bos === null ? 0 : 1) > model.config.nCtx) {
          accuracy.push(null);
          answerLoss.push(null);
          continue;
        }
        const r = evaluatePrompts(model, buildPrompts(name, { n: nPrompts, shots: k, pool, rng, bos }), opts);
        accuracy.push(r.accuracy);
        answerLoss.push(r.answerLoss);
      }
      return { name, chance: taskChance(name), shots, accuracy, answerLoss, nPrompts };
    }),
  };
}
