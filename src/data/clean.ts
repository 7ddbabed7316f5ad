/**
 * Cleaning: every document that enters a corpus becomes valid UTF-8 text with `\n` newlines, no
 * control characters other than tab and newline, no trailing spaces, at most one blank line in a
 * row; empty documents and exact duplicates (after cleaning) are dropped. Everything removed is
 * counted, so a source's statistics say what cleaning did to it.
 */
import { createHash } from "node:crypto";
import { isUtf8 } from "node:buffer";

/** What cleaning did to one source. */
export interface CleanStats {
  /** Documents offered by the source. */
  docsIn: number;
  /** Documents kept. */
  docsOut: number;
  /** Documents empty after cleaning. */
  emptyDropped: number;
  /** Exact duplicates (after cleaning) of a document kept earlier. */
  duplicatesDropped: number;
  /** Bytes that were not valid UTF-8 (and lone UTF-16 surrogates), dropped. */
  invalidBytesDropped: number;
  /** Control characters (other than tab and newline) dropped. */
  controlCharsDropped: number;
  /** UTF-8 bytes offered (after decoding) and kept. */
  bytesIn: number;
  bytesOut: number;
}

export function emptyCleanStats(): CleanStats {
  return {
    docsIn: 0,
    docsOut: 0,
    emptyDropped: 0,
    duplicatesDropped: 0,
    invalidBytesDropped: 0,
    controlCharsDropped: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
}

/**
 * Offset of the first byte that is not part of valid UTF-8, or -1 when all of `buf` is valid.
 * Used to name the exact place in a user's file that is not UTF-8.
 */
export function firstInvalidUtf8(buf: Uint8Array): number {
  if (isUtf8(buf)) return -1;
  let i = 0;
  while (i < buf.length) {
    const n = validSequenceLength(buf, i);
    if (n === 0) return i;
    i += n;
  }
  return -1;
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function validSequenceLength(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Decodes bytes as UTF-8, dropping every byte that is not part of a valid sequence (rather than
 * replacing it with U+FFFD, which would be indistinguishable from a real U+FFFD) and counting them.
 */
export function decodeUtf8Dropping(buf: Uint8Array): { text: string; invalid: number } {
  if (isUtf8(buf)) return { text: decoder.decode(buf), invalid: 0 };
  const out = new Uint8Array(buf.length);
  let o = 0;
  let invalid = 0;
  let i = 0;
  while (i < buf.length) {
    const n = validSequenceLength(buf, i);
    if (n === 0) {
      invalid++;
      i++;
      continue;
    }
    for (let k = 0; k < n; k++) out[o++] = buf[i + k];
    i += n;
  }
  return { text: decoder.decode(out.subarray(0, o)), invalid };
}

/** Removes lone UTF-16 surrogates (JSON sources can contain them); returns how many. */
export function dropLoneSurrogates(s: string): { text: string; invalid: number } {
  const wf = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  if (wf !== undefined ? wf.call(s) : !/[\ud800-\udfff]/.test(s)) return { text: s, invalid: 0 };
  let invalid = 0;
  const text = s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, () => {
    invalid++;
    return "";
  });
  return { text, invalid };
}

// C0 controls except \t and \n, DEL, C1 controls, and the BOM / zero-width no-break space.
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f\ufeff]/g;

/**
 * Normalises one document's text: `\r\n` and `\r` become `\n`, vertical tab and form feed become
 * `\n`, other control characters are dropped, trailing spaces are cut from each line, runs of
 * blank lines shrink to one, and leading blank lines and trailing whitespace go.
 */
export function normalizeText(s: string): { text: string; controls: number } {
  let controls = 0;
  let t = s.replace(/\r\n?/g, "\n").replace(/[\u000b\u000c]/g, "\n");
  t = t.replace(CONTROL, () => {
    controls++;
    return "";
  });
  t = t.replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n");
  t = t.replace(/^\n+/, "").trimEnd();
  return { text: t, controls };
}

const encoder = new TextEncoder();

/**
 * Cleans a stream of documents: decode (dropping invalid bytes), normalise, drop empties and exact
 * duplicates. `add` returns the cleaned document as UTF-8 bytes, or null when it was dropped.
 */
export class DocumentCleaner {
  readonly stats: CleanStats = emptyCleanStats();
  private readonly seen = new Set<string>();

  /** `dedupe: false` keeps exact duplicates (for sources where repetition is the point). */
  constructor(private readonly options: { dedupe?: boolean } = {}) {}

  add(raw: string | Uint8Array): Uint8Array | null {
    this.stats.docsIn++;
    let text: string;
    if (typeof raw === "string") {
      const r = dropLoneSurrogates(raw);
      text = r.text;
      this.stats.invalidBytesDropped += r.invalid;
    } else {
      const r = decodeUtf8Dropping(raw);
      text = r.text;
      this.stats.invalidBytesDropped += r.invalid;
    }
    const n = normalizeText(text);
    this.stats.controlCharsDropped += n.controls;
    const bytes = encoder.encode(n.text);
    this.stats.bytesIn += typeof raw === "string" ? Buffer.byteLength(raw, "utf8") : raw.length;
    if (bytes.length === 0) {
      this.stats.emptyDropped++;
      return null;
    }
    if (this.options.dedupe !== false) {
      const h = createHash("sha1").update(bytes).digest("base64");
      if (this.seen.has(h)) {
        this.stats.duplicatesDropped++;
        return null;
      }
      this.seen.add(h);
    }
    this.stats.docsOut++;
    this.stats.bytesOut += bytes.length;
    return bytes;
  }
}
