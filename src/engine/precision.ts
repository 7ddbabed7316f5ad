/**
 * Which precision the matrix products run in (see `Precision` in kernels.ts), decided in one place:
 *   1. a run's config key `precision` ("fp32" | "bf16"), when given: a run keeps its precision for
 *      its whole life, resumes included (the resolved value is stored in the run's config);
 *   2. else the environment variable ICL_LAB_PRECISION;
 *   3. else the CPU: bf16 where it has AMX or AVX-512-BF16 (as oneDNN sees it), fp32 elsewhere and
 *      on the reference backend.
 * In bf16 only the inputs of a product are rounded; accumulation, outputs, master weights, optimizer
 * state, softmax, layer norm and the loss stay f32 (the recipe of Kalamkar et al. 2019, and of
 * PyTorch's CPU autocast). On a CPU without AMX only the products that measured faster in bf16 use
 * it (src/engine/native/bf16.cc `bf16Pays`), so a small model computes exactly as in fp32.
 */
import { kernels } from "./backend.ts";
import type { Precision } from "./kernels.ts";

export type { Precision };
export const PRECISIONS: readonly Precision[] = ["fp32", "bf16"];

export function isPrecision(x: unknown): x is Precision {
  return x === "fp32" || x === "bf16";
}

/** The precision a new run gets when its config does not say: ICL_LAB_PRECISION, else the CPU's. */
export function defaultPrecision(): Precision {
  const env = process.env.ICL_LAB_PRECISION;
  if (env !== undefined && env !== "") {
    if (!isPrecision(env)) throw new Error(`ICL_LAB_PRECISION must be 'fp32' or 'bf16', found '${env}'`);
    return env;
  }
  const hw = kernels().bf16Hardware();
  return hw === "amx" || hw === "avx512-bf16" ? "bf16" : "fp32";
}

/** Sets the precision every later product runs in (process-wide, like the thread count). */
export function usePrecision(p: Precision | undefined): Precision {
  const chosen = p ?? "fp32";
  kernels().setPrecision(chosen);
  return chosen;
}

/** Runs f in precision p and restores the previous one. */
export function withPrecision<T>(p: Precision, f: () => T): T {
  const K = kernels();
  const prev = K.getPrecision();
  K.setPrecision(p);
  try {
    return f();
  } finally {
    K.setPrecision(prev);
  }
}
