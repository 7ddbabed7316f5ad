/**
 * Training-step throughput of the engine: forward + backward + gradient clipping + AdamW on
 * random tokens, for the anchor configurations (keep in step with bench/torch_bench.py), and the
 * resident memory of a long run (issue 2: RSS after 2,000 steps within 10% of RSS after 100).
 * Runnable alone: `node --import tsx bench/train.ts [--memory]`.
 */
import { kernels } from "../src/engine/backend.ts";
import type { Precision } from "../src/engine/precision.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { parameterCount } from "../src/model/model.ts";
import { atThreads, makeStepRunner, timeCalls } from "../src/train/throughput.ts";

export const TRAIN_CONFIGS: Record<string, { model: unknown; batch: number; threads?: number }> = {
  "attn-2l-v4096": { model: { kind: "attn-only", nLayers: 2, dModel: 256, nHeads: 8, dHead: 32, nCtx: 512, dVocab: 4096 }, batch: 8 },
  "attn-2l-v256": { model: { kind: "attn-only", nLayers: 2, dModel: 256, nHeads: 8, dHead: 32, nCtx: 512, dVocab: 256 }, batch: 8 },
  "lstm-2l-v4096": { model: { kind: "lstm", nLayers: 2, dModel: 256, dHidden: 256, nCtx: 512, dVocab: 4096 }, batch: 8 },
  // The demo's 2-layer model, on one thread as the demo runs it (one model per core).
  demo: {
    model: { kind: "attn-only", nLayers: 2, dModel: 64, nHeads: 2, dHead: 32, nCtx: 512, dVocab: 257, positions: "shortformer-pre-ln" },
    batch: 2,
    threads: 1,
  },
};

export { makeStepRunner, type StepRunner } from "../src/train/throughput.ts";

export interface TrainFigure {
  config: string;
  params: number;
  tokensPerSecond: number;
  runs: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * A config's step runner in a precision, timed in rounds: `round()` runs steps at the config's
 * thread count and precision (both restored after) for at least `minSeconds` and `steps` steps and
 * returns tokens/s, so that callers can interleave rounds of several runners (bench.ts: fp32 and
 * bf16, ours and PyTorch's). Warm-up: `warmup` steps and at least `minSeconds` (first calls pay for
 * JIT code, buffer pools and page faults: measured, the demo's first round ran at half speed).
 */
export function trainRounds(
  name: string,
  precision: Precision,
  opts: { steps?: number; warmup?: number; minSeconds?: number } = {},
): { params: number; round(): number } {
  const { steps = 2, warmup = 2, minSeconds = 0.5 } = opts;
  const c = TRAIN_CONFIGS[name];
  const within = <T>(f: () => T): T => atThreads(c.threads, precision, f);
  const r = within(() => makeStepRunner(parseModelConfig(c.model), c.batch));
  const run = (): number => timeCalls(() => r.step(), steps, minSeconds) * r.tokensPerStep;
  within(() => {
    for (let i = 0; i < warmup; i++) r.step();
    run();
  });
  return { params: parameterCount(r.model), round: () => within(run) };
}

export function benchTrain(name: string, opts: { steps?: number; warmup?: number; repeats?: number; precision?: Precision } = {}): TrainFigure {
  const { steps = 4, warmup = 2, repeats = 3, precision = "fp32" } = opts;
  const r = trainRounds(name, precision, { steps, warmup });
  const runs: number[] = [];
  for (let k = 0; k < repeats; k++) runs.push(r.round());
  return { config: name, params: r.params, tokensPerSecond: median(runs), runs };
}

/** RSS after `early` and after `late` anchor steps. */
export function benchMemory(
  early = 100,
  late = 2000,
  name = "attn-2l-v4096",
): { early: number; late: number; rssEarlyMiB: number; rssLateMiB: number; ratio: number } {
  const c = TRAIN_CONFIGS[name];
  const r = makeStepRunner(parseModelConfig(c.model), c.batch);
  let rssEarly = 0;
  for (let i = 1; i <= late; i++) {
    r.step();
    if (i === early) {
      global.gc?.();
      rssEarly = process.memoryUsage().rss;
    }
  }
  global.gc?.();
  const rssLate = process.memoryUsage().rss;
  return { early, late, rssEarlyMiB: rssEarly / 2 ** 20, rssLateMiB: rssLate / 2 ** 20, ratio: rssLate / rssEarly };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`backend: ${kernels().name}, threads: ${kernels().getThreads()}`);
  if (process.argv.includes("--memory")) {
    const late = Number(process.argv[process.argv.indexOf("--memory") + 1]) || 2000;
    const m = benchMemory(100, late);
    console.log(
      `memory: RSS after ${m.early} steps ${m.rssEarlyMiB.toFixed(0)} MiB, after ${m.late} steps ${m.rssLateMiB.toFixed(0)} MiB (ratio ${m.ratio.toFixed(3)})`,
    );
  } else {
    for (const name of Object.keys(TRAIN_CONFIGS)) {
      const f = benchTrain(name);
      console.log(`train ${name}: ${f.tokensPerSecond.toFixed(0)} tokens/s (params ${f.params}; runs ${f.runs.map((x) => x.toFixed(0)).join(", ")})`);
    }
  }
}
