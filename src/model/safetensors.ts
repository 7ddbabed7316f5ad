/**
 * The safetensors codec: named tensors in the safetensors format (readable by PyTorch,
 * TransformerLens and the Hugging Face `safetensors` package), written atomically and verified on
 * load. The training checkpoint built on it (parameters, AdamW moments, random and data-sampler
 * state) is src/model/checkpoint.ts.
 *
 * The safetensors layout (https://github.com/huggingface/safetensors, "Format"):
 *   bytes 0..8      N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N    a UTF-8 JSON object {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}},
 *                   padded with spaces; we pad so that 8 + N is a multiple of 8, which keeps every tensor aligned
 *   bytes 8+N..     the data section: each tensor row-major, little-endian, at [begin, end) relative to its start;
 *                   the tensors cover the section exactly (no holes, no overlap, nothing after the last one)
 * We write this ourselves: no maintained npm library writes safetensors (the `safetensors` npm names are
 * unmaintained readers), and the format is small enough that a reader and a writer fit in this file.
 * `FileTensor` is a tensor as stored (typed array, shape, dtype), not the engine's autograd Tensor.
 *
 * Integrity: two SHA-256 sums go into `__metadata__`. `icl_lab_sha256` covers the data section;
 * `icl_lab_header_sha256` covers the header's meaning (tensor names, dtypes, shapes, offsets and the
 * other metadata), because a flipped byte in a tensor name or in the JSON resume state would
 * otherwise load silently. Files from other tools carry no sums and load unverified unless
 * `requireChecksum` is set; training checkpoints always require them.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { writeFileAtomic } from "../util/fs.ts";

export type DType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U64" | "U32" | "U16" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2";

export type TensorData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | BigUint64Array
  | Uint32Array
  | Uint16Array
  | Uint8Array;

/**
 * A tensor as stored: row-major data and its shape. `dtype` defaults to the one the array type
 * implies; give it for the types JavaScript has no array for: F16 and BF16 travel as their raw bits
 * in a Uint16Array, BOOL and the F8 types as bytes in a Uint8Array.
 */
export interface FileTensor {
  data: TensorData;
  shape: number[];
  dtype?: DType;
}

/** A tensor as loaded: its dtype is always stated. */
export interface LoadedTensor extends FileTensor {
  dtype: DType;
}

type ArrayCtor = { new (length: number): TensorData; readonly BYTES_PER_ELEMENT: number; readonly name: string };

/** Each dtype's JavaScript array type; the first dtype listed for an array type is its default. */
const DTYPES: Record<DType, ArrayCtor> = {
  F64: Float64Array,
  F32: Float32Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  BOOL: Uint8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
};

const isDType = (s: unknown): s is DType => typeof s === "string" && Object.hasOwn(DTYPES, s);

/** The limit the reference (Rust) implementation puts on the header; larger means a corrupt length. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";
const DATA_SHA_KEY = "icl_lab_sha256";
const HEADER_SHA_KEY = "icl_lab_header_sha256";
const RESERVED_METADATA = new Set([DATA_SHA_KEY, HEADER_SHA_KEY]);

/** A file that is not a valid (or not an intact) checkpoint; I/O failures are not this error. */
export class CheckpointCorruptError extends Error {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string) {
    super(`checkpoint ${path} is corrupt: ${reason}`);
    this.name = "CheckpointCorruptError";
    this.path = path;
    this.reason = reason;
  }
}

if (endianness() !== "LE") {
  // Typed arrays use the host's byte order and the format is little-endian; no supported host is big-endian.
  throw new Error(`safetensors.ts needs a little-endian host, found ${endianness()}`);
}

function defaultDType(data: TensorData): DType | undefined {
  for (const [dtype, ctor] of Object.entries(DTYPES) as Array<[DType, ArrayCtor]>) {
    if (data instanceof ctor) return dtype;
  }
  return undefined;
}

function checkShape(shape: unknown, what: string): number {
  if (!Array.isArray(shape)) throw new Error(`${what}: shape must be an array of integers, found ${JSON.stringify(shape)}`);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new Error(`${what}: shape must hold non-negative integers, found ${JSON.stringify(shape)}`);
    }
    n *= d;
  }
  return n;
}

interface Planned {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: Uint8Array;
  begin: number;
  end: number;
}

