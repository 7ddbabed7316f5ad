/**
 * Training on in-context classification sequences (Chan et al. 2022; Reddy 2024): a vector-input
 * model (src/model/vector-input.ts) reads x₁, ν₁, …, x_N, ν_N, x_q (src/data/synthetic/
 * gaussian-mixture.ts) and is trained with cross-entropy on the query position only, over the L
 * labels (the model's dVocab). AdamW, linear warm-up then a constant rate, global-norm clipping.
 *
 * Every `evalEvery` steps (and at the last) it measures ICL on novel classes, ICL with swapped
 * labels and IWL without support (src/measure/icl-classification.ts) on fixed sequences, and the
 * attention models' previous-token and induction scores, and hands each point to `onEval`.
 * A run is a pure function of its config: the task's means come from `taskSeed`, the model's
 * initialisation and the training stream from `seed`.
 */
import * as op from "../engine/ops/index.ts";
import { usePrecision } from "../engine/precision.ts";
import { GaussianMixtureTask, type MixtureTaskOptions } from "../data/synthetic/gaussian-mixture.ts";
import { isAttentionModel, parseModelConfig, type ModelConfig } from "../model/config.ts";
import { buildVectorModel, type VectorModel } from "../model/vector-input.ts";
import { classificationHeadScores, classifyAll, evalSequences, queryPositions, type HeadScores } from "../measure/icl-classification.ts";
import { Rng } from "../util/random.ts";
import { AdamW, type SmallTrainLoop, warmupStep } from "./optimizer.ts";

export interface ClassifierTrainConfig extends SmallTrainLoop {
  /** Any architecture; dVocab must equal the task's L and nCtx ≥ 2N+1. */
  model: ModelConfig;
  task: MixtureTaskOptions;
  /** Model initialisation and training sequences. */
  seed: number;
  /** Class means and label vectors (the same for every run of an experiment). */
  taskSeed: number;
  evalEvery: number;
  /** Sequences per evaluation kind (and for the head scores, a quarter of them). */
  evalSequences: number;
}

export interface EvalPoint {
  step: number;
  /** Training sequences seen. */
  sequences: number;
  /** Mean training loss since the previous point (NaN at step 0). */
  trainLoss: number;
  iclNovel: number;
  iclSwap: number;
  iwl: number;
  iclNovelLoss: number;
  iwlLoss: number;
  /** Attention models only. */
  heads: HeadScores | null;
}

export interface ClassifierRun {
  model: VectorModel;
  evals: EvalPoint[];
  seconds: number;
}

/** Checks a config and returns it with the model config parsed (defaults filled in). */
export function checkClassifierConfig(config: ClassifierTrainConfig): ClassifierTrainConfig {
  const model = parseModelConfig(config.model);
  const T = 2 * config.task.context + 1;
  if (model.dVocab !== config.task.labels) throw new Error(`classifier: model.dVocab (${model.dVocab}) must equal the task's labels L (${config.task.labels})`);
  if (model.nCtx < T) throw new Error(`classifier: model.nCtx (${model.nCtx}) must be at least 2N+1 = ${T}`);
  for (const k of ["steps", "batch", "evalEvery", "evalSequences"] as const) {
    if (!Number.isInteger(config[k]) || config[k] < 1) throw new Error(`classifier: '${k}' must be a positive integer, found ${config[k]}`);
  }
  if (!(config.lr > 0)) throw new Error(`classifier: 'lr' must be positive, found ${config.lr}`);
  return { ...config, model };
}

/** Trains one run and measures it along the way (see the file comment). */
export function trainClassifier(input: ClassifierTrainConfig, opts: { onEval?: (p: EvalPoint) => void } = {}): ClassifierRun {
  const config = checkClassifierConfig(input);
  const t0 = performance.now();
  // fp32 products whatever the CPU's default (these matrices are far below where bf16 pays).
  usePrecision("fp32");
  const task = new GaussianMixtureTask(config.task, config.taskSeed);
  const model = buildVectorModel(config.model, { dIn: config.task.dim, seed: config.seed });
  const opt = new AdamW(model.params, { lr: config.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: config.weightDecay });
  const rng = new Rng(`classifier-train/${config.seed}`);
  const n = config.evalSequences;
  const evalSets = {
    novel: evalSequences(task, "icl-novel", { n, seed: config.taskSeed }),
    swap: evalSequences(task, "icl-swap", { n, seed: config.taskSeed }),
    iwl: evalSequences(task, "iwl", { n, seed: config.taskSeed }),
    heads: evalSequences(task, "icl-novel", { n: Math.max(1, Math.floor(n / 4)), seed: config.taskSeed + 1 }),
  };
  const evals: EvalPoint[] = [];
  let lossSum = 0,
    lossN = 0;
  const measure = (step: number) => {
    const novel = classifyAll(model, evalSets.novel);
    const swap = classifyAll(model, evalSets.swap);
    const iwl = classifyAll(model, evalSets.iwl);
    const p: EvalPoint = {
      step,
      sequences: step * config.batch,
      trainLoss: lossN > 0 ? lossSum / lossN : NaN,
      iclNovel: novel.accuracy,
      iclSwap: swap.accuracy,
      iwl: iwl.accuracy,
      iclNovelLoss: novel.loss,
      iwlLoss: iwl.loss,
      heads: isAttentionModel(config.model) ? classificationHeadScores(model, evalSets.heads) : null,
    };
    lossSum = 0;
    lossN = 0;
    evals.push(p);
    opts.onEval?.(p);
  };
  measure(0);
  const positions = queryPositions(config.batch, task.T);
  for (let step = 1; step <= config.steps; step++) {
    const seqs = task.sample(config.batch, "train", rng);
    const { logits } = model.forward(seqs.inputs, config.batch, { positions });
    const loss = op.crossEntropy(logits, seqs.targets);
    const value = warmupStep("classifier", loss, opt, step, config);
    lossSum += value;
    lossN++;
    if (step % config.evalEvery === 0 || step === config.steps) measure(step);
  }
  return { model, evals, seconds: (performance.now() - t0) / 1000 };
}
