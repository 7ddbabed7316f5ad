/**
 * Tokenizers. Two kinds, one interface:
 *
 * - `{ kind: "byte" }`: ids 0..255 are the bytes, 256 is the end-of-document token; vocab 257.
 * - `{ kind: "bpe", vocab: 4096, sources: [...] }`: byte-level BPE trained with Hugging Face's
 *   `tokenizers` package on a sample of the sources' training splits (never their held-out
 *   documents). Ids 0..255 are again the bytes and 256 the end-of-document token, so no text is
 *   ever dropped; 257.. are merges. Trained once per (spec, source contents) and cached under
 *   `<lab>/data/tokenizers/`; saved as a standard `tokenizer.json` (Python:
 *   `tokenizers.Tokenizer.from_file(path)`).
 * - `{ kind: "file", path }`: a saved tokenizer.json of either kind.
 *
 * The npm binding only exposes the library's default trainer (30,000 tokens); we train with it
 * and keep the first merges up to the requested vocabulary size, which is exactly the tokenizer
 * a trainer stopped at that size would give (BPE merges are learnt in order).
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ByteLevelBpe, EOD_TOKEN, makeTokenizerJson, tokenStringToBytes, type TokenizerJson } from "./bpe.ts";
import { dataPaths } from "./paths.ts";
import { DEFAULT_SUITE } from "./sources/registry.ts";
import { HELD_OUT_FRACTION, isHeldOut, MIN_DOCS_FOR_DOCUMENT_SPLIT } from "./split.ts";
import { buildTextStore, type BuildOptions, type TextStore } from "./text-store.ts";
import { buildDirAtomic, hashValue, mix32, sha256, stableStringify, writeFileAtomic } from "./util.ts";

/** Which tokenizer. */
export type TokenizerSpec =
  | { kind: "byte" }
  | {
      kind: "bpe";
      /** Vocabulary size including the 256 bytes and the end-of-document token (default 4096). */
      vocab?: number;
      /** Source ids whose training splits it is trained on (default: the default suite). */
      sources?: readonly string[];
      /** UTF-8 bytes of training text taken from each source (default 4 MB). */
      trainBytesPerSource?: number;
    }
  | { kind: "file"; path: string };

/** The default tokenizer: BPE with 4096 tokens trained on the embedded default suite. */
export const DEFAULT_TOKENIZER: TokenizerSpec = Object.freeze({ kind: "bpe", vocab: 4096, sources: DEFAULT_SUITE });
/** Default bytes of training text per source for BPE. */
export const DEFAULT_TRAIN_BYTES_PER_SOURCE = 4_000_000;
/** Bump when BPE training changes: every cached BPE tokenizer is retrained. */
const BPE_TRAIN_VERSION = 1;

/** A tokenizer: text ↔ token ids. */
export interface Tokenizer {
  readonly kind: "byte" | "bpe";
  /** Stable id: "byte", or "bpe<vocab>-<hash of tokenizer.json>" (token stores are keyed by it). */
  readonly id: string;
  /** Number of token ids (the model's dVocab). */
  readonly vocabSize: number;
  /** Id of the end-of-document token ("<|endoftext|>"). */
  readonly eodId: number;
  /** Token ids of a text (never contains eodId). */
  encode(text: string): Int32Array;
  /** Text of token ids; eodId decodes to "<|endoftext|>". */
  decode(ids: ArrayLike<number>): string;
  /** Bytes of one token. */
  tokenBytes(id: number): Uint8Array;
  /** The standard tokenizer.json (Hugging Face format). */
  toJSON(): TokenizerJson;
  /** Writes tokenizer.json to `path`. */
  save(path: string): void;
}

class BpeTokenizer implements Tokenizer {
  readonly kind: "byte" | "bpe";
  readonly id: string;
  readonly vocabSize: number;
  readonly eodId: number;
  private readonly codec: ByteLevelBpe;

