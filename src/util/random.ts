/**
 * Seeded pseudo-random numbers and the one string hash. Two generators, each for one purpose, and
 * both kept because every stored number depends on them (initial weights, data orders, golden values,
 * the demo's figures); replacing either with the other would change all of those:
 *
 * - `Xoshiro128` (exported also as `Rng`, the lab's generator): xoshiro128** seeded by splitmix32.
 *   Used by model initialisation, the trainer, the synthetic sources and the measurements. Its state
 *   (four words and a spare normal deviate) is saved in training checkpoints and restored exactly,
 *   and it draws normals (Box-Muller).
 * - `Mulberry32`: mulberry32 seeded by `mix32` of its inputs. Used by the data pipeline (shuffles,
 *   evaluation extras), where every order must be a pure function of (seed, source, …) so that a
 *   sampler resumes from a few integers instead of a saved generator state.
 *
 * `mix32`, `uniform` and `permutation` are the data pipeline's other pure functions of their inputs.
 */

/** 32-bit FNV-1a of a string's UTF-16 code units (fast, stable; not for security): string seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Xoshiro128: the lab's stateful generator

export interface RngState {
  s: [number, number, number, number];
  /** A spare normal deviate from the Box-Muller pair, or null. */
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** xoshiro128** with a splitmix32 seeder: fast, with a small state that a checkpoint can hold. */
export class Xoshiro128 {
  private s: Uint32Array;
  private spare: number | null = null;

  constructor(seed: number | string) {
    const sm = splitmix32(typeof seed === "number" ? seed : hashString(seed));
    this.s = Uint32Array.from([sm(), sm(), sm(), sm()]);
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  static fromState(state: RngState): Xoshiro128 {
    const r = new Xoshiro128(0);
    r.s = Uint32Array.from(state.s);
    r.spare = state.spare;
    return r;
  }

  state(): RngState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]], spare: this.spare };
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new Error(`Rng.int: n must be ≥ 1, found ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(a: T[] | Int32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t as never;
    }
  }
}

/** The lab's generator: model initialisation, training, synthetic sources, measurements. */
export { Xoshiro128 as Rng };

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// The data pipeline: pure functions of their inputs, and Mulberry32

/** murmur3's finaliser: a good 32-bit mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Mixes integers (and strings, hashed) into one 32-bit value. A pure function: the same inputs
 * always give the same output, which is what makes samplers resumable from a small state.
 */
export function mix32(...parts: Array<number | string>): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    const x = typeof p === "string" ? hashString(p) : p >>> 0;
    // Fold in values above 2^32 too (row counters can exceed it in long runs).
    const hi = typeof p === "number" && p > 0xffffffff ? Math.floor(p / 4294967296) >>> 0 : 0;
    h = fmix32(h ^ x) + 0x6d2b79f5;
    if (hi !== 0) h = fmix32(h ^ hi) + 0x6d2b79f5;
  }
  return fmix32(h);
}

/** Uniform in [0, 1) from mixed inputs. */
export function uniform(...parts: Array<number | string>): number {
  return mix32(...parts) / 4294967296;
}

/** mulberry32, seeded by `mix32(...seed)`: the data pipeline's shuffles. */
export class Mulberry32 {
  private s: number;
  constructor(...seed: Array<number | string>) {
    this.s = mix32(...seed);
  }
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** A seeded Fisher–Yates permutation of 0..n-1 (Mulberry32). */
export function permutation(n: number, ...seed: Array<number | string>): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rng = new Mulberry32(...seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
