/**
 * What the native kernel tests share: the kernels or a skip, and the element-wise comparison with
 * the reference backend.
 */
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import type { GemmParams, Kernels } from "../kernels.ts";
import { skipOrFail } from "../../util/test-env.ts";
import { loadNativeKernels } from "./index.ts";

const loaded = loadNativeKernels();

/** The native kernels, or null after marking the test skipped (failed when native is required, or in strict mode). */
export function nativeOrSkip(t: TestContext): Kernels | null {
  if (loaded.ok) return loaded.kernels;
  if (process.env.ICL_LAB_BACKEND === "native") {
    assert.fail(`ICL_LAB_BACKEND=native but the native addon is not available: ${loaded.reason}`);
  }
  skipOrFail(t, loaded.reason);
  return null;
}

/** gemm parameters with no transposes, alpha 1 and beta 0 unless `p` says otherwise: a test states only what it varies. */
export function plainGemm(p: Omit<GemmParams, "transA" | "transB" | "alpha" | "beta"> & Partial<GemmParams>): GemmParams {
  return { transA: false, transB: false, alpha: 1, beta: 0, ...p };
}

export interface Tol {
  rel: number;
  abs: number;
}

/** |native − reference| ≤ abs + rel·|reference| per element; NaN must match NaN, ±Inf exactly. */
export function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i],
      e = expected[i];
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: expected NaN, found ${a}`);
      continue;
    }
    if (!Number.isFinite(e)) {
      assert.equal(a, e, `${what}[${i}]`);
      continue;
    }
    const err = Math.abs(a - e);
    if (!(err <= tol.abs + tol.rel * Math.abs(e))) {
      assert.fail(`${what}[${i}]: native ${a}, reference ${e} (error ${err.toExponential(2)} > abs ${tol.abs} + rel ${tol.rel})`);
    }
  }
}
