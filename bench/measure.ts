/**
 * Measurement throughput (issue 5's targets): the ICL score's evaluation tokens/s on the anchor
 * model (attn-only, 2 layers, dModel 256, 8 heads × 32, nCtx 512, dVocab 4096) against the training
 * tokens/s of the same model measured in the same run (target ≥ 3×), and the time of all head
 * scores of a 3-layer model (target < 5 s). Weights are random: throughput does not depend on them.
 * Runnable alone: `node --import tsx bench/measure.ts [--windows N ≤ 64] [--train-steps N] [--repeats N]`.
 */
import { kernels } from "../src/engine/backend.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { buildModel } from "../src/model/model.ts";
import { headAblation, headScores, iclScore, positionLoss } from "../src/measure/index.ts";
import { Rng } from "../src/util/random.ts";
import { TRAIN_CONFIGS, benchTrain } from "./train.ts";

const ANCHOR = TRAIN_CONFIGS["attn-2l-v4096"].model as Record<string, unknown>;

function windows(n: number, length: number, vocab: number, seed = 0): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n * length }, () => rng.int(vocab));
}

export interface IclEvalFigure {
  windows: number;
  /** Seconds of each timed evaluation of all the windows. */
  runs: number[];
  /** Tokens fed per second, median run (500 per window: tokens 0..499; logits at indices 49 and 499 only). */
  tokensPerSecond: number;
  /** The same in 512-token windows' worth (the context each window stands for). */
  windowTokensPerSecond: number;
  /** Per-position loss (all 512 positions unembedded) on up to 16 of the windows, for comparison. */
  allPositionsTokensPerSecond: number;
  /** Seconds 2,000 windows take at the median rate. */
  secondsFor2000: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function anchor(): { model: ReturnType<typeof buildModel>; w: Int32Array; nCtx: number } {
  const config = parseModelConfig(ANCHOR);
  const model = buildModel(config, 0);
  return { model, w: windows(64, config.nCtx + 1, config.dVocab, 1), nCtx: config.nCtx };
}

/** Seconds of one ICL evaluation of the first n windows. */
function timeIcl(a: ReturnType<typeof anchor>, n: number, batchSize?: number): number {
  const t0 = performance.now();
  iclScore(a.model, a.w, { nWindows: n, batchSize });
  return (performance.now() - t0) / 1000;
}

/**
 * ICL-score evaluation throughput on `n` windows of the anchor model (after a warm-up batch),
 * timed `repeats` times.
 */
export function benchIclEval(opts: { windows?: number; batchSize?: number; repeats?: number } = {}): IclEvalFigure {
  const n = Math.min(opts.windows ?? 32, 64);
  const a = anchor();
  timeIcl(a, 8, opts.batchSize); // warm-up
  const runs = Array.from({ length: opts.repeats ?? 3 }, () => timeIcl(a, n, opts.batchSize));
  return iclFigure(a, n, runs, opts.batchSize);
}

function iclFigure(a: ReturnType<typeof anchor>, n: number, runs: number[], batchSize?: number): IclEvalFigure {
  const seconds = median(runs);
  const nAll = Math.min(n, 16);
  const t0 = performance.now();
  positionLoss(a.model, a.w, { nWindows: nAll, batchSize });
  const allSeconds = (performance.now() - t0) / 1000;
  return {
    windows: n,
    runs,
    tokensPerSecond: (n * 500) / seconds,
    windowTokensPerSecond: (n * a.nCtx) / seconds,
    allPositionsTokensPerSecond: (nAll * a.nCtx) / allSeconds,
    secondsFor2000: (seconds / n) * 2000,
  };
}

export interface HeadsFigure {
  config: string;
  heads: number;
  seconds: number;
}

/** Wall time of every head score (induction, prefix matching, previous token, copying) of a 3-layer anchor-sized model. */
export function benchHeads(): HeadsFigure {
  const model = buildModel(parseModelConfig({ ...ANCHOR, nLayers: 3 }), 0);
  headScores(model, { nSequences: 1, copyingTokens: 8 }); // warm-up (pools, thread start)
  const t0 = performance.now();
  const r = headScores(model, { vocab: { bos: 0 } });
  return { config: "attn-only 3L dModel 256 8×32 nCtx 512 dVocab 4096", heads: r.heads.length, seconds: (performance.now() - t0) / 1000 };
}

export interface AblationFigure {
  windows: number;
  heads: number;
  seconds: number;
  /** Seconds the default 500 windows would take (both variants, every head). */
  secondsFor500: number;
}

/** Head ablation (zero and pattern-preserving, all 16 heads) of the anchor model on a few windows. */
export function benchAblation(n = 8): AblationFigure {
  const a = anchor();
  const t0 = performance.now();
  const r = headAblation(a.model, a.w, { nWindows: n });
  const seconds = (performance.now() - t0) / 1000;
  return { windows: n, heads: r.heads.length, seconds, secondsFor500: (seconds / n) * 500 };
}

export interface MeasureBench {
  backend: string;
  threads: number;
  icl: IclEvalFigure;
  trainTokensPerSecond: number;
  /** Training tokens/s of each repeat. */
  trainRuns: number[];
  /** ICL evaluation tokens/s ÷ training tokens/s (target ≥ 3). */
  ratio: number;
  heads: HeadsFigure;
  ablation: AblationFigure;
}

/**
 * Everything above in one run. Evaluation and training are timed in alternation (eval, train,
 * eval, train, …) so both see the same machine load (a 2-core machine shared with other work
 * swings by 2–3× from one second to the next); the ratio is of the medians.
 */
export async function benchMeasure(opts: { windows?: number; trainSteps?: number; repeats?: number } = {}): Promise<MeasureBench> {
  const n = Math.min(opts.windows ?? 32, 64);
  const repeats = opts.repeats ?? 3;
  const a = anchor();
  timeIcl(a, 8); // warm-up
  const evalRuns: number[] = [],
    trainRates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    evalRuns.push(timeIcl(a, n));
    trainRates.push(benchTrain("attn-2l-v4096", { steps: opts.trainSteps ?? 3, warmup: 1, repeats: 1 }).tokensPerSecond);
  }
  const icl = iclFigure(a, n, evalRuns);
  const trainTokensPerSecond = median(trainRates);
  const heads = benchHeads();
  const ablation = benchAblation();
  return {
    backend: kernels().name,
    threads: kernels().getThreads(),
    icl,
    trainTokensPerSecond,
    trainRuns: trainRates,
    ratio: icl.tokensPerSecond / trainTokensPerSecond,
    heads,
    ablation,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const r = await benchMeasure({ windows: arg("--windows"), trainSteps: arg("--train-steps"), repeats: arg("--repeats") });
  console.log(`backend: ${r.backend}, threads: ${r.threads}`);
  console.log(
    `icl eval (anchor attn-2l-v4096, ${r.icl.windows} windows): ${r.icl.tokensPerSecond.toFixed(0)} tokens/s fed ` +
      `(${r.icl.windowTokensPerSecond.toFixed(0)} window-tokens/s; 2,000 windows ≈ ${r.icl.secondsFor2000.toFixed(0)} s); ` +
      `all-positions loss ${r.icl.allPositionsTokensPerSecond.toFixed(0)} tokens/s`,
  );
  const rates = r.icl.runs.map((s) => ((r.icl.windows * 500) / s).toFixed(0)).join(", ");
  console.log(`  icl eval runs: ${rates} tokens/s; train runs (alternating): ${r.trainRuns.map((x) => x.toFixed(0)).join(", ")} tokens/s`);
  console.log(`train (same model, same run): ${r.trainTokensPerSecond.toFixed(0)} tokens/s → icl eval / train = ${r.ratio.toFixed(2)}× (target ≥ 3×)`);
  console.log(`head scores (${r.heads.config}, ${r.heads.heads} heads): ${r.heads.seconds.toFixed(2)} s (target < 5 s)`);
  console.log(
    `head ablation (anchor, ${r.ablation.heads} heads × 2 variants, ${r.ablation.windows} windows): ${r.ablation.seconds.toFixed(1)} s; the default 500 windows ≈ ${r.ablation.secondsFor500.toFixed(0)} s`,
  );
}
