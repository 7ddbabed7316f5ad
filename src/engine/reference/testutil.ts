/**
 * Helpers for the reference kernel tests: a seeded random generator, closeness assertions and a
 * gradient checker by central finite differences of a forward kernel.
 */
import assert from "node:assert/strict";
import type { Kernels } from "../kernels.ts";

/** Seeded generator (mulberry32): tests are reproducible. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hiExclusive: number): number {
    return lo + Math.floor(this.next() * (hiExclusive - lo));
  }
  /** Float32Array of n values uniform in [lo, hi). */
  f32(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }
  /** Values uniform in ±[lo, hi): magnitude at least lo (away from kinks at 0). */
  f32AwayFromZero(n: number, lo: number, hi: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (this.next() < 0.5 ? -1 : 1) * this.uniform(lo, hi);
    return a;
  }
}

/**
 * The buffer types the kernel tests run with. The reference kernels index their buffers and never
 * round explicitly, so they also run on Float64Array buffers (cast to F32): tensor.ts's
 * `withPrecision(Float64Array, …)` relies on that for float64 gradient tests of the ops, and the
 * float64 run here makes the finite-difference checks tight.
 */
export interface BufferType {
  name: "float32" | "float64";
  make(n: number): Float32Array;
  from(a: ArrayLike<number>): Float32Array;
}
export const BUFFER_TYPES: BufferType[] = [
  { name: "float32", make: (n) => new Float32Array(n), from: (a) => Float32Array.from(a) },
  {
    name: "float64",
    make: (n) => new Float64Array(n) as unknown as Float32Array,
    from: (a) => Float64Array.from(a) as unknown as Float32Array,
  },
];

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise (NaN equals NaN). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label = ""): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${label}[${i}]: expected NaN, found ${a}`);
      continue;
    }
    if (a === e) continue; // also covers equal infinities
    const err = Math.abs(a - e);
    assert.ok(
      err <= tol.atol + tol.rtol * Math.abs(e),
      `${label}[${i}]: found ${a}, expected ${e} (error ${err.toExponential(2)} > atol ${tol.atol} + rtol ${tol.rtol}·|expected|)`,
    );
  }
}

/**
 * Gradient check of a backward kernel against central finite differences of its forward kernel.
 *
 * The scalar loss is L = Σ_i w_i·y_i (float64), y = forward() and w a fixed random vector, so the
 * gradient of L with respect to y is w, which is what `backward` receives as dy. Gradient buffers
 * are pre-filled with random values before `backward` runs and those values are subtracted after,
 * which checks that the kernel ACCUMULATES (+=) rather than overwrites.
 *
 * Float32 buffers. Each input element x is perturbed to x± = fround(x ± h) and the derivative estimated as
 * (L(x+) − L(x−)) / (x+ − x−), dividing by the perturbation actually applied (after rounding to
 * float32). Error budget for h = 1e-2 with O(1) inputs: truncation h²/6·|L'''| ≈ 2e-5, and the
 * float32 rounding of the outputs, ≈ 6e-8·Σ|w·y| / 2h ≈ 3e-6·Σ|y|/√(#outputs) in practice. The
 * default tolerance |analytic − fd| ≤ 2e-4 + 2e-4·|fd| is about 5× the worst error observed on the
 * shapes used here, and far below the O(0.01–1) error of a wrong or missing gradient term.
 *
 * Float64 buffers (inputs are Float64Arrays, see BUFFER_TYPES): the kernels then compute in
 * float64 throughout and the differences use h = 1e-5: truncation h²/6·|L'''| ≈ 2e-11, rounding
 * ≈ 1e-16·|L|/h ≈ 1e-10, so the default tolerance is 1e-8 + 1e-7·|fd|: a relative slip of 1e-6
 * anywhere in a backward kernel fails.
 *
 * With `reference` (an independent float64 implementation of the same forward function), the
 * gradient is also checked against central differences of that, with h = 1e-5 in float64
 * (truncation ≈ 1e-11, rounding ≈ 1e-11): the remaining error is the kernel's own float32
 * storage (≈ 1e-7 relative), so the tolerance is tight, 1e-5 + 1e-5·|fd|, and catches errors of a
 * fraction of a percent that the float32 differences cannot see. The reference is first checked
 * against the kernel's forward output.
 */
/**
 * checkGradients for attentionBackward of the kernels K: q, k, v are perturbed through K.attention
 * (probs null) with the given dims [B, T, H, D], scale and causal; `reference` is a float64 forward
 * returning out. Used by the reference and the native attention tests.
 */
export function checkAttentionGradients(o: {
  label: string;
  K: Kernels;
  rng: Rng;
  bufs: Record<"q" | "k" | "v" | "out" | "lse", Float32Array>;
  dims: [number, number, number, number];
  scale: number;
  causal: boolean;
  reference: (inputs: Record<string, Float64Array>) => ArrayLike<number>;
}): void {
  const { K, scale, causal } = o;
  const { q, k, v, out, lse } = o.bufs;
  const [B, T, H, D] = o.dims;
  checkGradients({
    label: o.label,
    rng: o.rng,
    inputs: { q, k, v },
    forward: () => {
      K.attention(q, k, v, B, T, H, D, scale, causal, null, lse, out);
      return out;
    },
    backward: (dout, g) => K.attentionBackward(q, k, v, out, lse, dout, B, T, H, D, scale, causal, g.q, g.k, g.v),
    reference: o.reference,
  });
}

export function checkGradients(opts: {
  label: string;
  /** Buffers the forward kernel reads; perturbed in place (and restored). */
  inputs: Record<string, Float32Array>;
  /** Runs the forward kernel and returns the output it wrote. */
  forward: () => Float32Array;
  /** Runs the backward kernel with dy, accumulating into grads[name] for each checked input. */
  backward: (dy: Float32Array, grads: Record<string, Float32Array>) => void;
  /** Names of the inputs to check (default: all). */
  check?: string[];
  rng: Rng;
  h?: number;
  tol?: Tolerance;
  /** The same forward function in float64, from independent code (inputs are float64 copies). */
  reference?: (inputs: Record<string, Float64Array>) => ArrayLike<number>;
  /** Tolerance of the float64 check (default 1e-5 + 1e-5·|fd|). */
  tol64?: Tolerance;
}): void {
  const names = opts.check ?? Object.keys(opts.inputs);
  const f64 = Object.values(opts.inputs)[0] instanceof Float64Array;
  const buf = BUFFER_TYPES[f64 ? 1 : 0];
  const h = opts.h ?? (f64 ? 1e-5 : 1e-2);
  const tol = opts.tol ?? (f64 ? { atol: 1e-8, rtol: 1e-7 } : { atol: 2e-4, rtol: 2e-4 });
  const rng = opts.rng;
  const label = `${opts.label} (${buf.name} buffers)`;

  const y0 = opts.forward().slice();
  const w = buf.from(rng.f32(y0.length, -1, 1));
  const loss = (): number => {
    const y = opts.forward();
    let s = 0;
    for (let i = 0; i < y.length; i++) s += w[i] * y[i];
    return s;
  };

  // Analytic gradients: backward accumulates on top of random initial contents.
  const grads: Record<string, Float32Array> = {};
  const initial: Record<string, Float32Array> = {};
  for (const name of names) {
    initial[name] = buf.from(rng.f32(opts.inputs[name].length, -1, 1));
    grads[name] = initial[name].slice();
  }
  opts.forward(); // the forward state backward may depend on (probs, gates...) is fresh
  opts.backward(w, grads);

  if (opts.reference) {
    const inputs64: Record<string, Float64Array> = {};
    for (const [k, v] of Object.entries(opts.inputs)) inputs64[k] = Float64Array.from(v);
    assertClose(y0, opts.reference(inputs64), { atol: 1e-5, rtol: 1e-5 }, `${label}: forward vs float64 reference`);
  }

  for (const name of names) {
    const x = opts.inputs[name];
    const analytic = new Float64Array(x.length);
    const numeric = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      analytic[i] = grads[name][i] - initial[name][i];
      const orig = x[i];
      x[i] = orig + h;
      const xp = x[i];
      const lp = loss();
      x[i] = orig - h;
      const xm = x[i];
      const lm = loss();
      x[i] = orig;
      numeric[i] = (lp - lm) / (xp - xm);
    }
    assertClose(analytic, numeric, tol, `${label}: d/d${name}`);
    if (opts.reference) {
      const x64 = Float64Array.from(x);
      const inputs64: Record<string, Float64Array> = {};
      for (const [k, v] of Object.entries(opts.inputs)) inputs64[k] = k === name ? x64 : Float64Array.from(v);
      const loss64 = (): number => {
        const y = (opts.reference as NonNullable<typeof opts.reference>)(inputs64);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += w[i] * y[i];
        return s;
      };
      const h64 = 1e-5;
      const numeric64 = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const orig = x64[i];
        x64[i] = orig + h64;
        const lp = loss64();
        x64[i] = orig - h64;
        const lm = loss64();
        x64[i] = orig;
        numeric64[i] = (lp - lm) / (2 * h64);
      }
      assertClose(analytic, numeric64, opts.tol64 ?? { atol: 1e-5, rtol: 1e-5 }, `${label}: d/d${name} (float64 reference)`);
    }
  }

  opts.forward(); // leave the outputs as they were
}
