/**
 * Byte-level BPE, the GPT-2 scheme, in plain TypeScript: encode and decode exactly as the Hugging
 * Face `tokenizers` library does for a `tokenizer.json` with a ByteLevel pre-tokenizer and a BPE
 * model (verified against it in bpe.test.ts), but synchronous and fast enough to tokenize corpora.
 * Hugging Face's library trains the merges (tokenizer.ts); this module applies them.
 *
 * Every byte is a symbol, so any text encodes and `decode(encode(x)) === x` for every string.
 * The end-of-document token is never produced by `encode` (text that happens to contain
 * "<|endoftext|>" is encoded as ordinary bytes); the pipeline inserts it between documents.
 */

/** The end-of-document special token's text. */
export const EOD_TOKEN = "<|endoftext|>";

/** GPT-2's reversible map from bytes to printable characters (byte b ↦ BYTE_CHARS[b]). */
export const BYTE_CHARS: readonly string[] = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const chars: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    chars[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return Object.freeze(chars);
})();

const CHAR_TO_BYTE = new Map<string, number>(BYTE_CHARS.map((c, b) => [c, b]));

/** Bytes of a byte-level token string ("Ġthe" → " the"); null when it is not byte-level. */
export function tokenStringToBytes(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = CHAR_TO_BYTE.get(token[i]);
    if (b === undefined) return null;
    out[i] = b;
  }
  return out;
}

/** Byte-level token string of some bytes. */
export function bytesToTokenString(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += BYTE_CHARS[b];
  return s;
}

