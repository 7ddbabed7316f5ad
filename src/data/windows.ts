/**
 * Fixed evaluation windows, drawn from a source's held-out split (never trained on). A window has
 * nCtx + 1 tokens, so a model with context nCtx makes nCtx predictions on it: per-position loss
 * index i is the prediction of token i + 1 from tokens 0..i (the ICL score's "token 500" is index
 * 499). Two policies:
 *
 * - `"document"`: windows inside one held-out document; documents shorter than nCtx + 1 tokens
 *   are excluded (their count is reported), and a source without a long enough held-out document
 *   is an error.
 * - `"packed"`: the held-out documents, in a fixed order, joined by the end-of-document token;
 *   windows anywhere in that stream.
 *
 * Windows are disjoint tiles of the held-out text, chosen in a seeded order; only when the split
 * has fewer tiles than the N requested are extra windows added at random offsets (overlapping;
 * `distinct` says how many are disjoint tiles). The set depends only on the source's tokens, the
 * tokenizer, nCtx, N, the policy and the evaluation seed, never on training settings, and a
 * smaller N gives a prefix of a larger one.
 */
import type { Segment } from "./split.ts";
import { mix32, Mulberry32, permutation } from "./util.ts";

export type EvalPolicy = "document" | "packed";

/** Evaluation windows: `tokens` is [n, length] row-major, length = nCtx + 1. */
export interface EvalWindows {
  tokens: Int32Array;
  n: number;
  length: number;
  /** Source id of each window. */
  sources: string[];
  policy: EvalPolicy;
  /** Windows that are disjoint tiles (the rest overlap them). */
  distinct: number;
  /** Held-out documents too short for the "document" policy (0 for "packed"). */
  excludedDocs: number;
}

/** Options for one source's windows. */
export interface EvalWindowOptions {
  sourceId: string;
  nCtx: number;
  n: number;
  policy: EvalPolicy;
  evalSeed: number;
  eodId: number;
}

/** A contiguous run of the held-out text: token positions in a segment list, joined by EOD when packed. */
interface Run {
  /** Segments of the run, in order. */
  segs: Segment[];
  /** Length in tokens, counting one end-of-document token after each segment when packed. */
  length: number;
  packed: boolean;
}

function copyWindow(tokens: ArrayLike<number>, run: Run, from: number, length: number, eodId: number, out: Int32Array, at: number): void {
  let o = at;
  let pos = from;
  let k = 0;
  // Skip to the segment holding `from`.
  for (;;) {
    const span = run.segs[k].end - run.segs[k].start + (run.packed ? 1 : 0);
    if (pos < span) break;
    pos -= span;
    k++;
  }
  while (o < at + length) {
    const g = run.segs[k];
    const len = g.end - g.start;
    while (pos < len && o < at + length) out[o++] = tokens[g.start + pos++];
    if (o < at + length && run.packed && pos === len) {
      out[o++] = eodId;
      pos++;
    }
    if (pos >= len + (run.packed ? 1 : 0)) {
      k++;
      pos = 0;
    }
  }
}

/**
 * The evaluation windows of one source from its held-out segments. Throws a clear error when the
 * held-out split cannot hold one window.
 */
export function sourceEvalWindows(tokens: ArrayLike<number>, heldOut: Segment[], o: EvalWindowOptions): EvalWindows {
  const L = o.nCtx + 1;
  if (!Number.isInteger(o.n) || o.n < 1) throw new Error(`evaluation windows: N must be a positive integer, found ${o.n}`);
  if (o.policy !== "document" && o.policy !== "packed") {
    throw new Error(`evaluation windows: policy must be "document" or "packed", found ${JSON.stringify(o.policy)}`);
  }
  let runs: Run[];
  let excludedDocs = 0;
  if (o.policy === "document") {
    runs = [];
    let longest = 0;
    for (const g of heldOut) {
      const len = g.end - g.start;
      longest = Math.max(longest, len);
      if (len >= L) runs.push({ segs: [g], length: len, packed: false });
      else excludedDocs++;
    }
    if (runs.length === 0) {
      throw new Error(
        `source '${o.sourceId}' has no held-out document of nCtx + 1 = ${L} tokens (${heldOut.length} held-out documents, ` +
          `the longest has ${longest}); the "document" evaluation policy needs long documents: use evalPolicy "packed" or a smaller nCtx`,
      );
    }
  } else {
    const order = permutation(heldOut.length, o.evalSeed, o.sourceId, "eval-order");
    const segs = Array.from(order, (i) => heldOut[i]);
    const length = segs.reduce((a, g) => a + g.end - g.start + 1, 0);
    if (length < L) {
      throw new Error(
        `source '${o.sourceId}' is too small for evaluation windows: its held-out split has ${length - segs.length} tokens, ` +
          `expected at least nCtx + 1 = ${L}; add text to the source or lower nCtx`,
      );
    }
    runs = [{ segs, length, packed: true }];
  }
  // Disjoint tiles, each run with its own seeded phase.
  const tiles: Array<[number, number]> = [];
  runs.forEach((run, r) => {
    const phase = mix32(o.evalSeed, o.sourceId, "eval-phase", r) % Math.min(L, run.length - L + 1);
    for (let s = phase; s + L <= run.length; s += L) tiles.push([r, s]);
  });
  const pick = permutation(tiles.length, o.evalSeed, o.sourceId, "eval-tiles");
  const chosen: Array<[number, number]> = [];
  for (let k = 0; k < Math.min(o.n, tiles.length); k++) chosen.push(tiles[pick[k]]);
  if (chosen.length < o.n) {
    // Not enough disjoint tiles: extra windows at random offsets, weighted by each run's starts.
    const rng = new Mulberry32(o.evalSeed, o.sourceId, "eval-extra");
    const starts = runs.map((r) => r.length - L + 1);
    const total = starts.reduce((a, b) => a + b, 0);
    while (chosen.length < o.n) {
      let x = Math.floor(rng.next() * total);
      let r = 0;
      while (x >= starts[r]) x -= starts[r++];
      chosen.push([r, x]);
    }
  }
  const out = new Int32Array(o.n * L);
  chosen.forEach(([r, s], w) => copyWindow(tokens, runs[r], s, L, o.eodId, out, w * L));
  return {
    tokens: out,
    n: o.n,
    length: L,
    sources: new Array(o.n).fill(o.sourceId),
    policy: o.policy,
    distinct: Math.min(o.n, tiles.length),
    excludedDocs,
  };
}

/** Concatenates window sets (e.g. per-source prefixes into a mixture's set). */
export function concatWindows(parts: EvalWindows[], policy: EvalPolicy): EvalWindows {
  const L = parts[0]?.length ?? 0;
  const n = parts.reduce((a, p) => a + p.n, 0);
  const tokens = new Int32Array(n * L);
  let at = 0;
  for (const p of parts) {
    tokens.set(p.tokens.subarray(0, p.n * L), at);
    at += p.n * L;
  }
  return {
    tokens,
    n,
    length: L,
    sources: parts.flatMap((p) => p.sources.slice(0, p.n)),
    policy,
    distinct: parts.reduce((a, p) => a + Math.min(p.distinct, p.n), 0),
    excludedDocs: parts.reduce((a, p) => a + p.excludedDocs, 0),
  };
}

/** The first k windows of a set. */
export function takeWindows(w: EvalWindows, k: number): EvalWindows {
  const n = Math.min(k, w.n);
  return { ...w, n, tokens: w.tokens.subarray(0, n * w.length), sources: w.sources.slice(0, n), distinct: Math.min(w.distinct, n) };
}
