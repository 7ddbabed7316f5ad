/**
 * Text stores: each source's cleaned documents, extracted once and cached under
 * `<lab>/data/text/<source>/<key>/` as `text.bin` (the documents' UTF-8 bytes, concatenated) plus
 * `manifest.json` (document byte offsets, per-document content hashes, cleaning statistics).
 * The key hashes the source id, its recipe version and its input fingerprint, so a store is
 * rebuilt only when an input changed; stores are written atomically.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DocumentCleaner, type CleanStats } from "./clean.ts";
import { dataPaths, type DataPaths } from "./paths.ts";
import { getSource } from "./sources/registry.ts";
import type { SourceContext, SourceDef } from "./sources/types.ts";
import { buildDirAtomic, hashBytes32, hashValue, sha256 } from "./util.ts";

/** Bump when cleaning changes: every text store is rebuilt. */
export const CLEAN_VERSION = 1;

/** The JSON manifest of a text store. */
export interface TextStoreManifest {
  format: "icl-lab.text-store/1";
  sourceId: string;
  origin: SourceDef["origin"];
  domain: string;
  language: string;
  licence: string;
  /** Folder name: hash of source id, recipe version, input fingerprint and cleaning version. */
  key: string;
  fingerprint: string;
  /** sha256 of the cleaned text and its document offsets: the input hash of token stores. */
  textHash: string;
  nDocs: number;
  nBytes: number;
  /** Byte offsets of the documents in text.bin (nDocs + 1 entries). */
  docOffsets: number[];
  /** 32-bit hash of each document's bytes: decides the held-out split, independent of order. */
  docHashes: number[];
  clean: CleanStats;
  buildSeconds: number;
  createdAt: string;
}

/** A loaded text store. */
export interface TextStore {
  dir: string;
  manifest: TextStoreManifest;
  /** All documents' bytes. */
  bytes: Buffer;
  /** Document i as a string. */
  doc(i: number): string;
}

/** Options shared by the build functions. */
export interface BuildOptions {
  /** Lab folder (default: $ICL_LAB_DIR or ./icl-lab-runs). */
  lab?: string;
  /** Progress messages. */
  log?: (message: string) => void;
  /** Environment for external tools (tests use it to hide apt). */
  env?: NodeJS.ProcessEnv;
}

export function sourceContext(options: BuildOptions = {}): SourceContext {
  return { paths: dataPaths(options.lab), log: options.log ?? (() => {}), env: options.env };
}

function loadTextStore(dir: string): TextStore {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as TextStoreManifest;
  const bytes = readFileSync(join(dir, "text.bin"));
  if (bytes.length !== manifest.nBytes) {
    throw new Error(`text store ${dir} is damaged: text.bin has ${bytes.length} bytes, manifest says ${manifest.nBytes}`);
  }
  const off = manifest.docOffsets;
  return { dir, manifest, bytes, doc: (i) => bytes.toString("utf8", off[i], off[i + 1]) };
}

/** The manifest of the most recently built text store of a source, or null (never builds or fetches). */
export function latestTextStore(sourceId: string, paths: DataPaths): TextStoreManifest | null {
  const root = join(paths.text, sourceId);
  if (!existsSync(root)) return null;
  let best: TextStoreManifest | null = null;
  for (const name of readdirSync(root)) {
    const mf = join(root, name, "manifest.json");
    if (name.includes(".tmp-") || !existsSync(mf)) continue;
    const m = JSON.parse(readFileSync(mf, "utf8")) as TextStoreManifest;
    if (best === null || m.createdAt > best.createdAt) best = m;
  }
  return best;
}

/**
 * Returns the source's cleaned text, building it when absent or out of date (which may fetch
 * Debian packages). Throws a clear error when the source yields no document after cleaning.
 */
export async function buildTextStore(sourceId: string, options: BuildOptions = {}): Promise<TextStore> {
  const ctx = sourceContext(options);
  const def = getSource(sourceId, ctx.paths);
  const fingerprint = await def.fingerprint(ctx);
  const key = hashValue({ id: def.id, version: def.version, fingerprint, clean: CLEAN_VERSION, dup: def.keepDuplicates === true }).slice(0, 16);
  const dir = join(ctx.paths.text, def.id, key);
  if (existsSync(join(dir, "manifest.json"))) return loadTextStore(dir);

  const t0 = performance.now();
  ctx.log(`${def.id}: extracting and cleaning`);
  const cleaner = new DocumentCleaner({ dedupe: def.keepDuplicates !== true });
  const chunks: Uint8Array[] = [];
  const offsets = [0];
  const hashes: number[] = [];
  let total = 0;
  for await (const raw of def.documents(ctx)) {
    const doc = typeof raw === "string" || raw instanceof Uint8Array ? raw : raw.text;
    if (typeof raw === "object" && !(raw instanceof Uint8Array) && raw.invalidBytes) {
      cleaner.stats.invalidBytesDropped += raw.invalidBytes;
    }
    const cleaned = cleaner.add(doc);
    if (cleaned === null) continue;
    chunks.push(cleaned);
    total += cleaned.length;
    offsets.push(total);
    hashes.push(hashBytes32(cleaned));
  }
  const stats = cleaner.stats;
  if (stats.docsOut === 0) {
    throw new Error(
      `source '${def.id}' has no documents after cleaning (${stats.docsIn} offered: ${stats.emptyDropped} empty, ` +
        `${stats.duplicatesDropped} duplicates); expected at least one non-empty document from ${def.description}`,
    );
  }
  const bytes = Buffer.concat(chunks, total);
  const manifest: TextStoreManifest = {
    format: "icl-lab.text-store/1",
    sourceId: def.id,
    origin: def.origin,
    domain: def.domain,
    language: def.language,
    licence: def.licence,
    key,
    fingerprint,
    textHash: sha256(bytes, JSON.stringify(offsets)),
    nDocs: stats.docsOut,
    nBytes: total,
    docOffsets: offsets,
    docHashes: hashes,
    clean: stats,
    buildSeconds: (performance.now() - t0) / 1000,
    createdAt: new Date().toISOString(),
  };
  await buildDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, "text.bin"), bytes);
    // The manifest last: a folder with a manifest is complete (the rename makes it visible at once anyway).
    writeFileSync(join(tmp, "manifest.json"), JSON.stringify(manifest));
  });
  ctx.log(`${def.id}: ${manifest.nDocs} documents, ${(total / 1e6).toFixed(1)} MB in ${manifest.buildSeconds.toFixed(1)} s`);
  return loadTextStore(dir);
}
