/**
 * The one place a run's measurement inputs (src/measure/inputs.ts) are decided and read back:
 *
 *   - `ensureMeasureInputs`: the trainer, when a run starts (or resumes): stores the inputs derived
 *     from the run's data unless the run has some; the stored ones are what its checkpoints use;
 *   - `storedMeasureInputs` (defined in inputs.ts, which the dashboard's page may bundle): the
 *     run's stored inputs, or null (runs trained before they were stored); for readers that cannot
 *     rebuild the data (the report's data and figure, the dashboard);
 *   - `measureInputs`: the stored inputs, else derived exactly as the trainer derived them, from
 *     the run's training data rebuilt from its stored config (slower: the data pipeline runs).
 *
 * Readers get the store from their caller; the data pipeline is imported only to derive.
 */
import type { RunStore } from "../store/run-store.ts";
import { deriveMeasureInputs, inputsDiffer, measureInputsToJson, storedMeasureInputs, type MeasureInputs, type MeasureOptions } from "./inputs.ts";

export { storedMeasureInputs };

/** What deriving needs from a run's training data (structurally the trainer's TrainData). */
export interface InputsData {
  eodId?: number;
  tokenCounts?: ArrayLike<number>;
}

/** The parts of a stored training config deriving reads. */
interface RunConfig {
  seed: number;
  model: { dVocab: number; nCtx: number };
  measureOptions?: MeasureOptions;
}

/** The inputs the trainer derives for a run from its resolved config and data. */
export function inputsFromData(config: RunConfig, data: InputsData): MeasureInputs {
  return deriveMeasureInputs(config.model, { seed: config.seed, bos: data.eodId ?? null, frequencies: data.tokenCounts, options: config.measureOptions ?? {} });
}

/**
 * The inputs for the run's measurements: the stored ones, else `derived` (stored now). `differs`
 * says what differs when both exist (the run's data or options changed since it started: its
 * checkpoints keep being measured with the stored inputs).
 */
export function ensureMeasureInputs(store: RunStore, runId: string, derived: MeasureInputs): { inputs: MeasureInputs; stored: boolean; differs: string } {
  const existing = storedMeasureInputs(store, runId);
  if (existing === null) {
    store.setMeasureInputs(runId, measureInputsToJson(derived));
    // Another process may have stored first: read back what the run now holds.
    const now = storedMeasureInputs(store, runId)!;
    return { inputs: now, stored: true, differs: inputsDiffer(now, derived) };
  }
  return { inputs: existing, stored: false, differs: inputsDiffer(existing, derived) };
}

export interface MeasureInputsResult {
  inputs: MeasureInputs;
  /** "stored": written when the run trained; "derived": rebuilt from its data now (a run trained before inputs were stored). */
  source: "stored" | "derived";
}

/**
 * The run's inputs: stored, else derived from its training data — `opts.data` when the caller has
 * it, else the data pipeline on the run's stored config in `opts.lab` (default: the store's lab).
 * With `save`, derived inputs are stored with the run (they are the ones its trainer used).
 */
export async function measureInputs(
  store: RunStore,
  runId: string,
  opts: { lab?: string; data?: InputsData | (() => Promise<InputsData>); save?: boolean } = {},
): Promise<MeasureInputsResult> {
  const stored = storedMeasureInputs(store, runId);
  if (stored !== null) return { inputs: stored, source: "stored" };
  const info = store.getRun(runId);
  if (info === undefined) throw new Error(`measureInputs: no run '${runId}' in ${store.labDir}`);
  if (info.corrupt) throw new Error(`measureInputs: run '${runId}' has a corrupt stored config (${info.corrupt})`);
  const config = info.config as RunConfig;
  let data: InputsData;
  if (typeof opts.data === "function") data = await opts.data();
  else if (opts.data !== undefined) data = opts.data;
  else {
    const { prepareTrainData } = await import("../data/train-data.ts");
    data = await prepareTrainData(info.config as never, opts.lab ?? store.labDir);
  }
  const inputs = inputsFromData(config, data);
  if (opts.save) return { inputs: ensureMeasureInputs(store, runId, inputs).inputs, source: "derived" };
  return { inputs, source: "derived" };
}
