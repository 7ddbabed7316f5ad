/**
 * A run's measurements: resolving the names of its config to functions (the registry's, or
 * `icl@SOURCE`), storing their results in the runs store, and running them once on a model without
 * storing anything (what a checkpoint's measurements cost: the wall-time budgets time it).
 */
import type { RunStore } from "../store/run-store.ts";
import type { JsonValue } from "../model/checkpoint.ts";
import type { LanguageModel } from "../model/model.ts";
import { iclAtSource, stored } from "../measure/names.ts";
import { inputsFromData } from "../measure/run-inputs.ts";
import type { TrainConfig } from "./config.ts";
import type { MeasureFn, MeasureValue, TrainData } from "./types.ts";

async function defaultMeasures(): Promise<Record<string, MeasureFn>> {
  const { MEASURES } = await import("../measure/index.ts");
  return MEASURES;
}

/**
 * A measurement by name: one of the registry's, or `icl@SOURCE` — the `icl` measure on the
 * evaluation windows of one source of the mixture (`icl@natural`: its natural-text sources).
 */
export function resolveMeasure(name: string, registry: Record<string, MeasureFn>, data: TrainData): MeasureFn {
  if (Object.hasOwn(registry, name)) return registry[name];
  const source = iclAtSource(name);
  if (source !== null && Object.hasOwn(registry, "icl") && data.evalFor !== undefined) {
    const ev = data.evalFor(source); // validates the source now, before any training
    const icl = registry.icl;
    return (model, ctx) => icl(model, { ...ctx, data: { ...ctx.data, eval: ev } });
  }
  throw new Error(`invalid training config: measures: unknown measurement '${name}' (known: ${Object.keys(registry).join(", ")}, icl@SOURCE)`);
}

/** The config's measurements by name, from `registry` (default: src/measure's registry); an unknown name is an error. */
export async function resolveMeasures(config: TrainConfig, data: TrainData, registry?: Record<string, MeasureFn>): Promise<Record<string, MeasureFn>> {
  const reg = registry ?? (config.measures.length > 0 ? await defaultMeasures() : {});
  const measures: Record<string, MeasureFn> = {};
  for (const m of config.measures) measures[m] = resolveMeasure(m, reg, data);
  return measures;
}

/**
 * Runs the config's measurements once on `model` as a checkpoint would (inputs derived from the
 * data, nothing stored) and returns the seconds they took.
 */
export async function timeMeasurements(config: TrainConfig, data: TrainData, model: LanguageModel): Promise<number> {
  const measures = await resolveMeasures(config, data);
  const inputs = inputsFromData(config, data);
  const t0 = performance.now();
  for (const name of config.measures) await measures[name](model, { data, tokens: 0, seed: inputs.seed, options: inputs.options, inputs });
  return (performance.now() - t0) / 1000;
}

/**
 * Stores a measurement's results under `<measure>.<key>`: numbers as metrics, non-empty numeric
 * arrays and tensors as vectors, the rest (an empty array included) as JSON. Also used for the
 * experiments' final measurements (src/experiments/runner.ts).
 */
export function storeResults(store: RunStore, runId: string, tokens: number, measure: string, r: Record<string, MeasureValue>): void {
  const scalars: Record<string, number> = {};
  for (const [key, v] of Object.entries(r)) {
    const name = stored(measure, key);
    if (typeof v === "number") scalars[name] = v;
    else if (v === null) scalars[name] = NaN;
    else if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number"))
      store.logVector(runId, tokens, name, Float64Array.from(v as number[]), [v.length]);
    else if (typeof v === "object" && v !== null && "data" in v && "shape" in v && Array.isArray((v as { shape: unknown }).shape)) {
      const t = v as { data: ArrayLike<number>; shape: number[] };
      store.logVector(runId, tokens, name, Float64Array.from(t.data), t.shape);
    } else store.logJson(runId, tokens, name, v as JsonValue);
  }
  if (Object.keys(scalars).length > 0) store.logMetrics(runId, tokens, scalars);
}
