/**
 * The training checkpoint: everything exact resume needs (parameters, AdamW moments, random and
 * data-sampler state) in one safetensors file per checkpoint, `<dir>/ckpt-<tokens>.safetensors`, with
 * the JSON parts in `__metadata__` so that the header checksum covers them (the codec is
 * src/model/safetensors.ts). Also: listing a run's checkpoints and finding the newest one that
 * verifies.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { CheckpointCorruptError, loadTensors, saveTensors, type FileTensor, type LoadedTensor, type SavedFile } from "./safetensors.ts";

/** JSON data that survives a round trip unchanged: no undefined, NaN, Infinity, bigint or class instances. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface OptimizerState {
  /** AdamW first moments, keyed like `params`. */
  m: Record<string, FileTensor>;
  /** AdamW second moments, keyed like `params`. */
  v: Record<string, FileTensor>;
  /** Number of optimizer steps taken (bias correction depends on it). */
  step: number;
}

/**
 * Everything a run needs to continue exactly. Only `params` is required: a checkpoint kept only for
 * measurement may omit the rest, and is then not resumable.
 */
export interface TrainingState {
  params: Record<string, FileTensor>;
  optimizer?: OptimizerState;
  /** The random generator's state, as JSON (encode 64-bit words as strings). */
  rng?: JsonValue;
  /** The data sampler's state (position in the token stream, epoch, shuffle seed...), as JSON. */
  data?: JsonValue;
  /** Anything else the trainer wants back (resolved config hash, schedule position...), as JSON. */
  extra?: JsonValue;
}

export interface Checkpoint {
  path: string;
  tokens: number;
  params: Record<string, LoadedTensor>;
  optimizer?: { m: Record<string, LoadedTensor>; v: Record<string, LoadedTensor>; step: number };
  rng?: JsonValue;
  data?: JsonValue;
  extra?: JsonValue;
  /** SHA-256 of the file's data section (what the runs store records). */
  sha256: string;
  /**
   * The file's format version: 2 since shortformer positions follow TransformerLens (added after
   * ln1); a version-1 file of a `shortformer` model was trained with them added before ln1 and
   * loads only as `shortformer-pre-ln` (src/model/load.ts refuses it otherwise).
   */
  formatVersion: number;
}

const FORMAT = "icl-lab-checkpoint";
const FORMAT_VERSION = "2";
/** Versions this icl-lab reads: 1 differs only in what `shortformer` meant (see Checkpoint.formatVersion). */
const READABLE_VERSIONS = ["1", "2"];
const TOKEN_DIGITS = 12;
const FILE_PATTERN = /^ckpt-(\d+)\.safetensors$/;
// Tensor names in the file: `params.<name>`, `optimizer.m.<name>`, `optimizer.v.<name>`.
const PREFIX = { params: "params.", m: "optimizer.m.", v: "optimizer.v." } as const;
const JSON_PARTS = ["rng", "data", "extra"] as const;

/** `ckpt-000000012345.safetensors`: zero-padded so that names sort by tokens up to 10^12. */
export function checkpointFileName(tokens: number): string {
  if (!Number.isSafeInteger(tokens) || tokens < 0) throw new Error(`tokens must be a non-negative integer, found ${tokens}`);
  return `ckpt-${String(tokens).padStart(TOKEN_DIGITS, "0")}.safetensors`;
}

