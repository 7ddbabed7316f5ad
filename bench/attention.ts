/**
 * Attention kernel throughput: the flash kernels (src/engine/native/attention.cc) against the
 * previous sgemm + probs kernels (kept in the addon as attentionLegacy / attentionBackwardLegacy),
 * interleaved in one process so that both see the same machine load. The ratio is the figure to
 * quote on a shared machine.
 *
 *   node --import tsx bench/attention.ts [--rounds 7] [--threads 1,2]
 *
 * Shapes: the demo model (B=2, H=2, T=512, D=32) and the anchor model (B=8, H=8, T=512, D=32),
 * causal. FLOPs count the visible (causal) pairs: forward 2·2·B·H·T²·D/2 (QKᵀ and PV), backward
 * twice that (dP, dV, dQ, dK; the flash backward's recomputation of QKᵀ is not counted).
 * Each figure is the median over rounds; a round times each kernel once (several calls when one
 * call is short), old and new alternately. Besides wall-clock figures each row gives the speed-up
 * in process CPU time, which a shared machine disturbs less.
 */
import { pathToFileURL } from "node:url";
import type { Kernels } from "../src/engine/kernels.ts";
import { type LegacyAttention, loadNativeKernels, nativeInfo, nativeLegacyAttention } from "../src/engine/native/index.ts";

export interface AttentionBenchRow {
  name: string;
  threads: number;
  /** Median milliseconds per call: forward, backward, and the sum, old and new kernels. */
  oldFwdMs: number;
  oldBwdMs: number;
  newFwdMs: number;
  newBwdMs: number;
  /** GFLOP/s of fwd+bwd (causal FLOPs), old and new, and new/old speed. */
  oldGflops: number;
  newGflops: number;
  speedup: number;
  /**
   * The same ratio from process CPU time (user + system of all threads): on a shared machine it
   * leaves out the time other processes held the cores (1 thread: the figure to trust most).
   */
  cpuSpeedup: number;
  rounds: number;
}

export const ATTENTION_SHAPES = [
  { name: "demo", B: 2, H: 2, T: 512, D: 32 },
  { name: "anchor", B: 8, H: 8, T: 512, D: 32 },
] as const;

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Wall and process CPU milliseconds per call of fn, timing `reps` calls together. */
function timeMs(fn: () => void, reps: number): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) fn();
  const wall = (performance.now() - t0) / reps;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 / reps };
}

export function benchAttentionShape(
  K: Kernels,
  L: LegacyAttention,
  shape: { name: string; B: number; H: number; T: number; D: number },
  threads: number,
  rounds: number,
): AttentionBenchRow {
  const { B, H, T, D } = shape;
  K.setThreads(threads);
  const n = B * T * H * D;
  const q = rand(n, 1),
    k = rand(n, 2),
    v = rand(n, 3),
    dout = rand(n, 4);
  const out = new Float32Array(n),
    lse = new Float32Array(B * H * T),
    probs = new Float32Array(B * H * T * T);
  const dq = new Float32Array(n),
    dk = new Float32Array(n),
    dv = new Float32Array(n);
  const scale = 1 / Math.sqrt(D);
  const oldF = () => L.attention(q, k, v, B, T, H, D, scale, true, probs, out);
  const oldB = () => L.attentionBackward(q, k, v, probs, dout, B, T, H, D, scale, dq, dk, dv);
  const newF = () => K.attention(q, k, v, B, T, H, D, scale, true, null, lse, out);
  const newB = () => K.attentionBackward(q, k, v, out, lse, dout, B, T, H, D, scale, true, dq, dk, dv);
  // Warm-up (scratch, page faults), and a call count that makes one timing ≥ ~20 ms.
  oldF();
  oldB();
  newF();
  newB();
  const reps = Math.max(1, Math.round(20 / Math.max(0.01, timeMs(oldF, 1).wall + timeMs(oldB, 1).wall)));
  const t = { oldF: [] as number[], oldB: [] as number[], newF: [] as number[], newB: [] as number[] };
  const cpuRatio: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const of = timeMs(oldF, reps);
    const nf = timeMs(newF, reps);
    oldF(); // the old backward reads the old forward's probs
    const ob = timeMs(oldB, reps);
    newF();
    const nb = timeMs(newB, reps);
    t.oldF.push(of.wall);
    t.newF.push(nf.wall);
    t.oldB.push(ob.wall);
    t.newB.push(nb.wall);
    cpuRatio.push((of.cpu + ob.cpu) / (nf.cpu + nb.cpu));
  }
  const fwdFlops = (2 * 2 * B * H * T * T * D) / 2;
  const total = 3 * fwdFlops;
  const oldFwdMs = median(t.oldF),
    oldBwdMs = median(t.oldB),
    newFwdMs = median(t.newF),
    newBwdMs = median(t.newB);
  // Sum of the per-round sums' median: the fwd+bwd figure.
  const oldSum = median(t.oldF.map((x, i) => x + t.oldB[i]));
  const newSum = median(t.newF.map((x, i) => x + t.newB[i]));
  return {
    name: `attention ${shape.name} B=${B} H=${H} T=${T} D=${D} causal`,
    threads,
    oldFwdMs,
    oldBwdMs,
    newFwdMs,
    newBwdMs,
    oldGflops: total / (oldSum * 1e-3) / 1e9,
    newGflops: total / (newSum * 1e-3) / 1e9,
    speedup: median(t.oldF.map((x, i) => (x + t.oldB[i]) / (t.newF[i] + t.newB[i]))),
    cpuSpeedup: median(cpuRatio),
    rounds,
  };
}

export function formatAttentionRow(r: AttentionBenchRow): string {
  const f = (x: number) => x.toFixed(2).padStart(7);
  const g = (x: number) => x.toFixed(1).padStart(6);
  return (
    `${r.name.padEnd(46)} ${r.threads}T  old fwd ${f(r.oldFwdMs)} ms bwd ${f(r.oldBwdMs)} ms ${g(r.oldGflops)} GFLOP/s | ` +
    `flash fwd ${f(r.newFwdMs)} ms bwd ${f(r.newBwdMs)} ms ${g(r.newGflops)} GFLOP/s | ×${r.speedup.toFixed(2)} wall, ×${r.cpuSpeedup.toFixed(2)} cpu (medians of ${r.rounds})`
  );
}

/** Every shape at every thread count, each row handed to `onRow` as soon as it is measured. */
export function benchAttention(opts: { threads?: number[]; rounds?: number; onRow?: (r: AttentionBenchRow) => void } = {}): AttentionBenchRow[] {
  const loaded = loadNativeKernels();
  if (!loaded.ok) throw new Error(`benchAttention needs the native kernels: ${loaded.reason}`);
  const K = loaded.kernels;
  const L = nativeLegacyAttention()!;
  const before = K.getThreads();
  const rows: AttentionBenchRow[] = [];
  try {
    for (const threads of opts.threads ?? [1, 2]) {
      for (const shape of ATTENTION_SHAPES) {
        const r = benchAttentionShape(K, L, shape, threads, opts.rounds ?? 7);
        rows.push(r);
        opts.onRow?.(r);
      }
    }
  } finally {
    K.setThreads(before);
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const value = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  console.log(nativeInfo() ?? "");
  benchAttention({
    rounds: Number(value("--rounds") ?? 7),
    threads: (value("--threads") ?? "1,2").split(",").map(Number),
    onRow: (r) => console.log(formatAttentionRow(r)),
  });
}
