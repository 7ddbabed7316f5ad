/**
 * The held-out split. Each source's documents are assigned to training or held-out by a hash of
 * their content (with a fixed salt), so the assignment depends neither on the seed, nor on the
 * training settings, nor on which other documents the source has: adding files to a user source
 * never moves an existing document between the splits. About `HELD_OUT_FRACTION` of the documents
 * are held out. A source with fewer than `MIN_DOCS_FOR_DOCUMENT_SPLIT` documents (e.g. a single
 * user file) is split inside each document instead: the last `HELD_OUT_FRACTION` of its tokens.
 * Nothing held out is ever used for training, nor for training a BPE tokenizer.
 */
import { mix32 } from "./util.ts";

/** Fraction of documents (or of each document's tokens) held out. */
export const HELD_OUT_FRACTION = 0.1;
/** Below this many documents a source is split by document tails instead of whole documents. */
export const MIN_DOCS_FOR_DOCUMENT_SPLIT = 20;
const SPLIT_SALT = "icl-lab/held-out/1";

/** Whether a document (by its content hash) is held out. */
export function isHeldOut(docHash: number, fraction = HELD_OUT_FRACTION): boolean {
  return mix32(docHash, SPLIT_SALT) / 4294967296 < fraction;
}

/** A range of tokens [start, end) in a token store (offsets into its token array). */
export interface Segment {
  start: number;
  end: number;
  /** The document it belongs to. */
  doc: number;
}

/** The number of tokens in segments. */
export function segmentTokens(segments: readonly Segment[]): number {
  return segments.reduce((a, g) => a + g.end - g.start, 0);
}

/** How a source was split. */
export interface Split {
  kind: "documents" | "tails";
  train: Segment[];
  heldOut: Segment[];
}

/**
 * Splits a source given its documents' token offsets (nDocs + 1 entries) and content hashes.
 * Documents are whole segments; with the tail split, each document gives a training head and a
 * held-out tail.
 */
export function splitDocuments(docOffsets: ArrayLike<number>, docHashes: ArrayLike<number>, options: { fraction?: number } = {}): Split {
  const fraction = options.fraction ?? HELD_OUT_FRACTION;
  const nDocs = docOffsets.length - 1;
  const train: Segment[] = [];
  const heldOut: Segment[] = [];
  if (nDocs >= MIN_DOCS_FOR_DOCUMENT_SPLIT) {
    for (let d = 0; d < nDocs; d++) {
      const seg = { start: docOffsets[d], end: docOffsets[d + 1], doc: d };
      if (seg.end <= seg.start) continue;
      (isHeldOut(docHashes[d], fraction) ? heldOut : train).push(seg);
    }
    // A source can hash every document to one side; move one document across so both sides exist.
    if (heldOut.length === 0 && train.length > 1) heldOut.push(train.pop()!);
    if (train.length === 0 && heldOut.length > 1) train.push(heldOut.pop()!);
    return { kind: "documents", train, heldOut };
  }
  for (let d = 0; d < nDocs; d++) {
    const start = docOffsets[d];
    const end = docOffsets[d + 1];
    const cut = end - Math.ceil((end - start) * fraction);
    if (cut > start) train.push({ start, end: cut, doc: d });
    if (end > cut) heldOut.push({ start: cut, end, doc: d });
  }
  return { kind: "tails", train, heldOut };
}
