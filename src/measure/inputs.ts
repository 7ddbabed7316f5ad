/**
 * A run's measurement inputs: what every measurement of the run holds fixed besides the model and
 * the evaluation windows — the seed of the random choices, the BOS token, the token pools the head
 * scores and the few-shot tasks draw random tokens from, and the per-measure options. The trainer
 * derives them once from the run's training data (`deriveMeasureInputs`) and stores them with the
 * run (src/measure/run-inputs.ts); every later reader — the trainer's checkpoints after a resume,
 * the experiments' final measurements, `icl-lab measure`, the report's attention figure, the
 * dashboard's attention view — uses the stored ones, so one named score means one thing.
 *
 * Why the pools are stored rather than re-derived from the data on every read: they depend on the
 * token frequencies of the whole training mixture, which only the data pipeline knows (minutes to
 * rebuild, and a changed corpus or tokenizer would silently change them); stored, a reader needs
 * nothing but the lab. They are small (at most dVocab ids).
 */
import type { RunStore } from "../store/run-store.ts";
import type { HeadScoreOptions } from "./heads.ts";
import { headScorePool, taskPool } from "./token-pool.ts";
import { canonicalJson } from "../util/json.ts";

/** Per-measure option overrides by measure name, as a training config's `measureOptions`. */
export type MeasureOptions = Record<string, Record<string, unknown>>;

export interface MeasureInputs {
  /** Seed of every random choice of the measures (the run's seed). */
  seed: number;
  /** Token prepended to head-score sequences and task prompts (the end-of-document token); null: none. */
  bos: number | null;
  /** Token ids random sequences draw from: the head scores' and the few-shot tasks' (ascending frequency). */
  pools: { heads: Int32Array; tasks: Int32Array };
  /** The run's `measureOptions`. */
  options: MeasureOptions;
}

/**
 * The inputs of a run's measurements, from its model config, seed, measure options and training
 * data (end-of-document token, token counts; without counts every token but BOS is eligible).
 */
export function deriveMeasureInputs(
  model: { dVocab: number; nCtx: number },
  opts: { seed: number; bos?: number | null; frequencies?: ArrayLike<number>; options?: MeasureOptions },
): MeasureInputs {
  const bos = opts.bos ?? null;
  const vocab = { bos, frequencies: opts.frequencies };
  const headOptions = (opts.options?.heads ?? {}) as HeadScoreOptions;
  return {
    seed: opts.seed,
    bos,
    pools: { heads: headScorePool(model, { ...headOptions, vocab }), tasks: taskPool(model.dVocab, vocab) },
    options: structuredClone(opts.options ?? {}),
  };
}

/** The stored form (JSON): pools as plain arrays. */
export interface MeasureInputsJson {
  version: 1;
  seed: number;
  bos: number | null;
  pools: { heads: number[]; tasks: number[] };
  options: MeasureOptions;
}

export function measureInputsToJson(m: MeasureInputs): MeasureInputsJson {
  return { version: 1, seed: m.seed, bos: m.bos, pools: { heads: Array.from(m.pools.heads), tasks: Array.from(m.pools.tasks) }, options: m.options };
}

/** Reads the stored form back; a malformed one is an error that says what is wrong. */
export function measureInputsFromJson(v: unknown, what = "measurement inputs"): MeasureInputs {
  const o = v as Partial<MeasureInputsJson> | null;
  const ids = (x: unknown) => Array.isArray(x) && x.every((t) => Number.isSafeInteger(t) && (t as number) >= 0);
  if (o === null || typeof o !== "object" || o.version !== 1)
    throw new Error(`${what}: expected an object with version 1, found ${JSON.stringify(v)?.slice(0, 80)}`);
  if (!Number.isSafeInteger(o.seed)) throw new Error(`${what}: 'seed' must be an integer, found ${JSON.stringify(o.seed)}`);
  if (o.bos !== null && !Number.isSafeInteger(o.bos)) throw new Error(`${what}: 'bos' must be a token id or null, found ${JSON.stringify(o.bos)}`);
  if (!o.pools || !ids(o.pools.heads) || !ids(o.pools.tasks)) throw new Error(`${what}: 'pools' must hold 'heads' and 'tasks' lists of token ids`);
  if (o.options === null || typeof o.options !== "object" || Array.isArray(o.options)) throw new Error(`${what}: 'options' must be an object`);
  return { seed: o.seed!, bos: o.bos ?? null, pools: { heads: Int32Array.from(o.pools.heads), tasks: Int32Array.from(o.pools.tasks) }, options: o.options };
}

/**
 * The run's stored inputs, or null when it has none (trained before they were stored). A malformed
 * stored value is an error. (Here rather than in run-inputs.ts so that the report's data, which the
 * dashboard's page also bundles, reads them without the data pipeline.)
 */
export function storedMeasureInputs(store: RunStore, runId: string): MeasureInputs | null {
  const v = store.measureInputs(runId);
  return v === null ? null : measureInputsFromJson(v, `the stored measurement inputs of run '${runId}'`);
}

/** What differs between two sets of inputs ("" when none), for messages. */
export function inputsDiffer(a: MeasureInputs, b: MeasureInputs): string {
  const out: string[] = [];
  if (a.seed !== b.seed) out.push(`seed ${a.seed} vs ${b.seed}`);
  if (a.bos !== b.bos) out.push(`BOS ${a.bos} vs ${b.bos}`);
  for (const k of ["heads", "tasks"] as const) {
    const p = a.pools[k],
      q = b.pools[k];
    if (p.length !== q.length || p.some((t, i) => t !== q[i])) out.push(`${k} pool of ${p.length} vs ${q.length} tokens`);
  }
  if (canonicalJson(a.options) !== canonicalJson(b.options)) out.push("measure options");
  return out.join(", ");
}
