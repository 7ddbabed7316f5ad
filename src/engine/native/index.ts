/**
 * The native backend: loads the C++ addon (build/Release/icl_native.node, built by
 * scripts/build-native.mjs from binding.gyp and the sources beside this file) and adapts it to the
 * `Kernels` interface. Most methods are the addon's functions themselves (same positional
 * arguments); gemm unpacks its parameter object, and the shape/stride kernels pack their small
 * arrays into one Float64Array so the addon reads them without a call per element.
 *
 * The addon checks every buffer against the dimensions and throws an Error naming the kernel and
 * the argument; loadNativeKernels itself never throws.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Bf16Hardware, BinaryOp, F32, GemmParams, Kernels, Precision, UnaryOp } from "../kernels.ts";

/** Repository root: this file is src/engine/native/index.ts. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** Where node-gyp puts the addon, relative to the repository root. */
export const ADDON_PATH = "build/Release/icl_native.node";

const HOW_TO_BUILD = "run npm run build:native (needs g++, make, libdnnl-dev)";

/** The functions the addon exports (see addon.cc for the argument order of each). */
interface Addon {
  setThreads(n: number): void;
  getThreads(): number;
  setPrecision(p: Precision): void;
  getPrecision(): Precision;
  bf16Hardware(): Bf16Hardware;
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: F32,
    lda: number,
    b: F32,
    ldb: number,
    beta: number,
    c: F32,
    ldc: number,
    batch: number | undefined,
    strideA: number | undefined,
    strideB: number | undefined,
    strideC: number | undefined,
  ): void;
  binary(op: BinaryOp, a: F32, b: F32, out: F32, meta: Float64Array): void;
  unary(op: UnaryOp, x: F32, out: F32, alpha?: number): void;
  unaryBackward(op: UnaryOp, x: F32, y: F32, dy: F32, dx: F32, alpha?: number): void;
  sumInto(x: F32, out: F32, meta: Float64Array): void;
  permute(x: F32, out: F32, meta: Float64Array, accumulate: boolean): void;
  copyBlocks: Kernels["copyBlocks"];
  sumSquares: Kernels["sumSquares"];
  softmax: Kernels["softmax"];
  softmaxBackward: Kernels["softmaxBackward"];
  layerNorm: Kernels["layerNorm"];
  layerNormBackward: Kernels["layerNormBackward"];
  crossEntropy: Kernels["crossEntropy"];
  crossEntropyBackward: Kernels["crossEntropyBackward"];
  attention: Kernels["attention"];
  attentionBackward: Kernels["attentionBackward"];
  attentionLegacy: LegacyAttention["attention"];
  attentionBackwardLegacy: LegacyAttention["attentionBackward"];
  embedding: Kernels["embedding"];
  embeddingBackward: Kernels["embeddingBackward"];
  adamw: Kernels["adamw"];
  lstm: Kernels["lstm"];
  lstmBackward: Kernels["lstmBackward"];
  rnn: Kernels["rnn"];
  rnnBackward: Kernels["rnnBackward"];
  info(): string;
}

const MAX_RANK = 6;
/** [rank, then up to three vectors of `rank` entries]; reused by every call (kernels are synchronous). */
const meta = new Float64Array(1 + 3 * MAX_RANK);

function pack(kernel: string, names: string[], vectors: number[][]): Float64Array {
  const shape = vectors[0];
  if (!Array.isArray(shape)) throw new Error(`${kernel}: '${names[0]}' must be an array of sizes`);
  const rank = shape.length;
  if (rank > MAX_RANK) throw new Error(`${kernel}: '${names[0]}' has rank ${rank}, expected at most ${MAX_RANK}`);
  meta[0] = rank;
  for (let v = 0; v < vectors.length; v++) {
    const vec = vectors[v];
    if (!Array.isArray(vec) || vec.length !== rank) {
      throw new Error(`${kernel}: '${names[v]}' has ${Array.isArray(vec) ? vec.length : "no"} entries, expected ${rank} (the rank of the shape)`);
    }
    // The addon rejects anything that is not a non-negative integer (NaN included).
    for (let d = 0; d < rank; d++) meta[1 + v * rank + d] = typeof vec[d] === "number" ? vec[d] : NaN;
  }
  return meta;
}

