/**
 * Sweep specs: a grid of training runs described as data, read from JSON or YAML and validated
 * strictly (an unknown key or a wrong type is an error naming the field, e.g. `axes.model.nLayer`).
 *
 *   name: layers-by-seed          # the sweep's identity: runs' experiment and name default to it
 *   preset: tiny                  # optional: start from a preset (src/experiments/presets.ts) …
 *   base:                         # … and/or a training config (src/train/config.ts), merged over it
 *     tokens: 200000
 *   axes:                         # dotted config paths → the values to try (the grid is their product)
 *     model.nLayers: [1, 2]
 *     data.sources: [{ brown: 1 }, { brown: 1, legal: 1 }]
 *   seeds: [0, 1]                 # innermost axis: `seed`
 *
 * The spec only checks its own shape here; expand.ts checks every expanded run's config with the
 * trainer's parser before anything runs.
 */
import { existsSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { z } from "zod";
import { parse as parseYaml } from "yaml";

/** The characters of a run name (src/train/config.ts): the sweep's name becomes its runs' name. */
export const SWEEP_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** A dotted path into a training config: `model.nLayers`, `data.tokenizer.vocab`. */
export const CONFIG_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export const SweepSpec = z.strictObject({
  name: z.string().regex(SWEEP_NAME, "letters, digits, '.', '_' or '-' (1-64)"),
  description: z.string().optional(),
  /** A preset name; `base` is merged over its config. */
  preset: z.string().optional(),
  /** A training-config input (defaults and dVocab are filled in by the trainer's parser). */
  base: z.record(z.string(), z.unknown()).default({}),
  /** Config path → values; runs are the product of all axes, the first varying slowest. */
  axes: z.record(z.string().regex(CONFIG_PATH), z.array(z.unknown()).min(1, "expected a non-empty list of values")).default({}),
  /** Seeds, the innermost axis (default: the base config's seed). */
  seeds: z.array(z.number().int().min(0)).min(1, "expected a non-empty list of seeds").optional(),
});
export type SweepSpec = z.infer<typeof SweepSpec>;

/** Zod issues as `field.path: message`, one per problem. */
function formatSpecIssues(error: z.ZodError): string {
  return error.issues
    .flatMap((i) => {
      const path = i.path.map(String);
      if (i.code === "unrecognized_keys") {
        const known = path.length === 0 ? ` (a spec has ${Object.keys(SweepSpec.shape).join(", ")})` : "";
        return i.keys.map((k) => `${[...path, k].join(".")}: unknown key${known}`);
      }
      // A key that fails its pattern: zod says only "Invalid key in record".
      if (i.code === "invalid_key") return [`${path.join(".")}: not a dotted config path (letters, digits, '_' and '-' between dots)`];
      return [`${path.length ? path.join(".") : "(root)"}: ${i.message}`];
    })
    .join("; ");
}

/** Validates a spec object; `source` names it in errors (a file path). */
export function parseSweepSpec(input: unknown, source = "sweep spec"): SweepSpec {
  if (!isPlainObject(input)) {
    throw new Error(
      `${source}: expected an object with name, base, axes and seeds, found ${Array.isArray(input) ? "a list" : input === null ? "null" : typeof input}`,
    );
  }
  const r = SweepSpec.safeParse(input);
  if (!r.success) throw new Error(`${source}: ${formatSpecIssues(r.error)}`);
  const spec = r.data;
  if (spec.seeds !== undefined && "seed" in spec.axes) {
    throw new Error(`${source}: axes.seed: give seeds either as 'seeds' or as an axis, not both`);
  }
  const dup = spec.seeds?.find((s, i) => spec.seeds!.indexOf(s) !== i);
  if (dup !== undefined) throw new Error(`${source}: seeds: ${dup} appears twice`);
  for (const path of Object.keys(spec.axes)) {
    // An axis inside another axis would be overwritten by it: ambiguous, so an error.
    const outer = Object.keys(spec.axes).find((p) => p !== path && path.startsWith(`${p}.`));
    if (outer !== undefined) throw new Error(`${source}: axes.${path}: lies inside axis '${outer}', which replaces it`);
  }
  return spec;
}

/** Reads a spec file: JSON (`.json`) or YAML (`.yaml`, `.yml`; other names are tried as YAML, a superset of JSON). */
export function loadSweepSpec(file: string): SweepSpec {
  if (!existsSync(file)) throw new Error(`sweep spec ${file} does not exist`);
  const text = readFileSync(file, "utf8");
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw new Error(`sweep spec ${file} is not valid ${extname(file).toLowerCase() === ".json" ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`);
  }
  return parseSweepSpec(data, `sweep spec ${file}`);
}
