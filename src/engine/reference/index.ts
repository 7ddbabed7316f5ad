/**
 * The reference backend: every kernel of the `Kernels` interface in plain TypeScript. It is the
 * oracle the tests compare the native backend against, and the fallback when the native addon is
 * missing. Single-threaded; the thread count is only stored. Every kernel checks its arguments and
 * throws an Error naming the kernel and the argument (expected and found sizes).
 */
import type { Kernels } from "../kernels.ts";
import { attention, attentionBackward } from "./attention.ts";
import { binary, copyBlocks, permute, sumInto, sumSquares, unary, unaryBackward } from "./elementwise.ts";
import { embedding, embeddingBackward } from "./embedding.ts";
import { gemm } from "./gemm.ts";
import { crossEntropy, crossEntropyBackward, layerNorm, layerNormBackward, softmax, softmaxBackward } from "./norm.ts";
import { adamw } from "./optim.ts";
import { referencePrecision, setReferencePrecision } from "./precision.ts";
import { lstm, lstmBackward, rnn, rnnBackward } from "./recurrent.ts";

let threads = 1;

export const referenceKernels: Kernels = {
  name: "reference",
  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new Error(`setThreads: 'n' must be a positive integer, found ${n}`);
    threads = n;
  },
  getThreads(): number {
    return threads;
  },
  setPrecision: setReferencePrecision,
  getPrecision: referencePrecision,
  bf16Hardware: () => "none",
  gemm,
  binary,
  unary,
  unaryBackward,
  sumInto,
  permute,
  copyBlocks,
  sumSquares,
  softmax,
  softmaxBackward,
  layerNorm,
  layerNormBackward,
  crossEntropy,
  crossEntropyBackward,
  attention,
  attentionBackward,
  embedding,
  embeddingBackward,
  adamw,
  lstm,
  lstmBackward,
  rnn,
  rnnBackward,
};
