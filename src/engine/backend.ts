/**
 * Chooses the backend that runs every kernel: the native addon when it is built and loads, the
 * reference TypeScript kernels otherwise (with one warning saying what is missing and how to get
 * it). `ICL_LAB_BACKEND=native|reference` chooses explicitly; `native` then fails loudly instead of
 * falling back. `ICL_LAB_THREADS=N` sets the thread count (default: the machine's cores).
 */
import { availableParallelism } from "node:os";
import type { Kernels } from "./kernels.ts";
import { referenceKernels } from "./reference/index.ts";
import { loadNativeKernels } from "./native/index.ts";

export type BackendName = Kernels["name"];

let current: Kernels | null = null;
let warned = false;

function defaultThreads(): number {
  const env = process.env.ICL_LAB_THREADS;
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`ICL_LAB_THREADS must be a positive integer, found '${env}'`);
    }
    return n;
  }
  return availableParallelism();
}

function choose(): Kernels {
  const wanted = process.env.ICL_LAB_BACKEND;
  if (wanted !== undefined && wanted !== "" && wanted !== "native" && wanted !== "reference") {
    throw new Error(`ICL_LAB_BACKEND must be 'native' or 'reference', found '${wanted}'`);
  }
  if (wanted === "reference") return referenceKernels;
  const native = loadNativeKernels();
  if (native.ok) return native.kernels;
  if (wanted === "native") {
    throw new Error(`ICL_LAB_BACKEND=native but the native addon could not be loaded: ${native.reason}`);
  }
  if (!warned) {
    warned = true;
    process.emitWarning(
      `icl-lab: the native kernel addon is not available (${native.reason}); using the reference ` +
        `TypeScript kernels, which are 10-100x slower. To build it: sudo apt-get install g++ make ` +
        `libdnnl-dev && npm run build:native`,
      { code: "ICL_LAB_NO_NATIVE" },
    );
  }
  return referenceKernels;
}

/** The kernels every op runs on (chosen once, on first use). */
export function kernels(): Kernels {
  if (current === null) {
    current = choose();
    current.setThreads(defaultThreads());
  }
  return current;
}

/** Switches backend explicitly (tests run one suite against each). Returns the previous one. */
export function useBackend(k: Kernels): Kernels | null {
  const prev = current;
  current = k;
  return prev;
}

/** The native kernels, or null with the reason when they cannot be loaded (tests use this). */
export function nativeKernelsOrNull(): { kernels: Kernels | null; reason: string } {
  const r = loadNativeKernels();
  return r.ok ? { kernels: r.kernels, reason: "" } : { kernels: null, reason: r.reason };
}