// The ByteLevel pre-tokenizer's regex. `\s` is spelled out because Oniguruma's (used by the
// Rust library) differs from JavaScript's: it includes U+0085 and excludes U+FEFF.
const WS = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PRETOKENIZE_SOURCE = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`;

/** Splits text into the pre-tokens the BPE merges apply within. */
export function preTokenize(text: string): string[] {
  return text.match(new RegExp(PRETOKENIZE_SOURCE, "gu")) ?? [];
}

/** The parts of a standard `tokenizer.json` this module reads and writes. */
export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: Array<{
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }>;
  normalizer: null;
  pre_tokenizer: { type: "ByteLevel"; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  post_processor: unknown;
  decoder: unknown;
  model: {
    type: "BPE";
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges?: boolean;
    vocab: Record<string, number>;
    /** "a b" strings (all versions of the library read these) or [a, b] pairs (newer ones). */
    merges: Array<string | [string, string]>;
  };
}

/**
 * The standard `tokenizer.json` of a byte-level BPE whose ids are: 0..255 the bytes (in byte
 * order), 256 the end-of-document token, 257.. the merges in order. Loadable by Python's
 * `tokenizers.Tokenizer.from_file` and by the npm binding.
 */
export function makeTokenizerJson(merges: Array<[string, string]>): TokenizerJson {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[BYTE_CHARS[b]] = b;
  vocab[EOD_TOKEN] = 256;
  let next = 257;
  const kept: string[] = [];
  for (const [a, b] of merges) {
    if (vocab[a] === undefined || vocab[b] === undefined) {
      throw new Error(`makeTokenizerJson: merge '${a} ${b}' uses a symbol that no earlier merge made`);
    }
    const m = a + b;
    if (vocab[m] === undefined) vocab[m] = next++;
    kept.push(`${a} ${b}`);
  }
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true } as const;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [{ id: 256, content: EOD_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: { ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: kept,
    },
  };
}

function mergePair(m: string | [string, string]): [string, string] {
  if (Array.isArray(m)) return m;
  const i = m.indexOf(" ", 1);
  if (i < 0) throw new Error(`tokenizer.json: merge '${m}' is not "a b"`);
  return [m.slice(0, i), m.slice(i + 1)];
}

// Pair keys: left id * 2^21 + right id (vocabularies up to 2M tokens).
const PAIR_SHIFT = 2097152;
// Words longer than this use the heap-based merge (O(n log n)) instead of repeated scans (O(n²)).
const LONG_WORD = 48;
const CACHE_LIMIT = 500_000;

/** A byte-level BPE codec built from a tokenizer.json. */
export class ByteLevelBpe {
  readonly vocabSize: number;
  readonly eodId: number;
  private readonly byteId = new Int32Array(256);
  private readonly pairRank = new Map<number, number>();
  private readonly mergedId: Int32Array;
  private readonly bytesOf: Uint8Array[];
  private readonly cache = new Map<string, Int32Array>();
  // Sticky: every match starts where the previous one ended (the pattern matches any character).
  private readonly re = new RegExp(PRETOKENIZE_SOURCE, "yu");
  private readonly scratch = new Uint8Array(1 << 16);
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  constructor(json: TokenizerJson) {
    if (json?.model?.type !== "BPE" || json.pre_tokenizer?.type !== "ByteLevel") {
      throw new Error("tokenizer.json: expected a BPE model with a ByteLevel pre-tokenizer");
    }
    const vocab = json.model.vocab;
    let size = 0;
    for (const id of Object.values(vocab)) size = Math.max(size, id + 1);
    for (const t of json.added_tokens ?? []) size = Math.max(size, t.id + 1);
    if (size >= PAIR_SHIFT) throw new Error(`tokenizer.json: vocabulary of ${size} tokens is larger than supported (2^21)`);
    this.vocabSize = size;
    this.bytesOf = new Array(size);
    for (const [tok, id] of Object.entries(vocab)) {
      const b = tokenStringToBytes(tok);
      if (b !== null) this.bytesOf[id] = b;
    }
    const eod = (json.added_tokens ?? []).find((t) => t.content === EOD_TOKEN) ?? null;
    const eodId = eod?.id ?? vocab[EOD_TOKEN];
    if (eodId === undefined) throw new Error(`tokenizer.json: no end-of-document token '${EOD_TOKEN}'`);
    this.eodId = eodId;
    this.bytesOf[eodId] = this.encoder.encode(EOD_TOKEN);
    for (const t of json.added_tokens ?? []) if (this.bytesOf[t.id] === undefined) this.bytesOf[t.id] = this.encoder.encode(t.content);
    for (let b = 0; b < 256; b++) {
      const id = vocab[BYTE_CHARS[b]];
      if (id === undefined) {
        throw new Error(`tokenizer.json: byte 0x${b.toString(16).padStart(2, "0")} has no token; every byte must be in the vocabulary`);
      }
      this.byteId[b] = id;
    }
    const merges = json.model.merges.map(mergePair);
    this.mergedId = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const ia = vocab[a];
      const ib = vocab[b];
      const im = vocab[a + b];
      if (ia === undefined || ib === undefined || im === undefined) {
        throw new Error(`tokenizer.json: merge '${a} ${b}' refers to tokens missing from the vocabulary`);
      }
      const key = ia * PAIR_SHIFT + ib;
      if (!this.pairRank.has(key)) this.pairRank.set(key, rank);
      this.mergedId[rank] = im;
    });
  }

  /** The bytes a token stands for (the end-of-document token: its text). */
  tokenBytes(id: number): Uint8Array {
    const b = this.bytesOf[id];
    if (b === undefined) throw new Error(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    return b;
  }

  /** Token ids of one text (no special tokens). */
  encode(text: string): Int32Array {
    let out = new Int32Array(Math.max(16, text.length >> 1));
    let n = 0;
    const re = this.re;
    re.lastIndex = 0;
    // test() + lastIndex instead of exec(): no match array per word (this loop is the hot path).
    let start = 0;
    while (start < text.length && re.test(text)) {
      const end = re.lastIndex;
      const word = text.slice(start, end);
      start = end;
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.encodeWord(word);
        // Runs of CJK characters (no spaces between words, so a pre-token is a whole phrase)
        // rarely repeat: caching them costs more (memory, garbage collection) than it saves.
        if (word.length < 4 || word.charCodeAt(word.length - 1) < 0x2e80) {
          if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
          this.cache.set(word, ids);
        }
      }
      if (n + ids.length > out.length) {
        const bigger = new Int32Array(Math.max(out.length * 2, n + ids.length));
        bigger.set(out.subarray(0, n));
        out = bigger;
      }
      if (ids.length < 16) for (let k = 0; k < ids.length; k++) out[n++] = ids[k];
      else {
        out.set(ids, n);
        n += ids.length;
      }
    }
    if (start < text.length) throw new Error(`ByteLevelBpe.encode: the pre-tokenizer stopped at offset ${start} of ${text.length}`);
    return out.slice(0, n);
  }

  /** Text of token ids (the end-of-document token becomes "<|endoftext|>"). */
  decode(ids: ArrayLike<number>): string {
    let total = 0;
    for (let i = 0; i < ids.length; i++) total += this.tokenBytes(ids[i]).length;
    const buf = new Uint8Array(total);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf[ids[i]];
      buf.set(b, o);
      o += b.length;
    }
    return this.decoder.decode(buf);
  }

  private wordBytes(word: string): Uint8Array {
    const scratch = this.scratch;
    if (word.length * 3 > scratch.length) return this.encoder.encode(word);
    let ascii = true;
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      if (c > 0x7f) {
        ascii = false;
        break;
      }
      scratch[i] = c;
    }
    if (ascii) return scratch.subarray(0, word.length);
    const { written } = this.encoder.encodeInto(word, scratch);
    return scratch.subarray(0, written);
  }

  private encodeWord(word: string): Int32Array {
    const bytes = this.wordBytes(word);
    const n = bytes.length;
    const sym = new Int32Array(n);
    for (let i = 0; i < n; i++) sym[i] = this.byteId[bytes[i]];
    if (n <= 1) return sym;
    return n > LONG_WORD ? this.mergeLong(sym) : this.mergeShort(sym);
  }

  /**
   * Merges the lowest-rank adjacent pair (the leftmost among equals) until none is left, keeping
   * each pair's rank in an array so only the two pairs next to a merge are looked up again.
   */
  private mergeShort(sym: Int32Array): Int32Array {
    let n = sym.length;
    const table = this.pairRank;
    const NONE = 0x7fffffff;
    const rank = new Int32Array(n - 1);
    for (let i = 0; i + 1 < n; i++) rank[i] = table.get(sym[i] * PAIR_SHIFT + sym[i + 1]) ?? NONE;
    while (n > 1) {
      let best = NONE;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        if (rank[i] < best) {
          best = rank[i];
          at = i;
        }
      }
      if (at < 0) break;
      sym[at] = this.mergedId[best];
      // Remove symbol at+1 and the pair rank at `at` (it is recomputed below).
      for (let i = at + 1; i + 1 < n; i++) sym[i] = sym[i + 1];
      for (let i = at + 1; i + 2 < n; i++) rank[i] = rank[i + 1];
      n--;
      if (at > 0) rank[at - 1] = table.get(sym[at - 1] * PAIR_SHIFT + sym[at]) ?? NONE;
      if (at + 1 < n) rank[at] = table.get(sym[at] * PAIR_SHIFT + sym[at + 1]) ?? NONE;
    }
    return sym.slice(0, n);
  }

  /**
   * The same merges for long words, as the Rust library does them: a heap of candidate pairs
   * ordered by (rank, position) over a linked list of symbols.
   */
  private mergeLong(sym: Int32Array): Int32Array {
    const n = sym.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    // Binary heap of (rank, pos) packed as rank * 2^21 + pos (pos < 2^21 for words this module sees).
    const heap: number[] = [];
    const push = (v: number) => {
      heap.push(v);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p] <= heap[i]) break;
        [heap[p], heap[i]] = [heap[i], heap[p]];
        i = p;
      }
    };
    const pop = (): number => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let s = i;
          if (l < heap.length && heap[l] < heap[s]) s = l;
          if (r < heap.length && heap[r] < heap[s]) s = r;
          if (s === i) break;
          [heap[s], heap[i]] = [heap[i], heap[s]];
          i = s;
        }
      }
      return top;
    };
    const POS = PAIR_SHIFT;
    if (n >= POS) return this.mergeShort(sym);
    const consider = (i: number) => {
      const j = next[i];
      if (j < 0) return;
      const r = this.pairRank.get(sym[i] * PAIR_SHIFT + sym[j]);
      if (r !== undefined) push(r * POS + i);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.length > 0) {
      const v = pop();
      const rank = Math.floor(v / POS);
      const i = v - rank * POS;
      if (!alive[i]) continue;
      const j = next[i];
      if (j < 0) continue;
      // Stale entry: the pair at i changed since it was pushed.
      if (this.pairRank.get(sym[i] * PAIR_SHIFT + sym[j]) !== rank) continue;
      sym[i] = this.mergedId[rank];
      alive[j] = 0;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) consider(prev[i]);
      consider(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
    return Int32Array.from(out);
  }
}