  constructor(private readonly json: TokenizerJson) {
    this.codec = new ByteLevelBpe(json);
    this.vocabSize = this.codec.vocabSize;
    this.eodId = this.codec.eodId;
    this.kind = json.model.merges.length === 0 ? "byte" : "bpe";
    this.id = this.kind === "byte" && isCanonicalByte(json) ? "byte" : `bpe${this.vocabSize}-${sha256(stableStringify(json)).slice(0, 12)}`;
  }
  encode(text: string): Int32Array {
    return this.codec.encode(text);
  }
  decode(ids: ArrayLike<number>): string {
    return this.codec.decode(ids);
  }
  tokenBytes(id: number): Uint8Array {
    return this.codec.tokenBytes(id);
  }
  toJSON(): TokenizerJson {
    return this.json;
  }
  save(path: string): void {
    writeFileAtomic(path, `${JSON.stringify(this.json)}\n`);
  }
}

function isCanonicalByte(json: TokenizerJson): boolean {
  return Object.keys(json.model.vocab).length === 257 && json.model.vocab[EOD_TOKEN] === 256;
}

/** The byte tokenizer, with its encoder specialised (UTF-8 bytes are the ids). */
class ByteTokenizer extends BpeTokenizer {
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder("utf-8", { ignoreBOM: true });
  constructor() {
    super(makeTokenizerJson([]));
  }
  override encode(text: string): Int32Array {
    return Int32Array.from(this.enc.encode(text));
  }
  override decode(ids: ArrayLike<number>): string {
    let hasEod = false;
    for (let i = 0; i < ids.length; i++) if (ids[i] === 256) hasEod = true;
    if (!hasEod) return this.dec.decode(Uint8Array.from(ids as ArrayLike<number>));
    return super.decode(ids);
  }
}

let byteSingleton: ByteTokenizer | null = null;

/** The byte-level tokenizer (ids 0..255 bytes, 256 end-of-document). */
export function byteTokenizer(): Tokenizer {
  byteSingleton ??= new ByteTokenizer();
  return byteSingleton;
}

/** Loads a tokenizer.json written by `save` (or any byte-level BPE tokenizer.json with "<|endoftext|>"). */
export function loadTokenizer(path: string): Tokenizer {
  if (!existsSync(path)) throw new Error(`tokenizer file ${path} does not exist`);
  let json: TokenizerJson;
  try {
    json = JSON.parse(readFileSync(path, "utf8")) as TokenizerJson;
  } catch (e) {
    throw new Error(`tokenizer file ${path} is not valid JSON (${(e as Error).message})`);
  }
  try {
    const t = new BpeTokenizer(json);
    return t.id === "byte" ? byteTokenizer() : t;
  } catch (e) {
    throw new Error(`tokenizer file ${path}: ${(e as Error).message}`);
  }
}

/** Path of Hugging Face's `tokenizers` npm binding (loaded only to train). */
function hfBindingPath(): string {
  try {
    return createRequire(import.meta.url).resolve("tokenizers");
  } catch (e) {
    throw new Error(
      `training a BPE tokenizer needs the npm package 'tokenizers' (Hugging Face), which is not installed: ${(e as Error).message.split("\n")[0]}; ` +
        'run `npm install`, or use the byte tokenizer ({ kind: "byte" })',
    );
  }
}

// Runs in a child process: the trainer draws progress on stdout, which must not mix with ours
// (`--json` output), and a crash of the native library must not take the caller down.
const TRAIN_SCRIPT = `
const [binding, out, ...files] = process.argv.slice(1);
const hf = require(binding);
const tok = new hf.Tokenizer(hf.BPE.empty());
tok.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
tok.train(files);
tok.save(out);
`;

/**
 * Trains byte-level BPE merges with Hugging Face's trainer on text files; returns them in order
 * (the npm binding's default trainer learns up to 30,000 tokens).
 */
