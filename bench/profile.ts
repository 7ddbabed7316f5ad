/**
 * Where a training step's time goes, per kernel: `node --import tsx bench/profile.ts [config] [--steps N]`.
 * Wraps every kernel of the active backend with a timer, runs warm-up steps and then N timed
 * steps on random tokens, and prints each kernel's share of the step (and what is left: the
 * TypeScript graph, allocation and the optimizer's bookkeeping). Configs: those of bench/train.ts
 * plus `demo` (the demo's 2-layer model, batch 2).
 */
import { kernels, useBackend } from "../src/engine/backend.ts";
import type { Kernels, Precision } from "../src/engine/kernels.ts";
import { parseModelConfig } from "../src/model/config.ts";
import { TRAIN_CONFIGS, makeStepRunner } from "./train.ts";

export const PROFILE_CONFIGS: Record<string, { model: unknown; batch: number }> = {
  ...TRAIN_CONFIGS,
  demo: { model: { kind: "attn-only", nLayers: 2, dModel: 64, nHeads: 2, dHead: 32, nCtx: 512, dVocab: 259, positions: "shortformer-pre-ln" }, batch: 2 },
  "demo-3l": { model: { kind: "attn-only", nLayers: 3, dModel: 64, nHeads: 2, dHead: 32, nCtx: 512, dVocab: 259, positions: "shortformer-pre-ln" }, batch: 2 },
};

export interface KernelProfile {
  config: string;
  stepMs: number;
  rows: { kernel: string; calls: number; ms: number; share: number }[];
}

/** Times every kernel call of `steps` training steps of `config`. */
export function profileStep(config: string, steps = 10, warmup = 3): KernelProfile {
  const base = kernels();
  const totals = new Map<string, { calls: number; ms: number }>();
  const timed = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(base) as (keyof Kernels)[]) {
    const f = base[key] as unknown;
    if (typeof f !== "function") {
      timed[key] = f;
      continue;
    }
    let label = key as string;
    timed[key] = (...args: unknown[]) => {
      if (key === "gemm") {
        const p = args[0] as { m: number; n: number; k: number; transA: boolean; transB: boolean; batch?: number };
        label = `gemm ${p.batch ?? 1}×${p.m}×${p.k}×${p.n}${p.transA ? " Aᵀ" : ""}${p.transB ? " Bᵀ" : ""}`;
      } else if (key === "unary" || key === "unaryBackward" || key === "binary") label = `${key} ${args[0]}`;
      else if (key === "sumInto") label = `sumInto [${args[1]}] → strides [${args[3]}]`;
      const t0 = performance.now();
      const r = (f as (...a: unknown[]) => unknown).apply(base, args);
      const dt = performance.now() - t0;
      const e = totals.get(label) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += dt;
      totals.set(label, e);
      return r;
    };
  }
  const c = PROFILE_CONFIGS[config];
  if (c === undefined) throw new Error(`profile: unknown config '${config}'; known: ${Object.keys(PROFILE_CONFIGS).join(", ")}`);
  const runner = makeStepRunner(parseModelConfig(c.model), c.batch);
  const prev = useBackend(timed as unknown as Kernels);
  try {
    for (let i = 0; i < warmup; i++) runner.step();
    totals.clear();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) runner.step();
    const stepMs = (performance.now() - t0) / steps;
    const rows = [...totals.entries()]
      .map(([kernel, e]) => ({ kernel, calls: e.calls / steps, ms: e.ms / steps, share: e.ms / steps / stepMs }))
      .sort((a, b) => b.ms - a.ms);
    return { config, stepMs, rows };
  } finally {
    useBackend(prev ?? base);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const config = args.find((a) => !a.startsWith("--")) ?? "demo";
  const steps = args.includes("--steps") ? Number(args[args.indexOf("--steps") + 1]) : 10;
  if (args.includes("--precision")) kernels().setPrecision(args[args.indexOf("--precision") + 1] as Precision);
  const p = profileStep(config, steps);
  console.log(`profile ${config}: backend ${kernels().name}, ${kernels().getPrecision()}, ${kernels().getThreads()} threads, ${p.stepMs.toFixed(2)} ms/step`);
  let inKernels = 0;
  for (const r of p.rows) {
    inKernels += r.ms;
    if (r.share >= 0.005)
      console.log(
        `  ${r.kernel.padEnd(40)} ${r.calls.toFixed(0).padStart(4)} calls ${r.ms.toFixed(2).padStart(8)} ms ${(100 * r.share).toFixed(1).padStart(5)}%`,
      );
  }
  console.log(
    `  ${"(outside kernels)".padEnd(40)}           ${(p.stepMs - inKernels).toFixed(2).padStart(8)} ms ${((100 * (p.stepMs - inKernels)) / p.stepMs).toFixed(1).padStart(5)}%`,
  );
}
