/**
 * GEMM and attention throughput of the native kernels, as GFLOP/s and % of the CPU's fp32 peak.
 *
 *   node --import tsx bench/gemm.ts      prints one line per figure
 *
 * GEMM: M×N×K = 4096×256×{256, 1024, 4096} (M = 4096 tokens, e.g. 8 windows of 512).
 * Attention: B=8, H=8, T=512, D=32, causal; FLOPs counted for the visible (causal) pairs only:
 * forward 2 products (QKᵀ, PV), backward 4 (dP, dV, dQ, dK; not the flash backward's recomputed
 * QKᵀ), each 2·D per (query, key) pair. bench/attention.ts compares with the previous kernels.
 * Every figure is the median of several timed repeats after a warm-up call.
 * Threads: ICL_LAB_THREADS, else the machine's cores (as the engine does).
 */
import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import type { Kernels } from "../src/engine/kernels.ts";
import { loadNativeKernels, nativeInfo } from "../src/engine/native/index.ts";

export interface BenchRow {
  name: string;
  gflops: number;
  pctPeak: number;
  /** How the figure was measured and how the peak was estimated. */
  note?: string;
}

interface Peak {
  gflops: number;
  how: string;
}

/** fp32 peak of `threads` cores: cores × clock × FLOP/cycle (64 with AVX-512: 2 FMA units × 16 lanes × 2). */
export function estimatePeak(threads: number): Peak {
  let cpuinfo = "";
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    // not Linux: the defaults below
  }
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1].split(/\s+/) ?? [];
  const perCycle = flags.includes("avx512f") ? 64 : flags.includes("avx2") && flags.includes("fma") ? 32 : 16;
  const isa = perCycle === 64 ? "AVX-512" : perCycle === 32 ? "AVX2+FMA" : "SSE";
  let mhz = 0;
  let source = "";
  try {
    const m = /CPU max MHz:\s*([\d.]+)/.exec(execFileSync("lscpu", { encoding: "utf8" }));
    if (m) {
      mhz = Number(m[1]);
      source = "lscpu max MHz";
    }
  } catch {
    // no lscpu
  }
  if (!(mhz > 0)) {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
    if (m) {
      mhz = Number(m[1]);
      source = "/proc/cpuinfo cpu MHz (nominal: turbo can push a figure past 100%)";
    }
  }
  if (!(mhz > 0)) {
    mhz = 2500;
    source = "an assumed 2.5 GHz";
  }
  const cores = Math.min(threads, availableParallelism());
  const gflops = (cores * mhz * perCycle) / 1000;
  return {
    gflops,
    how: `peak ${gflops.toFixed(1)} GFLOP/s = ${cores} cores × ${(mhz / 1000).toFixed(2)} GHz (${source}) × ${perCycle} FLOP/cycle (${isa})`,
  };
}

function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

/** Median seconds of `repeats` calls after one warm-up call. */
function time(fn: () => void, repeats: number): number {
  fn();
  const ts: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    ts.push((performance.now() - t0) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

function threadCount(): number {
  const env = Number(process.env.ICL_LAB_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

export async function benchGemm(onRow: (r: BenchRow) => void = () => {}): Promise<BenchRow[]> {
  const loaded = loadNativeKernels();
  if (!loaded.ok) throw new Error(`benchGemm needs the native kernels: ${loaded.reason}`);
  const K: Kernels = loaded.kernels;
  const threads = threadCount();
  K.setThreads(threads);
  const peak = estimatePeak(threads);
  const rows: BenchRow[] = [];
  const add = (name: string, flops: number, seconds: number, repeats: number): void => {
    const gflops = flops / seconds / 1e9;
    rows.push({
      name,
      gflops,
      pctPeak: (100 * gflops) / peak.gflops,
      note: `${threads} threads, median of ${repeats}; ${peak.how}`,
    });
    onRow(rows[rows.length - 1]);
  };

  const M = 4096,
    N = 256;
  for (const k of [256, 1024, 4096]) {
    const a = rand(M * k),
      b = rand(k * N),
      c = new Float32Array(M * N);
    const repeats = k >= 4096 ? 5 : 9;
    const prec = K.getPrecision();
    for (const p of ["fp32", "bf16"] as const) {
      K.setPrecision(p);
      const s = time(() => K.gemm({ transA: false, transB: false, m: M, n: N, k, alpha: 1, a, lda: k, b, ldb: N, beta: 0, c, ldc: N }), repeats);
      add(`gemm ${M}x${N}x${k}${p === "bf16" ? " bf16 (conversion included)" : ""}`, 2 * M * N * k, s, repeats);
    }
    K.setPrecision(prec);
  }

  const B = 8,
    H = 8,
    T = 512,
    D = 32;
  const n = B * T * H * D;
  const q = rand(n),
    kk = rand(n),
    v = rand(n),
    out = new Float32Array(n),
    dout = rand(n);
  const lse = new Float32Array(B * H * T);
  const dq = new Float32Array(n),
    dk = new Float32Array(n),
    dv = new Float32Array(n);
  const scale = 1 / Math.sqrt(D);
  const pairs = (T * (T + 1)) / 2; // visible (query, key) pairs per head
  const repeats = 7;
  const sf = time(() => K.attention(q, kk, v, B, T, H, D, scale, true, null, lse, out), repeats);
  add(`attention fwd B=${B} H=${H} T=${T} D=${D} causal`, B * H * 2 * 2 * D * pairs, sf, repeats);
  const sb = time(() => K.attentionBackward(q, kk, v, out, lse, dout, B, T, H, D, scale, true, dq, dk, dv), repeats);
  add(`attention bwd B=${B} H=${H} T=${T} D=${D} causal`, B * H * 4 * 2 * D * pairs, sb, repeats);
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchGemm();
  console.log(nativeInfo() ?? "");
  for (const r of rows) {
    console.log(`${r.name.padEnd(40)} ${r.gflops.toFixed(1).padStart(7)} GFLOP/s  ${r.pctPeak.toFixed(0).padStart(4)}% of peak`);
  }
  if (rows.length > 0) console.log(`(${rows[0].note})`);
}
