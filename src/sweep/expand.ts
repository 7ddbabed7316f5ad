/**
 * A sweep spec expanded into its runs: the product of the axes (first axis slowest, seeds
 * innermost), each a training-config input for `train()` with its run id, checked with the
 * trainer's schemas before anything runs. Problems are attributed to the spec field that caused
 * them: `axes.model.nLayer: unknown config key`, `axes.model.nLayers[1]: Too small: …`,
 * `base.optim.lr: …`.
 *
 * The run id is the trainer's `runIdFor(resolved config)`. The resolved config holds `dVocab`,
 * which the tokenizer decides; it is predicted here (an explicit `model.dVocab`, 257 for bytes,
 * the requested BPE size). The prediction is exact except when a BPE tokenizer's training text
 * allows fewer tokens than asked: the trainer's id then differs, and the sweep learns it from the
 * worker (`findRun()` matches such a run by config).
 */
import type { z } from "zod";
import { ModelConfig, parseModelConfig } from "../model/config.ts";
import { presetConfig } from "../train/presets.ts";
import { TrainConfig as TrainConfigSchema, canonicalJson, parseTrainConfig, resolveModel, runIdFor, type TrainConfig } from "../train/config.ts";
import type { RunInfo, RunStore } from "../store/run-store.ts";
import type { SweepSpec } from "./spec.ts";
import { iclAtSource } from "../measure/names.ts";

export interface SweepRun {
  /** Position in the grid (0-based). */
  index: number;
  /** The run id the trainer gives it (see the module comment for when it is a prediction). */
  id: string;
  /** The training-config input handed to `train()`. */
  config: Record<string, unknown>;
  /** The resolved config (defaults filled in, dVocab predicted), as the runs store holds it. */
  resolved: TrainConfig;
  /** The value taken on each axis, in axis order (seed last when `seeds` is given). */
  varied: Array<{ path: string; value: unknown }>;
}

export interface ExpandOptions {
  /** Measurement names a config may request (default: src/measure's registry). */
  measureNames?: readonly string[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** `b` merged into `a`: objects merge key by key, anything else in `b` replaces. */
function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** Sets a dotted path in `config` (in place), creating objects on the way. */
function setPath(config: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = config;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = node[parts[i]];
    if (next === undefined) node[parts[i]] = {};
    else if (!isPlainObject(next)) {
      throw new SpecError(`axes.${path}: ${parts.slice(0, i + 1).join(".")} is ${JSON.stringify(next)} in the base config, not an object`);
    }
    node = node[parts[i]] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = structuredClone(value);
}

/** A problem with the spec, its message naming the field. */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpecError";
  }
}

/** The vocabulary size the tokenizer will have, as far as the config tells. */
export function predictVocab(parsed: { model: Record<string, unknown>; data: { tokenizer: { kind: string; vocab?: number } } }): number {
  if (typeof parsed.model.dVocab === "number") return parsed.model.dVocab;
  return parsed.data.tokenizer.kind === "bpe" ? (parsed.data.tokenizer.vocab ?? 4096) : 257;
}

interface Issue {
  path: string[];
  message: string;
  unknownKey: boolean;
}

function zodIssues(error: z.ZodError, prefix: string[] = []): Issue[] {
  return error.issues.flatMap((i): Issue[] =>
    i.code === "unrecognized_keys"
      ? i.keys.map((k) => ({ path: [...prefix, ...i.path.map(String), k], message: "unknown config key", unknownKey: true }))
      : [{ path: [...prefix, ...i.path.map(String)], message: i.message, unknownKey: false }],
  );
}

/** Checks one run's config as the trainer will; returns the resolved config or the issues. */
function checkConfig(config: Record<string, unknown>, measureNames: readonly string[]): { resolved: TrainConfig } | { issues: Issue[] } {
  const top = TrainConfigSchema.safeParse(config);
  if (!top.success) return { issues: zodIssues(top.error) };
  const model = top.data.model;
  if (!isPlainObject(model)) return { issues: [{ path: ["model"], message: "expected an object with a 'kind'", unknownKey: false }] };
  const parsed = { ...top.data, model };
  const m = ModelConfig.safeParse({ ...model, dVocab: predictVocab(parsed) });
  if (!m.success) return { issues: zodIssues(m.error, ["model"]) };
  const issues: Issue[] = [];
  parsed.measures.forEach((name, i) => {
    // `icl@SOURCE`: the icl measure on one source's windows; the trainer checks SOURCE against the data.
    const known = measureNames.includes(name) || (measureNames.includes("icl") && iclAtSource(name) !== null);
    if (!known)
      issues.push({
        path: ["measures", String(i)],
        message: `unknown measurement '${name}' (known: ${measureNames.join(", ")}${measureNames.includes("icl") ? ", icl@SOURCE" : ""})`,
        unknownKey: false,
      });
  });
  if (issues.length) return { issues };
  // The trainer's own parser has the last word (cross-field rules such as rotary needing an even dHead).
  try {
    const p = parseTrainConfig(config);
    const resolved = { ...p, model: parseModelConfig(resolveModel(p.model, predictVocab(p))) } as TrainConfig;
    return { resolved };
  } catch (e) {
    return { issues: [{ path: [], message: (e as Error).message, unknownKey: false }] };
  }
}

/** Renders one axis value compactly: `2`, `rotary`, `{"brown":1}`. */
export function formatValue(v: unknown): string {
  return typeof v === "string" && /^[\w.-]+$/.test(v) ? v : JSON.stringify(v);
}

