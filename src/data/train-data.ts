/**
 * The adapter the trainer (src/train/train.ts) loads: a training config's `data` section in,
 * the trainer's `TrainData` out (sampler, held-out evaluation windows, vocabulary size, token
 * counts, tokenizer file). Typed structurally so the data pipeline does not import the trainer.
 *
 * `config.data.options` may hold `{ evalSeed?: number }` (default 0: every run of every seed is
 * measured on the same windows); any other key is an error that names it.
 */
import { prepareData, type PreparedData } from "./prepare.ts";
import type { TokenizerSpec } from "./tokenizer.ts";
import type { EvalPolicy } from "./windows.ts";

/** The parts of a training config this adapter reads. */
export interface TrainDataConfig {
  seed: number;
  model: { nCtx: number };
  data: {
    sources?: Record<string, number>;
    tokenizer: { kind: "byte" } | { kind: "bpe"; vocab: number; sources?: string[] };
    uniqueTokens?: number;
    evalWindows: number;
    evalPolicy: EvalPolicy;
    options?: Record<string, unknown>;
  };
}

/** What the trainer receives (structurally the trainer's `TrainData`). */
export interface PreparedTrainData {
  vocabSize: number;
  sampler: PreparedData["train"];
  eval: { windows: Int32Array; n: number; length: number };
  tokenCounts: Float64Array;
  tokenizerPath: string;
  description: string;
  /** The full prepared data (per-source windows, statistics). */
  prepared: PreparedData;
}

const KNOWN_OPTIONS = new Set(["evalSeed"]);

/** Prepares the data of a training run (see prepareData for caching and defaults). */
export async function prepareTrainData(config: TrainDataConfig, lab: string, log?: (message: string) => void): Promise<PreparedTrainData> {
  const options = config.data.options ?? {};
  for (const k of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(k)) throw new Error(`data.options: unknown key '${k}' (known: ${[...KNOWN_OPTIONS].join(", ")})`);
  }
  const evalSeed = options.evalSeed ?? 0;
  if (typeof evalSeed !== "number" || !Number.isInteger(evalSeed)) {
    throw new Error(`data.options.evalSeed must be an integer, found ${JSON.stringify(evalSeed)}`);
  }
  const prepared = await prepareData({
    lab,
    log,
    tokenizer: config.data.tokenizer as TokenizerSpec,
    mixture: { sources: config.data.sources, uniqueTokens: config.data.uniqueTokens },
    nCtx: config.model.nCtx,
    evalWindows: config.data.evalWindows,
    evalPolicy: config.data.evalPolicy,
    seed: config.seed,
    evalSeed,
  });
  const ev = prepared.evalWindows();
  const s = prepared.stats;
  return {
    vocabSize: prepared.tokenizer.vocabSize,
    sampler: prepared.train,
    eval: { windows: ev.tokens, n: ev.n, length: ev.length },
    tokenCounts: prepared.tokenCounts(),
    tokenizerPath: prepared.tokenizerPath,
    description:
      `${s.sources.map((x) => `${x.id} ${(x.weight * 100).toFixed(0)}%`).join(", ")}; ${s.tokenizer.id}; ` +
      `${s.uniqueTokens.toLocaleString("en-US")} unique tokens; eval ${ev.n} × ${ev.length} (${ev.policy})`,
    prepared,
  };
}