function strictJson(value: unknown, what: string): string {
  const walk = (v: unknown, at: string): void => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new Error(`${what}: ${at} is ${v}, which JSON cannot hold`);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${at}[${i}]`));
      return;
    }
    if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
      return;
    }
    const found = typeof v === "object" ? ((v as object).constructor?.name ?? "object") : typeof v;
    throw new Error(`${what}: ${at} is a ${found}; expected plain JSON (encode bigints and typed arrays as strings or arrays)`);
  };
  walk(value, "value");
  return JSON.stringify(value);
}

/**
 * Writes `state` to `<dir>/ckpt-<tokens>.safetensors` atomically (creating the folder) and returns
 * the file's path and data checksum. JSON parts go into `__metadata__`, so they are covered by the
 * header checksum.
 */
export function saveCheckpoint(dir: string, tokens: number, state: TrainingState): SavedFile & { tokens: number } {
  const path = join(dir, checkpointFileName(tokens));
  const what = `saveCheckpoint(${path})`;
  const tensors: Record<string, FileTensor> = {};
  const add = (prefix: string, group: Record<string, FileTensor>): void => {
    for (const [name, t] of Object.entries(group)) tensors[prefix + name] = t;
  };
  if (!state?.params || typeof state.params !== "object") throw new Error(`${what}: state.params is required`);
  add(PREFIX.params, state.params);
  const metadata: Record<string, string> = { format: FORMAT, format_version: FORMAT_VERSION, tokens: String(tokens) };
  if (state.optimizer) {
    const { m, v, step } = state.optimizer;
    if (!Number.isSafeInteger(step) || step < 0) throw new Error(`${what}: optimizer.step must be a non-negative integer, found ${step}`);
    if (!m || !v) throw new Error(`${what}: optimizer needs both m and v`);
    add(PREFIX.m, m);
    add(PREFIX.v, v);
    metadata.optimizer_step = String(step);
  }
  for (const part of JSON_PARTS) {
    if (state[part] !== undefined) metadata[part] = strictJson(state[part], `${what}: state.${part}`);
  }
  mkdirSync(dir, { recursive: true });
  return { ...saveTensors(path, tensors, { metadata }), tokens };
}

/** Reads and verifies a training checkpoint (checksums required). */
export function loadCheckpoint(path: string): Checkpoint {
  const { tensors, metadata, sha256 } = loadTensors(path, { requireChecksum: true });
  const bad = (reason: string): CheckpointCorruptError => new CheckpointCorruptError(path, reason);
  if (metadata.format !== FORMAT) throw bad(`__metadata__.format is ${JSON.stringify(metadata.format)}, expected "${FORMAT}"`);
  if (!READABLE_VERSIONS.includes(metadata.format_version)) {
    throw bad(`format_version ${JSON.stringify(metadata.format_version)} is not supported (this icl-lab reads ${READABLE_VERSIONS.join(" and ")})`);
  }
  const tokens = Number(metadata.tokens);
  if (!/^\d+$/.test(metadata.tokens ?? "") || !Number.isSafeInteger(tokens)) throw bad(`tokens ${JSON.stringify(metadata.tokens)} is not an integer`);
  const fromName = FILE_PATTERN.exec(basename(path));
  if (fromName && Number(fromName[1]) !== tokens) throw bad(`file name says ${Number(fromName[1])} tokens but the metadata says ${tokens}`);

  const params: Record<string, LoadedTensor> = {};
  const m: Record<string, LoadedTensor> = {};
  const v: Record<string, LoadedTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith(PREFIX.params)) params[name.slice(PREFIX.params.length)] = t;
    else if (name.startsWith(PREFIX.m)) m[name.slice(PREFIX.m.length)] = t;
    else if (name.startsWith(PREFIX.v)) v[name.slice(PREFIX.v.length)] = t;
    else throw bad(`unexpected tensor '${name}' (expected params.*, optimizer.m.* or optimizer.v.*)`);
  }
  const checkpoint: Checkpoint = { path, tokens, params, sha256: sha256 as string, formatVersion: Number(metadata.format_version) };
  if (metadata.optimizer_step !== undefined) {
    const step = Number(metadata.optimizer_step);
    if (!/^\d+$/.test(metadata.optimizer_step) || !Number.isSafeInteger(step)) {
      throw bad(`optimizer_step ${JSON.stringify(metadata.optimizer_step)} is not an integer`);
    }
    checkpoint.optimizer = { m, v, step };
  } else if (Object.keys(m).length || Object.keys(v).length) {
    throw bad("optimizer moments are present but optimizer_step is missing");
  }
  for (const part of JSON_PARTS) {
    if (metadata[part] === undefined) continue;
    try {
      checkpoint[part] = JSON.parse(metadata[part]) as JsonValue;
    } catch (e) {
      throw bad(`__metadata__.${part} is not valid JSON (${(e as Error).message})`);
    }
  }
  return checkpoint;
}

/** True when `checkpoint` holds what exact resume needs: optimizer, random and data state. */
export function isResumable(checkpoint: Checkpoint): boolean {
  return checkpoint.optimizer !== undefined && checkpoint.rng !== undefined && checkpoint.data !== undefined;
}

export interface CheckpointFile {
  path: string;
  tokens: number;
}

/** The `ckpt-*.safetensors` files in `dir`, by tokens ascending; temporary files are ignored. A missing folder has none. */
export function listCheckpoints(dir: string): CheckpointFile[] {
  if (!existsSync(dir)) return [];
  const found: CheckpointFile[] = [];
  for (const name of readdirSync(dir)) {
    const match = FILE_PATTERN.exec(name);
    if (match) found.push({ path: join(dir, name), tokens: Number(match[1]) });
  }
  return found.sort((a, b) => a.tokens - b.tokens);
}

export interface LatestCheckpoint {
  /** The newest checkpoint that loaded and verified, or null when none did. */
  found: Checkpoint | null;
  /** Newer files that were passed over, newest first, with the reason. */
  skipped: Array<CheckpointFile & { reason: string }>;
}

/**
 * The newest checkpoint in `dir` that verifies, falling back past corrupt files (each reported in
 * `skipped`). With `resumable: true`, checkpoints without optimizer, random or data state are passed
 * over too. Errors other than corruption (permissions, I/O) are thrown.
 */
export function latestValidCheckpoint(dir: string, options: { resumable?: boolean } = {}): LatestCheckpoint {
  const skipped: LatestCheckpoint["skipped"] = [];
  for (const file of listCheckpoints(dir).reverse()) {
    let checkpoint: Checkpoint;
    try {
      checkpoint = loadCheckpoint(file.path);
    } catch (e) {
      if (!(e instanceof CheckpointCorruptError)) throw e;
      skipped.push({ ...file, reason: e.message });
      continue;
    }
    if (options.resumable && !isResumable(checkpoint)) {
      skipped.push({ ...file, reason: `checkpoint ${file.path} is not resumable (no optimizer, random or data state)` });
      continue;
    }
    return { found: checkpoint, skipped };
  }
  return { found: null, skipped };
}
