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
import { concatWindows, takeWindows, type EvalPolicy } from "./windows.ts";
import { getSource } from "./sources/registry.ts";

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
  /** The end-of-document token (BOS of head-score sequences and task prompts). */
  eodId: number;
  /**
   * Evaluation windows of one source of the mixture, or `natural`: the mixture's non-synthetic
   * sources by their relative weights (same N as the mixture's windows).
   */
  evalFor(sourceId: string): { windows: Int32Array; n: number; length: number };
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
  const evalFor = (id: string) => {
    if (id !== "natural") {
      const w = prepared.evalWindows(id);
      return { windows: w.tokens, n: w.n, length: w.length };
    }
    const natural = prepared.mixture.filter((m) => getSource(m.id, lab).origin !== "synthetic");
    if (natural.length === 0) throw new Error("evalFor('natural'): the mixture has no natural-text source");
    const total = natural.reduce((a, m) => a + m.weight, 0);
    const parts = natural.map((m) => takeWindows(prepared.evalWindows(m.id), Math.max(1, Math.round((ev.n * m.weight) / total))));
    const w = concatWindows(parts, prepared.evalWindows(natural[0].id).policy);
    return { windows: w.tokens, n: w.n, length: w.length };
  };
  return {
    vocabSize: prepared.tokenizer.vocabSize,
    sampler: prepared.train,
    eval: { windows: ev.tokens, n: ev.n, length: ev.length },
    tokenCounts: prepared.tokenCounts(),
    tokenizerPath: prepared.tokenizerPath,
    eodId: prepared.tokenizer.eodId,
    evalFor,
    description:
      `${s.sources.map((x) => `${x.id} ${(x.weight * 100).toFixed(0)}%`).join(", ")}; ${s.tokenizer.id}; ` +
      `${s.uniqueTokens.toLocaleString("en-US")} unique tokens; eval ${ev.n} × ${ev.length} (${ev.policy})`,
    prepared,
  };
}
