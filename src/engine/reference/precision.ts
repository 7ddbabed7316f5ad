/**
 * The reference backend's emulation of bf16 products: the native backend rounds the inputs of every
 * gemm to bfloat16, round to nearest even (attention stays fp32 in both precisions),
 * and accumulates in f32. Here the same inputs are rounded the same way and the products are
 * accumulated in float64, so the two backends differ only by accumulation order: the oracle of the
 * bf16 kernels' tests.
 */
import type { F32, Precision } from "../kernels.ts";

let precision: Precision = "fp32";

export function setReferencePrecision(p: Precision): void {
  if (p !== "fp32" && p !== "bf16") throw new Error(`setPrecision: 'precision' must be 'fp32' or 'bf16', found '${String(p)}'`);
  precision = p;
}

export function referencePrecision(): Precision {
  return precision;
}

const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

/** x rounded to bfloat16 (round to nearest even; NaN stays NaN, ±Inf stays ±Inf), as a number. */
export function roundBf16(x: number): number {
  f[0] = x;
  const bits = u[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return Number.NaN;
  u[0] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) << 16;
  return f[0];
}

/** A copy of x rounded to bf16 when the products run in bf16; x itself otherwise. */
export function productInput(x: F32): F32 {
  if (precision !== "bf16") return x;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = roundBf16(x[i]);
  return out;
}