export function trainMerges(files: string[], scratchDir: string): Array<[string, string]> {
  const out = join(scratchDir, "trained.json");
  const r = spawnSync(process.execPath, ["-e", TRAIN_SCRIPT, hfBindingPath(), out, ...files], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
    timeout: 3_600_000,
  });
  if (r.status !== 0 || !existsSync(out)) {
    const lines = (r.stderr ?? "").split("\n").map((l) => l.trim());
    const why =
      lines.find((l) => /^Error\b/.test(l)) ??
      lines
        .filter((l) => l !== "")
        .slice(-3)
        .join(" | ");
    throw new Error(`BPE training with the 'tokenizers' package failed (${r.error?.message ?? r.signal ?? `exit ${r.status}`}): ${why}`);
  }
  const json = JSON.parse(readFileSync(out, "utf8")) as TokenizerJson;
  return json.model.merges.map((m) => (Array.isArray(m) ? m : (m.split(" ") as [string, string])));
}

/**
 * Keeps merges in order until the vocabulary (256 bytes + end-of-document + merged tokens)
 * reaches `vocab`. Merges over symbols the kept set cannot make are skipped (not expected with
 * merges from one training run).
 */
export function truncateMerges(merges: Array<[string, string]>, vocab: number): Array<[string, string]> {
  const have = new Set<string>();
  const byteChars = makeTokenizerJson([]).model.vocab;
  for (const t of Object.keys(byteChars)) if (t !== EOD_TOKEN) have.add(t);
  const kept: Array<[string, string]> = [];
  let size = 257;
  for (const [a, b] of merges) {
    if (size >= vocab) break;
    if (!have.has(a) || !have.has(b)) continue;
    if (tokenStringToBytes(a + b) === null) continue;
    kept.push([a, b]);
    if (!have.has(a + b)) {
      have.add(a + b);
      size++;
    }
  }
  return kept;
}

/** Training-split text of one source for tokenizer training: documents in a hashed order, up to maxBytes. */
export function trainingSample(store: TextStore, maxBytes: number): Buffer {
  const m = store.manifest;
  const byTails = m.nDocs < MIN_DOCS_FOR_DOCUMENT_SPLIT;
  const order = Array.from({ length: m.nDocs }, (_, i) => i).filter((i) => byTails || !isHeldOut(m.docHashes[i]));
  order.sort((x, y) => mix32(m.docHashes[x], "bpe-sample") - mix32(m.docHashes[y], "bpe-sample") || x - y);
  const parts: Buffer[] = [];
  let total = 0;
  for (const i of order) {
    if (total >= maxBytes) break;
    const start = m.docOffsets[i];
    let end = m.docOffsets[i + 1];
    if (byTails) end = start + Math.floor((end - start) * (1 - HELD_OUT_FRACTION));
    end = Math.min(end, start + (maxBytes - total));
    // Never cut inside a UTF-8 sequence (the trainer rejects invalid UTF-8).
    while (end > start && end < store.bytes.length && (store.bytes[end] & 0xc0) === 0x80) end--;
    if (end <= start) continue;
    parts.push(store.bytes.subarray(start, end), Buffer.from("\n\n"));
    total += end - start;
  }
  return Buffer.concat(parts);
}

/** What `meta.json` beside a trained tokenizer.json records. */
export interface TokenizerMeta {
  id: string;
  spec: TokenizerSpec;
  requestedVocab: number;
  vocabSize: number;
  sources: Array<{ id: string; textHash: string; trainBytes: number }>;
  trainSeconds: number;
  createdAt: string;
}

/**
 * The tokenizer for a spec. BPE tokenizers are trained on first use (building the sources' text
 * stores if needed) and cached under `<lab>/data/tokenizers/`; later calls load the cached one.
 */
export async function getTokenizer(spec: TokenizerSpec = DEFAULT_TOKENIZER, options: BuildOptions = {}): Promise<Tokenizer> {
  if (spec.kind === "byte") return byteTokenizer();
  if (spec.kind === "file") return loadTokenizer(spec.path);
  if (spec.kind !== "bpe") throw new Error(`tokenizer spec: unknown kind '${(spec as { kind: string }).kind}'; expected "byte", "bpe" or "file"`);
  return (await getBpeTokenizer(spec, options)).tokenizer;
}

