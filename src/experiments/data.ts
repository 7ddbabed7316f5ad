/**
 * The experiments' data factory: the trainer's data pipeline (src/data/train-data.ts) plus
 * evaluation sets beyond the training mixture, which the corpus experiments need to compare
 * models trained on different corpora on the same text:
 *
 *   - `icl@SOURCE` for a SOURCE the run does not train on: SOURCE's own held-out windows under the
 *     run's tokenizer (the same windows a model trained on SOURCE is measured on);
 *   - `icl@common`: the common evaluation set, equal shares of the held-out windows of the sources
 *     listed in the run's `measureOptions["icl@common"].sources` (N windows in all, N = the run's
 *     `data.evalWindows`). With equal shares, its ICL score is the mean of the per-source scores.
 *
 * Every run's windows of a source are the same windows (the held-out split depends only on the
 * documents' content, the windows on `evalSeed`), whichever mixture the run trains on.
 *
 * Exported as `data` so that the sweep's trainer processes load it (`--data-module`, see
 * src/sweep/trainer-child.ts); runner.ts passes it to `train()` when it trains in-process.
 */
import { prepareTrainData } from "../data/train-data.ts";
import { buildTokenStore } from "../data/token-store.ts";
import { splitDocuments } from "../data/split.ts";
import { apportion } from "../data/mixture.ts";
import { concatWindows, sourceEvalWindows, takeWindows, type EvalWindows } from "../data/windows.ts";
import type { DataFactory, TrainData } from "../train/train.ts";
import { iclAt, iclAtSource } from "../measure/names.ts";

/** The measure name of the common evaluation set. */
export const COMMON = "common";

/** The sources of a run's common evaluation set (from its measureOptions), or null. */
export function commonSources(config: { measureOptions?: Record<string, Record<string, unknown>> }): string[] | null {
  const s = config.measureOptions?.[iclAt(COMMON)]?.sources;
  if (s === undefined) return null;
  if (!Array.isArray(s) || s.length === 0 || !s.every((x) => typeof x === "string")) {
    throw new Error(`measureOptions["icl@${COMMON}"].sources must be a non-empty list of source ids, found ${JSON.stringify(s)}`);
  }
  return s as string[];
}

/** Sources a run is measured on beyond its mixture: `icl@X` measures and the common set's sources. */
export function extraEvalSources(config: {
  measures: readonly string[];
  data: { sources?: Record<string, number> };
  measureOptions?: Record<string, Record<string, unknown>>;
}): string[] {
  const inMixture = new Set(Object.keys(config.data.sources ?? {}));
  const out = new Set<string>();
  for (const m of config.measures) {
    const source = iclAtSource(m);
    if (source === null || source === "natural" || source === COMMON) continue;
    if (!inMixture.has(source)) out.add(source);
  }
  if (config.measures.includes(iclAt(COMMON))) {
    const common = commonSources(config);
    if (common === null) throw new Error(`measure 'icl@${COMMON}' needs measureOptions["icl@${COMMON}"].sources (the sources of the common evaluation set)`);
    for (const id of common) if (!inMixture.has(id)) out.add(id);
  }
  return [...out];
}

type Windows = { windows: Int32Array; n: number; length: number };

const asTrain = (w: EvalWindows): Windows => ({ windows: w.tokens, n: w.n, length: w.length });

export const data: DataFactory = async (config, lab) => {
  const d = await prepareTrainData(config, lab);
  const extra = extraEvalSources(config);
  const wantsCommon = config.measures.includes(iclAt(COMMON));
  if (extra.length === 0 && !wantsCommon) return d;
  const prepared = d.prepared;
  const n = config.data.evalWindows;
  const policy = config.data.evalPolicy;
  const evalSeed = typeof config.data.options?.evalSeed === "number" ? config.data.options.evalSeed : 0;
  const own = new Map<string, EvalWindows>();
  for (const id of extra) {
    const store = await buildTokenStore(id, prepared.tokenizer, { lab });
    const split = splitDocuments(store.manifest.docOffsets, store.manifest.docHashes);
    own.set(
      id,
      sourceEvalWindows(store.tokens, split.heldOut, { sourceId: id, nCtx: config.model.nCtx, n, policy, evalSeed, eodId: prepared.tokenizer.eodId }),
    );
  }
  const windowsOf = (id: string): EvalWindows => own.get(id) ?? prepared.evalWindows(id);
  let common: Windows | null = null;
  if (wantsCommon) {
    const ids = commonSources(config)!;
    const shares = apportion(
      n,
      ids.map(() => 1 / ids.length),
    );
    common = asTrain(
      concatWindows(
        ids.map((id, i) => takeWindows(windowsOf(id), Math.max(1, shares[i]))),
        policy,
      ),
    );
  }
  const out: TrainData = {
    ...d,
    evalFor(id: string) {
      if (id === COMMON && common !== null) return common;
      const w = own.get(id);
      return w !== undefined ? asTrain(w) : d.evalFor(id);
    },
    description: `${d.description}; also measured on ${[...(wantsCommon ? [`the common set (${commonSources(config)!.join(", ")})`] : []), ...extra].join(", ")}`,
  };
  return out;
};
