/**
 * How fast this machine trains and evaluates a model: a training step (forward, backward, AdamW)
 * and a forward pass without gradients on fixed random tokens, timed at a thread count and a
 * precision. The benchmarks (bench/train.ts) and the wall-time budgets of the experiments
 * (src/experiments/budget.ts, `--minutes`) both time with these, so a budget is planned from the
 * same figure `npm run bench` prints.
 */
import * as op from "../engine/ops/index.ts";
import { kernels } from "../engine/backend.ts";
import type { Precision } from "../engine/precision.ts";
import { releaseGraph } from "../engine/tensor.ts";
import type { ModelConfig } from "../model/config.ts";
import { buildModel, type LanguageModel } from "../model/model.ts";
import { AdamW } from "./optimizer.ts";
import { Rng } from "../util/random.ts";

export interface StepRunner {
  model: LanguageModel;
  tokensPerStep: number;
  /** One training step; returns the loss. */
  step(): number;
}

/** A training step on fixed random tokens (the data pipeline is measured by bench/data.ts). */
export function makeStepRunner(config: ModelConfig, batch: number, seed = 0): StepRunner {
  const model = buildModel(config, seed);
  const opt = new AdamW(model.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
  const T = config.nCtx;
  const rng = new Rng(seed);
  const inputs = new Int32Array(batch * T),
    targets = new Int32Array(batch * T);
  for (let i = 0; i < inputs.length; i++) {
    inputs[i] = rng.int(config.dVocab);
    targets[i] = rng.int(config.dVocab);
  }
  return {
    model,
    tokensPerStep: batch * T,
    step() {
      const loss = op.crossEntropy(model.forward(inputs, batch).logits, targets);
      const v = loss.item();
      loss.backward();
      opt.step(1e-3, 1);
      opt.zeroGrad();
      releaseGraph();
      return v;
    },
  };
}

/** Runs f at a thread count and precision, restoring both (f may be async: they are restored when it settles). */
export function atThreads<T>(threads: number | undefined, precision: Precision, f: () => T): T {
  const K = kernels();
  const before = { threads: K.getThreads(), precision: K.getPrecision() };
  if (threads !== undefined) K.setThreads(threads);
  K.setPrecision(precision);
  const restore = () => {
    K.setThreads(before.threads);
    K.setPrecision(before.precision);
  };
  let out: T;
  try {
    out = f();
  } catch (e) {
    restore();
    throw e;
  }
  if (out instanceof Promise) return out.finally(restore) as T;
  restore();
  return out;
}

/** Calls `f` at least `minCalls` times and for at least `minSeconds`; returns calls per second. */
export function timeCalls(f: () => void, minCalls: number, minSeconds: number): number {
  const t0 = performance.now();
  let n = 0;
  while (n < minCalls || performance.now() - t0 < minSeconds * 1000) {
    f();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

/**
 * This machine's training throughput (tokens/s: forward, backward, AdamW) for a model and batch,
 * at `threads` kernel threads in `precision`: after a warm-up (the first steps pay for JIT code,
 * buffer pools and page faults; measured, the demo's first round ran at half speed), timed for
 * `seconds`.
 */
export function measureThroughput(
  config: ModelConfig,
  batch: number,
  opts: { threads?: number; precision?: Precision; seconds?: number; warmup?: number } = {},
): number {
  const { precision = "fp32", seconds = 1, warmup = 3 } = opts;
  return atThreads(opts.threads, precision, () => {
    const r = makeStepRunner(config, batch);
    for (let i = 0; i < warmup; i++) r.step();
    return timeCalls(() => r.step(), 2, seconds) * r.tokensPerStep;
  });
}
