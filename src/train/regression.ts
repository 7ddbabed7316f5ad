/**
 * Training on in-context linear regression (src/data/synthetic/regression.ts): a vector-input model
 * (src/model/vector-input.ts; its first output, logit 0, is the prediction: model configs need
 * dVocab ≥ 2, so the experiment uses dVocab = 2 and the second output is never read) reads
 * x₁, y₁, …, x_N, y_N, x_q and is trained with the mean squared error of its predictions: at every
 * x position in the interleaved layout (y_k predicted from the k − 1 pairs before it, the query's
 * from all N, as Garg et al. 2022 train), at the query only in the paired layout (Dherin et al.).
 * AdamW, linear warm-up then constant, global-norm clipping; fresh sequences at every step.
 * A run is a pure function of its config (initialisation and data from `seed`).
 */
import * as op from "../engine/ops/index.ts";
import { usePrecision } from "../engine/precision.ts";
import { noGrad, releaseGraph, tensor, track } from "../engine/tensor.ts";
import {
  type RegressionBatch,
  type RegressionTaskOptions,
  checkRegressionOptions,
  predictionPositions,
  sampleRegression,
  sequenceLength,
} from "../data/synthetic/regression.ts";
import { parseModelConfig, type ModelConfig } from "../model/config.ts";
import { buildVectorModel, type VectorModel } from "../model/vector-input.ts";
import { Rng } from "../util/random.ts";
import { AdamW, type SmallTrainLoop, warmupStep } from "./optimizer.ts";

export interface RegressionTrainConfig extends SmallTrainLoop {
  /** Any architecture with nCtx ≥ 2N+1; output 0 is the prediction. */
  model: ModelConfig;
  task: RegressionTaskOptions;
  seed: number;
}

export interface RegressionRun {
  model: VectorModel;
  /** Mean training loss over each tenth of the run (all x positions). */
  losses: Array<{ step: number; loss: number }>;
  seconds: number;
}

/** Flat positions b·T + p of every prediction of a batch (the rows the loss reads). */
export function regressionPositions(batch: number, task: RegressionTaskOptions): Int32Array {
  const T = sequenceLength(task),
    ps = predictionPositions(task);
  return Int32Array.from({ length: batch * ps.length }, (_, i) => Math.floor(i / ps.length) * T + ps[i % ps.length]);
}

/** The targets of those rows: y₁ … y_N, y_q per sequence (interleaved), y_q (paired). */
function regressionTargets(b: RegressionBatch): Float32Array {
  if (b.format === "interleaved") return b.targets;
  const N = b.context;
  return Float32Array.from({ length: b.batch }, (_, i) => b.targets[i * (N + 1) + N]);
}

export function checkRegressionConfig(config: RegressionTrainConfig): RegressionTrainConfig {
  const model = parseModelConfig(config.model);
  checkRegressionOptions(config.task);
  const T = sequenceLength(config.task);
  if (model.nCtx < T) throw new Error(`regression: model.nCtx (${model.nCtx}) must be at least the sequence length ${T}`);
  for (const k of ["steps", "batch"] as const) {
    if (!Number.isInteger(config[k]) || config[k] < 1) throw new Error(`regression: '${k}' must be a positive integer, found ${config[k]}`);
  }
  if (!(config.lr > 0)) throw new Error(`regression: 'lr' must be positive, found ${config.lr}`);
  return { ...config, model };
}

/** The model's predictions [batch, N+1] interleaved (every x position), [batch] paired (the query); no gradient. */
export function predictRegression(model: VectorModel, b: RegressionBatch): Float64Array {
  return noGrad(() => {
    const positions = regressionPositions(b.batch, { dim: b.dIn - 1, context: b.context, format: b.format });
    const { logits } = model.forward(b.inputs, b.batch, { positions });
    const V = logits.shape[1];
    const out = Float64Array.from({ length: positions.length }, (_, i) => logits.data[i * V]);
    releaseGraph();
    return out;
  });
}

/** Trains one run (see the file comment). */
export function trainRegression(input: RegressionTrainConfig, opts: { onLoss?: (step: number, loss: number) => void } = {}): RegressionRun {
  const config = checkRegressionConfig(input);
  const t0 = performance.now();
  // fp32 products whatever the CPU's default: these matrices are far below where bf16 pays, and
  // the float64 measurement reads the weights as trained.
  usePrecision("fp32");
  const dIn = config.task.dim + 1;
  const model = buildVectorModel(config.model, { dIn, seed: config.seed });
  const opt = new AdamW(model.params, { lr: config.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: config.weightDecay });
  const rng = new Rng(`regression-train/${config.seed}`);
  const positions = regressionPositions(config.batch, config.task);
  const V = config.model.dVocab;
  const select = tensor(
    Array.from({ length: V }, (_, v) => (v === 0 ? 1 : 0)),
    [V, 1],
  ); // a constant, kept across steps (not tracked)
  const losses: RegressionRun["losses"] = [];
  const every = Math.max(1, Math.floor(config.steps / 10));
  let sum = 0,
    n = 0;
  for (let step = 1; step <= config.steps; step++) {
    const b = sampleRegression(config.task, config.batch, rng);
    const { logits } = model.forward(b.inputs, config.batch, { positions }); // (rows, dVocab)
    const pred = op.matmul(logits, select); // (rows, 1): output 0
    const target = track(tensor(regressionTargets(b), [positions.length, 1]));
    const loss = op.mean(op.square(op.sub(pred, target)));
    const value = warmupStep("regression", loss, opt, step, config);
    sum += value;
    n++;
    if (step % every === 0 || step === config.steps) {
      losses.push({ step, loss: sum / n });
      opts.onLoss?.(step, sum / n);
      sum = 0;
      n = 0;
    }
  }
  return { model, losses, seconds: (performance.now() - t0) / 1000 };
}
