/**
 * Mixtures and the training sampler.
 *
 * A mixture gives each source a weight and (optionally) a budget of unique training tokens: the
 * data size, varied at a fixed number of training tokens by repeating epochs. Each source
 * contributes `weight × uniqueTokens` tokens: a prefix of its training documents in a seeded
 * order (the last one cut), so a smaller budget is a subset of a larger one for the same seed.
 *
 * The sampler yields windows of nCtx + 1 tokens. Each source's pool is packed into an epoch
 * stream (its documents in a fresh seeded order every epoch, each followed by the
 * end-of-document token), cut into windows with stride nCtx (so every token is a target exactly
 * once per epoch), and the windows are visited in a seeded order. Each batch row picks its source
 * at random with the mixture's weights. Everything is a pure function of (seed, row counter,
 * per-source epoch and cursor), so `state()` is small and `restore()` continues exactly.
 */
import { segmentTokens, type Segment } from "./split.ts";
import { hashValue, mix32, permutation, uniform } from "./util.ts";

/** Weights by source id (normalised to sum 1), or a list of ids (equal weights). */
export type MixtureWeights = Readonly<Record<string, number>> | readonly string[];

/** A mixture of sources. */
export interface MixtureSpec {
  /** Default: the embedded default suite, equal weights. */
  sources?: MixtureWeights;
  /** Unique training tokens in all (the data size). Default: every training token of every source. */
  uniqueTokens?: number;
}

/** Validates and normalises mixture weights; errors name the offending source. */
export function normalizeWeights(sources: MixtureWeights): Array<{ id: string; weight: number }> {
  const entries: Array<[string, number]> = Array.isArray(sources)
    ? (sources as readonly string[]).map((id) => [id, 1])
    : Object.entries(sources as Record<string, number>);
  if (entries.length === 0) throw new Error("mixture: no sources; expected at least one source id with a positive weight");
  for (const [id, w] of entries) {
    if (typeof w !== "number" || !Number.isFinite(w) || w <= 0) {
      throw new Error(`mixture: weight of source '${id}' must be a positive number, found ${String(w)}`);
    }
  }
  const ids = entries.map(([id]) => id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new Error(`mixture: source '${dup}' is listed twice`);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  return entries.map(([id, w]) => ({ id, weight: w / total }));
}

/** Splits an integer total by weights (largest remainder), deterministic. */
export function apportion(total: number, weights: number[]): number[] {
  const raw = weights.map((w) => w * total);
  const out = raw.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k][1]]++;
  return out;
}

/**
 * The budgeted pool of a source: its training segments in a seeded order, cut so their tokens
 * sum to `budget` (all of them when `budget` is undefined).
 */
export function budgetPool(train: Segment[], options: { budget?: number; seed: number; sourceId: string }): Segment[] {
  const { budget, seed, sourceId } = options;
  const order = permutation(train.length, seed, sourceId, "budget");
  const pool: Segment[] = [];
  let left = budget ?? Number.POSITIVE_INFINITY;
  for (let k = 0; k < order.length && left > 0; k++) {
    const s = train[order[k]];
    const len = s.end - s.start;
    if (len <= left) {
      pool.push(s);
      left -= len;
    } else {
      pool.push({ start: s.start, end: s.start + left, doc: s.doc });
      left = 0;
    }
  }
  return pool;
}

/** One source as the sampler sees it. */
export interface SamplerSource {
  id: string;
  weight: number;
  /** The source's token array (segments index into it). */
  tokens: ArrayLike<number>;
  /** Its training pool. */
  segments: Segment[];
}

/** The sampler's resumable state (plain JSON). */
export type SamplerState = {
  format: "icl-lab.sampler/1";
  /** Hash of everything the data order depends on; restore() refuses a state for other data. */
  fingerprint: string;
  /** Batch rows drawn so far. */
  rows: number;
  /** Per source: epoch number and position in that epoch's window order. */
  sources: { [id: string]: { epoch: number; cursor: number } };
};

interface Epoch {
  epoch: number;
  /** Stream start of each segment in this epoch's order (length nSeg + 1). */
  starts: Float64Array;
  order: Uint32Array;
  shift: number;
  windows: Uint32Array;
}

/** A deterministic, resumable stream of training windows from a mixture. */
export class MixtureSampler {
  /** Window length: nCtx + 1 (inputs [:, :nCtx], targets [:, 1:]). */
  readonly length: number;
  readonly fingerprint: string;
  private rows = 0;
  private readonly cursor: Array<{ epoch: number; cursor: number }>;
  private readonly epochs: Array<Epoch | null>;
  private readonly cumulative: number[];

  readonly nCtx: number;
  private readonly seed: number;
  private readonly eodId: number;

  /**
   * `identity`: anything else the data depends on (store hashes, tokenizer), folded into the
   * fingerprint that restore() checks.
   */
  constructor(
    private readonly sources: SamplerSource[],
    options: { nCtx: number; seed: number; eodId: number; identity?: unknown },
  ) {
    const { nCtx, seed, eodId } = options;
    const dataIdentity = options.identity ?? null;
    this.nCtx = nCtx;
    this.seed = seed;
    this.eodId = eodId;
    if (!Number.isInteger(nCtx) || nCtx < 1) throw new Error(`sampler: nCtx must be a positive integer, found ${nCtx}`);
    this.length = nCtx + 1;
    for (const s of sources) {
      const streamLength = s.segments.reduce((a, g) => a + (g.end - g.start) + 1, 0);
      if (streamLength < this.length + 1) {
        throw new Error(
          `source '${s.id}' is too small for training windows: its training pool has ${streamLength - s.segments.length} tokens ` +
            `(${s.segments.length} documents), expected at least nCtx + 1 = ${this.length}; add text or lower nCtx`,
        );
      }
    }
    this.cursor = sources.map(() => ({ epoch: 0, cursor: 0 }));
    this.epochs = sources.map(() => null);
    const total = sources.reduce((a, s) => a + s.weight, 0);
    if (!(total > 0)) throw new Error("sampler: the mixture weights must be positive");
    let acc = 0;
    this.cumulative = sources.map((s) => (acc += s.weight / total));
    this.fingerprint = hashValue({
      nCtx,
      seed,
      eodId,
      sources: sources.map((s) => [s.id, s.weight, s.segments.length, segmentTokens(s.segments)]),
      dataIdentity,
    }).slice(0, 24);
  }

