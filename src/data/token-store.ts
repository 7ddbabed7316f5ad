/**
 * Token stores: each (source, tokenizer) pair tokenized once into `tokens.bin` (little-endian
 * uint16 when the vocabulary fits, else uint32; documents concatenated without separators) plus
 * `manifest.json` (document token offsets, per-document content hashes, counts, the hashes of the
 * inputs). Cached under `<lab>/data/stores/<source>/<tokenizer id>-<key>/`, where the key hashes
 * the cleaned text's hash and the tokenizer id: a store is rebuilt only when an input changed, and
 * written atomically, so a killed build leaves the old store or none, never a torn one.
 *
 * This is the one file-format boundary between data preparation and training: trainers only read
 * token stores (through mixture.ts / windows.ts).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dataPaths } from "./paths.ts";
import { buildTextStore, type BuildOptions, type TextStoreManifest } from "./text-store.ts";
import type { Tokenizer } from "./tokenizer.ts";
import { buildDirAtomic, hashValue, sha256 } from "./util.ts";

/** Bump when tokenization or the store format changes. */
const STORE_VERSION = 1;

/** The JSON manifest of a token store. */
export interface TokenStoreManifest {
  format: "icl-lab.token-store/1";
  sourceId: string;
  domain: string;
  language: string;
  tokenizerId: string;
  vocabSize: number;
  eodId: number;
  /** Element type of tokens.bin (little-endian). */
  dtype: "uint16" | "uint32";
  nDocs: number;
  nTokens: number;
  /** UTF-8 bytes of the cleaned text these tokens encode. */
  nBytes: number;
  /** Token offsets of the documents (nDocs + 1 entries). */
  docOffsets: number[];
  /** 32-bit content hash of each document (from the text store): decides the held-out split. */
  docHashes: number[];
  /** Hashes of the inputs: the cleaned text and the tokenizer. */
  inputs: { textKey: string; textHash: string; tokenizerId: string };
  /** sha256 of tokens.bin. */
  tokensSha256: string;
  /** Statistics of the source under this tokenizer. */
  stats: SourceTokenStats;
  buildSeconds: number;
  createdAt: string;
}

/** Per-source statistics (documents, bytes, tokens, mean document length). */
export interface SourceTokenStats {
  documents: number;
  bytes: number;
  tokens: number;
  meanDocBytes: number;
  meanDocTokens: number;
  bytesPerToken: number;
  /** What cleaning removed (from the text store). */
  clean: TextStoreManifest["clean"];
}

/** A loaded token store. */
export interface TokenStore {
  dir: string;
  manifest: TokenStoreManifest;
  /** All tokens, documents concatenated. */
  tokens: Uint16Array | Uint32Array;
  /** Tokens of document i (a view). */
  docTokens(i: number): Uint16Array | Uint32Array;
}

function loadTokenStore(dir: string): TokenStore {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as TokenStoreManifest;
  const raw = readFileSync(join(dir, "tokens.bin"));
  const width = manifest.dtype === "uint16" ? 2 : 4;
  if (raw.length !== manifest.nTokens * width) {
    throw new Error(`token store ${dir} is damaged: tokens.bin has ${raw.length} bytes, expected ${manifest.nTokens * width}`);
  }
  // Copy into an aligned buffer (Buffer slices may not be aligned for typed-array views).
  const aligned = new ArrayBuffer(raw.length);
  new Uint8Array(aligned).set(raw);
  const tokens = manifest.dtype === "uint16" ? new Uint16Array(aligned) : new Uint32Array(aligned);
  const off = manifest.docOffsets;
  return { dir, manifest, tokens, docTokens: (i) => tokens.subarray(off[i], off[i + 1]) };
}

/**
 * The token store of a source under a tokenizer, building the text store and the token store
 * when absent or out of date.
 */
export async function buildTokenStore(sourceId: string, tokenizer: Tokenizer, options: BuildOptions = {}): Promise<TokenStore> {
  const text = await buildTextStore(sourceId, options);
  const tm = text.manifest;
  const key = hashValue({ v: STORE_VERSION, text: tm.textHash, tok: tokenizer.id }).slice(0, 16);
  const dir = join(dataPaths(options.lab).stores, tm.sourceId, `${tokenizer.id}-${key}`);
  if (existsSync(join(dir, "manifest.json"))) return loadTokenStore(dir);

  const log = options.log ?? (() => {});
  const t0 = performance.now();
  const dtype = tokenizer.vocabSize <= 65536 ? "uint16" : "uint32";
  let out: Uint16Array | Uint32Array = dtype === "uint16" ? new Uint16Array(tm.nBytes + 16) : new Uint32Array(tm.nBytes + 16);
  const offsets = [0];
  let n = 0;
  for (let d = 0; d < tm.nDocs; d++) {
    const ids = tokenizer.encode(text.doc(d));
    if (n + ids.length > out.length) {
      // Only possible for a tokenizer that makes more tokens than bytes (never for byte-level ones).
      const bigger = dtype === "uint16" ? new Uint16Array((n + ids.length) * 2) : new Uint32Array((n + ids.length) * 2);
      bigger.set(out.subarray(0, n));
      out = bigger;
    }
    out.set(ids, n);
    n += ids.length;
    offsets.push(n);
  }
  const tokens = out.slice(0, n);
  const bytes = new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength);
  const seconds = (performance.now() - t0) / 1000;
  const manifest: TokenStoreManifest = {
    format: "icl-lab.token-store/1",
    sourceId: tm.sourceId,
    domain: tm.domain,
    language: tm.language,
    tokenizerId: tokenizer.id,
    vocabSize: tokenizer.vocabSize,
    eodId: tokenizer.eodId,
    dtype,
    nDocs: tm.nDocs,
    nTokens: n,
    nBytes: tm.nBytes,
    docOffsets: offsets,
    docHashes: tm.docHashes,
    inputs: { textKey: tm.key, textHash: tm.textHash, tokenizerId: tokenizer.id },
    tokensSha256: sha256(bytes),
    stats: {
      documents: tm.nDocs,
      bytes: tm.nBytes,
      tokens: n,
      meanDocBytes: tm.nBytes / tm.nDocs,
      meanDocTokens: n / tm.nDocs,
      bytesPerToken: tm.nBytes / Math.max(1, n),
      clean: tm.clean,
    },
    buildSeconds: seconds,
    createdAt: new Date().toISOString(),
  };
  await buildDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, "tokens.bin"), bytes);
    writeFileSync(join(tmp, "manifest.json"), JSON.stringify(manifest));
  });
  log(
    `${tm.sourceId}: ${n.toLocaleString("en-US")} tokens (${tokenizer.id}) in ${seconds.toFixed(1)} s, ` +
      `${(tm.nBytes / 1e6 / Math.max(seconds, 1e-9)).toFixed(1)} MB/s`,
  );
  return loadTokenStore(dir);
}