function adapt(addon: Addon): Kernels {
  return {
    name: "native",
    setThreads: (n) => addon.setThreads(n),
    getThreads: () => addon.getThreads(),
    setPrecision: (p) => addon.setPrecision(p),
    getPrecision: () => addon.getPrecision(),
    bf16Hardware: () => addon.bf16Hardware(),
    gemm(p: GemmParams): void {
      addon.gemm(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc, p.batch, p.strideA, p.strideB, p.strideC);
    },
    binary(op, a, aStrides, b, bStrides, out, shape): void {
      addon.binary(op, a, b, out, pack("binary", ["shape", "aStrides", "bStrides"], [shape, aStrides, bStrides]));
    },
    unary: (op, x, out, alpha) => addon.unary(op, x, out, alpha),
    unaryBackward: (op, x, y, dy, dx, alpha) => addon.unaryBackward(op, x, y, dy, dx, alpha),
    sumInto(x, shape, out, outStrides): void {
      addon.sumInto(x, out, pack("sumInto", ["shape", "outStrides"], [shape, outStrides]));
    },
    permute(x, shape, perm, out, accumulate): void {
      addon.permute(x, out, pack("permute", ["shape", "perm"], [shape, perm]), accumulate);
    },
    copyBlocks: addon.copyBlocks,
    sumSquares: addon.sumSquares,
    softmax: addon.softmax,
    softmaxBackward: addon.softmaxBackward,
    layerNorm: addon.layerNorm,
    layerNormBackward: addon.layerNormBackward,
    crossEntropy: addon.crossEntropy,
    crossEntropyBackward: addon.crossEntropyBackward,
    attention: addon.attention,
    attentionBackward: addon.attentionBackward,
    embedding: addon.embedding,
    embeddingBackward: addon.embeddingBackward,
    adamw: addon.adamw,
    lstm: addon.lstm,
    lstmBackward: addon.lstmBackward,
    rnn: addon.rnn,
    rnnBackward: addon.rnnBackward,
  };
}

/**
 * The attention kernels before the flash kernels (probs always written, the backward reads them),
 * kept in the addon only so that bench/attention.ts can time old and new in one process.
 */
export interface LegacyAttention {
  attention(q: F32, k: F32, v: F32, B: number, T: number, H: number, D: number, scale: number, causal: boolean, probs: F32, out: F32): void;
  attentionBackward(q: F32, k: F32, v: F32, probs: F32, dout: F32, B: number, T: number, H: number, D: number, scale: number, dq: F32, dk: F32, dv: F32): void;
}

let cached: { ok: true; kernels: Kernels } | { ok: false; reason: string } | null = null;
let loaded: Addon | null = null;

/**
 * Loads the addon once. `{ ok: false, reason }` when it is not built or does not load (a missing
 * libdnnl.so, an addon built for another Node ABI); never throws.
 */
export function loadNativeKernels(): { ok: true; kernels: Kernels } | { ok: false; reason: string } {
  if (cached !== null) return cached;
  const path = join(ROOT, ADDON_PATH);
  if (!existsSync(path)) {
    cached = { ok: false, reason: `${ADDON_PATH} not found — ${HOW_TO_BUILD}` };
    return cached;
  }
  try {
    // libgomp reads its wait policy when the addon loads it. Its default (spin for a while before
    // sleeping) makes a 2-thread run 10-20x slower whenever another process wants a core (a
    // sweep, a browser, a second run): threads spin on each other's cores. Sleeping waiters cost
    // a few percent on an idle machine and avoid that cliff. A user's own setting wins.
    process.env.OMP_WAIT_POLICY ??= "PASSIVE";
    const require = createRequire(join(ROOT, "package.json"));
    const addon = require(path) as Addon;
    const missing = ["gemm", "attention", "attentionLegacy", "lstm", "setThreads", "setPrecision", "info"].filter(
      (f) => typeof (addon as unknown as Record<string, unknown>)[f] !== "function",
    );
    if (missing.length > 0) {
      cached = { ok: false, reason: `${ADDON_PATH} lacks ${missing.join(", ")} (an old build?) — ${HOW_TO_BUILD}` };
      return cached;
    }
    loaded = addon;
    cached = { ok: true, kernels: adapt(addon) };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    cached = { ok: false, reason: `${ADDON_PATH} failed to load (${msg}) — ${HOW_TO_BUILD}` };
  }
  return cached;
}

/** One line about the loaded addon (ISA it was built for, threads), or null when it is not loaded. */
export function nativeInfo(): string | null {
  loadNativeKernels();
  return loaded === null ? null : loaded.info();
}

/** The previous attention kernels (benchmarks only), or null when the addon is not loaded. */
export function nativeLegacyAttention(): LegacyAttention | null {
  loadNativeKernels();
  return loaded === null ? null : { attention: loaded.attentionLegacy, attentionBackward: loaded.attentionBackwardLegacy };
}