export function formatVaried(varied: SweepRun["varied"]): string {
  return varied.map((a) => `${a.path}=${formatValue(a.value)}`).join(" ");
}

/** The values a run varies, by path (`{ "model.nLayers": 2 }`), for JSON output. */
export function variedValues(varied: SweepRun["varied"]): Record<string, unknown> {
  return Object.fromEntries(varied.map((v) => [v.path, v.value]));
}

/** The config every run starts from: the preset (if any), the base merged over it, name/experiment defaulted to the sweep's name. */
export function baseConfig(spec: SweepSpec): Record<string, unknown> {
  let base: Record<string, unknown> = structuredClone(spec.base);
  if (spec.preset !== undefined) {
    let preset: Record<string, unknown>;
    try {
      preset = presetConfig(spec.preset);
    } catch (e) {
      throw new SpecError(`preset: ${(e as Error).message}`);
    }
    base = deepMerge(preset, base);
  }
  // A preset's own name would hide the sweep's; an explicit base.name is the user's choice.
  if (spec.base.name === undefined) base.name = spec.name;
  if (base.experiment === undefined) base.experiment = spec.name;
  return base;
}

/** Expands and checks a spec; throws a SpecError naming the field at fault. */
export async function expandSweep(spec: SweepSpec, options: ExpandOptions = {}): Promise<SweepRun[]> {
  // src/measure is large: loaded only when the caller does not name the measurements.
  const measureNames = options.measureNames ?? (await import("../measure/index.ts")).MEASURE_NAMES;
  const base = baseConfig(spec);
  const axes: Array<{ path: string; values: unknown[]; label: (i: number) => string }> = Object.entries(spec.axes).map(([path, values]) => ({
    path,
    values,
    label: (i) => `axes.${path}[${i}]`,
  }));
  if (spec.seeds !== undefined) axes.push({ path: "seed", values: spec.seeds, label: (i) => `seeds[${i}]` });

  const combos: number[][] = [[]];
  for (const axis of axes) {
    const next: number[][] = [];
    for (const c of combos) for (let i = 0; i < axis.values.length; i++) next.push([...c, i]);
    combos.splice(0, combos.length, ...next);
  }

  const runs: SweepRun[] = [];
  const problems = new Set<string>();
  let failing = 0;
  for (const combo of combos) {
    const config = structuredClone(base);
    combo.forEach((vi, ai) => setPath(config, axes[ai].path, axes[ai].values[vi]));
    const varied = combo.map((vi, ai) => ({ path: axes[ai].path, value: axes[ai].values[vi] }));
    const r = checkConfig(config, measureNames);
    if ("issues" in r) {
      failing++;
      for (const issue of r.issues) problems.add(attribute(issue, axes, combo, varied));
      continue;
    }
    runs.push({ index: runs.length, id: runIdFor(r.resolved), config, resolved: r.resolved, varied });
  }
  if (problems.size > 0) {
    const list = [...problems];
    const shown = list.slice(0, 6).join("; ") + (list.length > 6 ? `; … (${list.length - 6} more)` : "");
    throw new SpecError(`${shown}${combos.length > 1 ? ` (${failing} of ${combos.length} runs invalid)` : ""}`);
  }
  const seen = new Map<string, SweepRun>();
  for (const run of runs) {
    const other = seen.get(run.id);
    if (other) {
      throw new SpecError(
        `axes: runs ${other.index + 1} (${formatVaried(other.varied)}) and ${run.index + 1} (${formatVaried(run.varied)}) have the same config (run id ${run.id}); is a value listed twice?`,
      );
    }
    seen.set(run.id, run);
  }
  return runs;
}

/** Names the spec field an issue comes from: an axis (with the value's index) or the base. */
function attribute(issue: Issue, axes: Array<{ path: string; label: (i: number) => string }>, combo: number[], varied: SweepRun["varied"]): string {
  const at = issue.path.join(".");
  for (let ai = 0; ai < axes.length; ai++) {
    const p = axes[ai].path;
    if (issue.unknownKey && (at === p || p.startsWith(`${at}.`))) {
      return at === p ? `axes.${p}: unknown config key` : `axes.${p}: unknown config key '${at}'`;
    }
    if (at === p || at.startsWith(`${p}.`)) return `${axes[ai].label(combo[ai])}${formatPath(issue.path.slice(p.split(".").length))}: ${issue.message}`;
  }
  if (at === "") return varied.length ? `run ${formatVaried(varied)}: ${issue.message}` : issue.message;
  return `base${formatPath(issue.path)}: ${issue.message}`;
}

/** `.data.sources`, `[0]`: a path inside a config as it is written after a field name. */
const formatPath = (path: readonly string[]): string => path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("");

/**
 * The stored run of a sweep run: by its id, else (a BPE tokenizer smaller than asked) the run of
 * the same experiment whose config equals the resolved one apart from `model.dVocab`.
 */
export function findRun(store: RunStore, run: SweepRun): RunInfo | undefined {
  const exact = store.getRun(run.id);
  if (exact) return exact;
  if (run.resolved.data.tokenizer.kind !== "bpe" || run.config.model === undefined || (run.config.model as Record<string, unknown>).dVocab !== undefined)
    return undefined;
  const strip = (c: unknown) => {
    const copy = structuredClone(c) as { model?: Record<string, unknown> };
    if (copy.model) delete copy.model.dVocab;
    return canonicalJson(copy);
  };
  const want = strip(run.resolved);
  return store.listRuns({ experiment: run.resolved.experiment }).find((r) => r.config !== null && strip(r.config) === want);
}