  /** Unique tokens per source pool (without end-of-document tokens). */
  poolTokens(): Record<string, number> {
    return Object.fromEntries(this.sources.map((s) => [s.id, segmentTokens(s.segments)]));
  }

  /** Windows in one epoch of each source. */
  windowsPerEpoch(): Record<string, number> {
    return Object.fromEntries(this.sources.map((s, i) => [s.id, this.epochOf(i, 0).windows.length]));
  }

  private epochOf(i: number, e: number): Epoch {
    const cached = this.epochs[i];
    if (cached !== null && cached.epoch === e) return cached;
    const src = this.sources[i];
    const segs = src.segments;
    const order = permutation(segs.length, this.seed, src.id, "epoch", e);
    const starts = new Float64Array(segs.length + 1);
    for (let k = 0; k < segs.length; k++) {
      const g = segs[order[k]];
      starts[k + 1] = starts[k] + (g.end - g.start) + 1;
    }
    const total = starts[segs.length];
    const L = this.length;
    // A random phase so window boundaries differ between epochs; at least one window fits.
    const maxShift = Math.max(1, Math.min(this.nCtx, total - L + 1));
    const shift = mix32(this.seed, src.id, "shift", e) % maxShift;
    const count = Math.max(1, Math.floor((total - 1 - shift) / this.nCtx));
    const windows = permutation(count, this.seed, src.id, "windows", e);
    const ep = { epoch: e, starts, order, shift, windows };
    this.epochs[i] = ep;
    return ep;
  }

  /** Copies stream positions [from, from + L) of an epoch into out[at…]. */
  private fill(i: number, ep: Epoch, from: number, out: Int32Array, at: number): void {
    const segs = this.sources[i].segments;
    const tokens = this.sources[i].tokens;
    const starts = ep.starts;
    // Binary search: the segment whose stream span holds `from`.
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= from) lo = mid;
      else hi = mid - 1;
    }
    let k = lo;
    let pos = from - starts[k];
    let o = at;
    const end = at + this.length;
    while (o < end) {
      const g = segs[ep.order[k]];
      const len = g.end - g.start;
      while (pos < len && o < end) out[o++] = tokens[g.start + pos++];
      if (o < end && pos === len) {
        out[o++] = this.eodId;
        pos++;
      }
      if (pos > len) {
        k = (k + 1) % segs.length;
        pos = 0;
      }
    }
  }

  /** Next training batch: Int32Array of shape [batchSize, nCtx + 1], row-major. */
  nextBatch(batchSize: number): Int32Array {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`nextBatch: batchSize must be a positive integer, found ${batchSize}`);
    const out = new Int32Array(batchSize * this.length);
    for (let r = 0; r < batchSize; r++) {
      const u = uniform(this.seed, "row", this.rows++);
      let i = this.cumulative.findIndex((c) => u < c);
      if (i < 0) i = this.sources.length - 1;
      const c = this.cursor[i];
      let ep = this.epochOf(i, c.epoch);
      if (c.cursor >= ep.windows.length) {
        c.epoch++;
        c.cursor = 0;
        ep = this.epochOf(i, c.epoch);
      }
      const w = ep.windows[c.cursor++];
      this.fill(i, ep, ep.shift + w * this.nCtx, out, r * this.length);
    }
    return out;
  }

  /** The resumable state (JSON). */
  state(): SamplerState {
    return {
      format: "icl-lab.sampler/1",
      fingerprint: this.fingerprint,
      rows: this.rows,
      sources: Object.fromEntries(this.sources.map((s, i) => [s.id, { ...this.cursor[i] }])),
    };
  }

  /** Continues from a state returned by state() (of a sampler over the same data and seed). */
  restore(state: unknown): void {
    const s = state as SamplerState;
    if (s === null || typeof s !== "object" || s.format !== "icl-lab.sampler/1") {
      throw new Error(`sampler.restore: expected a state from state() (format "icl-lab.sampler/1"), found ${JSON.stringify(state)?.slice(0, 80)}`);
    }
    if (s.fingerprint !== this.fingerprint) {
      throw new Error(
        `sampler.restore: the state was saved for other data (fingerprint ${s.fingerprint}, this data ${this.fingerprint}); ` +
          "the sources, weights, budget, tokenizer, nCtx and seed must be the same to resume",
      );
    }
    this.rows = s.rows;
    this.sources.forEach((src, i) => {
      const c = s.sources[src.id];
      if (c === undefined) throw new Error(`sampler.restore: the state has no cursor for source '${src.id}'`);
      this.cursor[i] = { epoch: c.epoch, cursor: c.cursor };
    });
  }

  /** How many epochs each source has started (1 = still in its first). */
  epochsStarted(): Record<string, number> {
    return Object.fromEntries(this.sources.map((s, i) => [s.id, this.cursor[i].epoch + 1]));
  }
}