/** Like getTokenizer for a BPE spec, also returning its folder and meta. */
export async function getBpeTokenizer(
  spec: Extract<TokenizerSpec, { kind: "bpe" }>,
  options: BuildOptions = {},
): Promise<{ tokenizer: Tokenizer; dir: string; meta: TokenizerMeta; cached: boolean }> {
  const vocab = spec.vocab ?? 4096;
  if (!Number.isInteger(vocab) || vocab < 258 || vocab > 30_000) {
    throw new Error(`tokenizer spec: vocab must be an integer from 258 to 30000 (256 bytes + end-of-document + merges), found ${spec.vocab}`);
  }
  const sources = [...new Set(spec.sources ?? DEFAULT_SUITE)].sort();
  if (sources.length === 0) throw new Error("tokenizer spec: sources is empty; expected at least one source id to train on");
  const perSource = spec.trainBytesPerSource ?? DEFAULT_TRAIN_BYTES_PER_SOURCE;
  const paths = dataPaths(options.lab);
  const log = options.log ?? (() => {});
  const stores: TextStore[] = [];
  for (const s of sources) stores.push(await buildTextStore(s, options));
  const key = hashValue({
    v: BPE_TRAIN_VERSION,
    vocab,
    perSource,
    sources: stores.map((s) => [s.manifest.sourceId, s.manifest.textHash]),
  }).slice(0, 20);
  const indexFile = join(paths.tokenizers, "index", `${key}.json`);
  if (existsSync(indexFile)) {
    const { id } = JSON.parse(readFileSync(indexFile, "utf8")) as { id: string };
    const dir = join(paths.tokenizers, id);
    if (existsSync(join(dir, "tokenizer.json"))) {
      const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as TokenizerMeta;
      return { tokenizer: loadTokenizer(join(dir, "tokenizer.json")), dir, meta, cached: true };
    }
  }
  log(`training BPE (vocab ${vocab}) on ${sources.join(", ")}`);
  const t0 = performance.now();
  const scratch = join(paths.tokenizers, `.train-${key}`);
  const trained = await buildDirAtomic(scratch, (tmp) => {
    const files: string[] = [];
    const used: TokenizerMeta["sources"] = [];
    for (const st of stores) {
      const sample = trainingSample(st, perSource);
      const f = join(tmp, `${st.manifest.sourceId}.txt`);
      writeFileSync(f, sample);
      files.push(f);
      used.push({ id: st.manifest.sourceId, textHash: st.manifest.textHash, trainBytes: sample.length });
    }
    const merges = truncateMerges(trainMerges(files, tmp), vocab);
    return { merges, used };
  });
  // The scratch folder only held training text; drop it.
  rmSync(scratch, { recursive: true, force: true });
  const tokenizer = new BpeTokenizer(makeTokenizerJson(trained.merges));
  const dir = join(paths.tokenizers, tokenizer.id);
  const meta: TokenizerMeta = {
    id: tokenizer.id,
    spec: { kind: "bpe", vocab, sources, trainBytesPerSource: perSource },
    requestedVocab: vocab,
    vocabSize: tokenizer.vocabSize,
    sources: trained.used,
    trainSeconds: (performance.now() - t0) / 1000,
    createdAt: new Date().toISOString(),
  };
  if (tokenizer.vocabSize < vocab) {
    log(`note: the training text allowed only ${tokenizer.vocabSize} tokens (asked for ${vocab})`);
  }
  if (!existsSync(join(dir, "tokenizer.json"))) {
    await buildDirAtomic(dir, (tmp) => {
      tokenizer.save(join(tmp, "tokenizer.json"));
      writeFileSync(join(tmp, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`);
    });
  }
  mkdirSync(join(paths.tokenizers, "index"), { recursive: true });
  writeFileAtomic(indexFile, JSON.stringify({ id: tokenizer.id, spec: meta.spec }));
  log(`trained ${tokenizer.id} in ${meta.trainSeconds.toFixed(1)} s`);
  return { tokenizer, dir, meta, cached: false };
}