function planTensors(path: string, tensors: Record<string, FileTensor>): Planned[] {
  const planned: Planned[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const what = `tensor '${name}' passed to saveTensors(${path})`;
    if (name === METADATA_KEY || name.length === 0) throw new Error(`${what}: '${name}' is not a usable tensor name`);
    if (!t || typeof t !== "object" || !ArrayBuffer.isView(t.data)) {
      throw new Error(`${what}: expected {data: typed array, shape}, found ${t === null ? "null" : typeof t}`);
    }
    const implied = defaultDType(t.data);
    if (implied === undefined) throw new Error(`${what}: unsupported array type ${t.data.constructor.name}`);
    const dtype = t.dtype ?? implied;
    if (!isDType(dtype)) throw new Error(`${what}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!(t.data instanceof DTYPES[dtype])) {
      throw new Error(`${what}: dtype ${dtype} needs a ${DTYPES[dtype].name}, found ${t.data.constructor.name}`);
    }
    const n = checkShape(t.shape, what);
    if (n !== t.data.length) {
      throw new Error(`${what}: shape [${t.shape.join(", ")}] holds ${n} elements but data has ${t.data.length}`);
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    planned.push({ name, dtype, shape: [...t.shape], bytes, begin: 0, end: 0 });
  }
  // Widest elements first, then by name: with an 8-aligned data section every tensor starts aligned
  // to its element size (so readers can map it without copying), and the layout is deterministic.
  planned.sort((a, b) => DTYPES[b.dtype].BYTES_PER_ELEMENT - DTYPES[a.dtype].BYTES_PER_ELEMENT || cmp(a.name, b.name));
  let offset = 0;
  for (const p of planned) {
    p.begin = offset;
    offset += p.bytes.byteLength;
    p.end = offset;
  }
  return planned;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface HeaderEntry {
  dtype: DType;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * The SHA-256 of what the header means, independent of key order and padding: the UTF-8 bytes of
 * JSON.stringify([[key, value] of the metadata other than the two sums, sorted by key],
 * [[name, dtype, shape, begin, end] of the tensors, sorted by name]).
 */
function headerDigest(entries: Array<[string, HeaderEntry]>, metadata: Record<string, string>): string {
  const meta = Object.entries(metadata)
    .filter(([k]) => !RESERVED_METADATA.has(k))
    .sort((a, b) => cmp(a[0], b[0]));
  const tensors = entries.map(([name, e]) => [name, e.dtype, e.shape, e.data_offsets[0], e.data_offsets[1]] as const).sort((a, b) => cmp(a[0], b[0]));
  return createHash("sha256")
    .update(JSON.stringify([meta, tensors]), "utf8")
    .digest("hex");
}

export interface SaveTensorsOptions {
  /** String key-value pairs for `__metadata__`; the `icl_lab_*sha256` keys are reserved. */
  metadata?: Record<string, string>;
}

export interface SavedFile {
  path: string;
  /** SHA-256 (hex) of the data section, as stored in `__metadata__.icl_lab_sha256`. */
  sha256: string;
  /** Size of the whole file in bytes. */
  bytes: number;
}

/** Writes `tensors` to `path` in the safetensors format, atomically, with checksums. */
export function saveTensors(path: string, tensors: Record<string, FileTensor>, options: SaveTensorsOptions = {}): SavedFile {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    if (RESERVED_METADATA.has(k)) throw new Error(`metadata passed to saveTensors(${path}): key '${k}' is reserved`);
    if (typeof v !== "string") {
      throw new Error(`metadata passed to saveTensors(${path}): '${k}' must be a string, found ${typeof v}`);
    }
    metadata[k] = v;
  }
  const planned = planTensors(path, tensors);
  const dataHash = createHash("sha256");
  for (const p of planned) dataHash.update(p.bytes);
  const entries: Array<[string, HeaderEntry]> = planned.map((p) => [p.name, { dtype: p.dtype, shape: p.shape, data_offsets: [p.begin, p.end] }]);
  metadata[DATA_SHA_KEY] = dataHash.digest("hex");
  metadata[HEADER_SHA_KEY] = headerDigest(entries, metadata);

  const header: Record<string, unknown> = { [METADATA_KEY]: metadata };
  for (const [name, e] of entries) header[name] = e;
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil((8 + json.byteLength) / 8) * 8 - 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);

  writeFileAtomic(path, [head, ...planned.map((p) => p.bytes)]);
  const dataBytes = planned.length ? planned[planned.length - 1].end : 0;
  return { path, sha256: metadata[DATA_SHA_KEY], bytes: head.byteLength + dataBytes };
}

export interface LoadTensorsOptions {
  /** Fail when the file carries no icl-lab checksums (files written by other tools carry none). */
  requireChecksum?: boolean;
}

export interface LoadedTensors {
  tensors: Record<string, LoadedTensor>;
  metadata: Record<string, string>;
  /** SHA-256 of the data section when the file carries one (verified), else undefined. */
  sha256: string | undefined;
}

/**
 * Reads a safetensors file, checking the header (length, JSON, dtypes, shapes, offsets in bounds,
 * no overlap, no holes) and, when present, both checksums. Throws CheckpointCorruptError naming the
 * file and the fault. Each tensor gets its own freshly allocated array.
 */
export function loadTensors(path: string, options: LoadTensorsOptions = {}): LoadedTensors {
  const buf = readFileSync(path);
  const bad = (reason: string): CheckpointCorruptError => new CheckpointCorruptError(path, reason);
  if (buf.byteLength < 8) throw bad(`file is ${buf.byteLength} bytes, shorter than the 8-byte header length`);
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(n);
  if (8 + headerLen > buf.byteLength) {
    throw bad(`header length ${headerLen} runs past the end of the ${buf.byteLength}-byte file (truncated?)`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + headerLen));
  } catch {
    throw bad("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) throw bad(`header must start with '{', found ${JSON.stringify(text.slice(0, 16))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw bad("header is not a JSON object");

  const metadata: Record<string, string> = {};
  const entries: Array<[string, HeaderEntry]> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw bad("__metadata__ is not an object");
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") throw bad(`__metadata__.${k} must be a string, found ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push([name, checkEntry(name, value, bad)]);
  }

  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const byOffset = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1]);
  let covered = 0;
  let previous = "";
  for (const [name, e] of byOffset) {
    const [begin, end] = e.data_offsets;
    if (end > dataLen) {
      throw bad(`tensor '${name}' ends at byte ${end} of the data section, which has only ${dataLen} bytes (truncated?)`);
    }
    if (begin < covered) throw bad(`tensor '${name}' at [${begin}, ${end}) overlaps tensor '${previous}', which ends at ${covered}`);
    if (begin > covered) throw bad(`data section has a hole at [${covered}, ${begin}) before tensor '${name}'`);
    covered = end;
    previous = name;
  }
  if (covered !== dataLen) throw bad(`data section has ${dataLen - covered} unused bytes after the last tensor`);

  const hasSums = Object.hasOwn(metadata, DATA_SHA_KEY) || Object.hasOwn(metadata, HEADER_SHA_KEY);
  if (hasSums) {
    if (headerDigest(entries, metadata) !== metadata[HEADER_SHA_KEY]) throw bad("checksum mismatch in the header");
    const sum = createHash("sha256").update(buf.subarray(dataStart)).digest("hex");
    if (sum !== metadata[DATA_SHA_KEY]) throw bad("checksum mismatch");
  } else if (options.requireChecksum) {
    throw bad(`no checksum (expected __metadata__.${DATA_SHA_KEY}); was it written by icl-lab?`);
  }

  const tensors: Record<string, LoadedTensor> = {};
  for (const [name, e] of entries) {
    const ctor = DTYPES[e.dtype];
    const [begin, end] = e.data_offsets;
    const data = new ctor((end - begin) / ctor.BYTES_PER_ELEMENT);
    new Uint8Array(data.buffer).set(buf.subarray(dataStart + begin, dataStart + end));
    tensors[name] = { data, shape: e.shape, dtype: e.dtype };
  }
  return { tensors, metadata, sha256: hasSums ? metadata[DATA_SHA_KEY] : undefined };
}

function checkEntry(name: string, value: unknown, bad: (reason: string) => Error): HeaderEntry {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw bad(`entry for tensor '${name}' is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isDType(dtype)) throw bad(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
  let count: number;
  try {
    count = checkShape(shape, `tensor '${name}'`);
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw bad(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}, expected [begin, end] with 0 <= begin <= end`);
  }
  const expected = count * DTYPES[dtype].BYTES_PER_ELEMENT;
  if (offsets[1] - offsets[0] !== expected) {
    throw bad(`tensor '${name}' (${dtype} [${(shape as number[]).join(", ")}]) needs ${expected} bytes but data_offsets span ${offsets[1] - offsets[0]}`);
  }
  return { dtype, shape: shape as number[], data_offsets: [offsets[0], offsets[1]] };
}
