/**
 * `npm run bench`: the figures the issues name, printed as lines (and written as JSON with
 * `--json FILE`). A program, not a test. The machine is shared and noisy: every figure is a
 * median of several repeats, and engine/PyTorch training throughput is measured in the same run,
 * interleaved, so their ratio is the figure to quote.
 *
 *   npm run bench                       # GEMM, attention (flash vs previous kernels), training (icl-lab and PyTorch)
 *   npm run bench -- --all              # + data, checkpoint, evaluation, trainer figures
 *   npm run bench -- --memory 2000      # + resident memory after 100 and 2000 anchor steps
 *   npm run bench -- --json out.json
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { kernels } from "../src/engine/backend.ts";
import { writeFileAtomic } from "../src/util/fs.ts";
import { benchGemm } from "./gemm.ts";
import { TRAIN_CONFIGS, benchMemory, trainRounds } from "./train.ts";
import type { Precision } from "../src/engine/kernels.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const figures: Record<string, unknown> = {};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

type TorchFigures = Partial<Record<Precision, number>>;

/**
 * PyTorch's tokens/s for a config in fp32 and in bf16 autocast, measured in one process, interleaved
 * (bench/torch_bench.py), at PyTorch's best settings here (mission.md: OpenBLAS with OpenMP).
 */
function torchTokensPerSecond(config: string, threads: number): TorchFigures | { error: string } {
  const script = fileURLToPath(new URL("./torch_bench.py", import.meta.url));
  const openblas = "/usr/lib/x86_64-linux-gnu/openblas-openmp";
  const r = spawnSync("/usr/bin/python3", [script, "--config", config, "--steps", "2", "--repeats", "1", "--warmup", "1", "--precisions", "fp32,bf16"], {
    encoding: "utf8",
    env: { ...process.env, LD_LIBRARY_PATH: openblas, OPENBLAS_CORETYPE: "SkylakeX", OMP_NUM_THREADS: String(threads) },
    timeout: 300_000,
  });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || "failed").trim().split("\n").pop()! };
  const out: TorchFigures = {};
  for (const line of r.stdout.trim().split("\n")) {
    const j = JSON.parse(line) as { precision: Precision; tokens_per_s: number };
    out[j.precision] = j.tokens_per_s;
  }
  return out;
}

function torchAvailable(): boolean {
  return spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" }).status === 0;
}

const fmtRate = (x: number | undefined) => (x === undefined ? "     –" : x.toFixed(0).padStart(6));
const fmtRatio = (x: number, y: number | undefined) => (y === undefined || !(y > 0) ? "   –" : `${(x / y).toFixed(2)}×`);

/**
 * Training throughput: per config, rounds of [icl-lab fp32, icl-lab bf16, PyTorch fp32 + bf16
 * autocast] interleaved, so that all four see the same machine load; one line per config, printed
 * when measured, with the same-run ratios (the figures to quote).
 */
function benchTrainRows(rounds: number, withTorch: boolean, threads: number): Record<string, unknown> {
  const train: Record<string, unknown> = {};
  console.log(
    `training tokens/s (median of ${rounds} interleaved rounds; bf16 = bf16 products, f32 accumulation; PyTorch bf16 = torch.autocast("cpu", bfloat16))`,
  );
  for (const name of Object.keys(TRAIN_CONFIGS)) {
    const cfgThreads = TRAIN_CONFIGS[name].threads ?? threads;
    const ours = { fp32: trainRounds(name, "fp32"), bf16: trainRounds(name, "bf16") };
    const runs: Record<string, number[]> = { fp32: [], bf16: [], torchFp32: [], torchBf16: [] };
    let torchError: string | null = null;
    for (let r = 0; r < rounds; r++) {
      // ABBA order, so that a load that rises or falls during the round favours neither.
      if (r % 2 === 0) {
        runs.fp32.push(ours.fp32.round());
        runs.bf16.push(ours.bf16.round());
      } else {
        runs.bf16.push(ours.bf16.round());
        runs.fp32.push(ours.fp32.round());
      }
      if (withTorch && torchError === null) {
        const t = torchTokensPerSecond(name, cfgThreads);
        if ("error" in t) torchError = String(t.error);
        else {
          if (t.fp32 !== undefined) runs.torchFp32.push(t.fp32);
          if (t.bf16 !== undefined) runs.torchBf16.push(t.bf16);
        }
      }
    }
    const m = (xs: number[]) => (xs.length > 0 ? median(xs) : undefined);
    const f = { fp32: m(runs.fp32)!, bf16: m(runs.bf16)!, torchFp32: m(runs.torchFp32), torchBf16: m(runs.torchBf16) };
    console.log(
      `train ${name.padEnd(14)} ${cfgThreads}T params ${ours.fp32.params.toLocaleString("en-US").padStart(9)}  icl-lab fp32 ${fmtRate(f.fp32)} bf16 ${fmtRate(f.bf16)} ` +
        `(bf16/fp32 ${fmtRatio(f.bf16, f.fp32)})  PyTorch fp32 ${fmtRate(f.torchFp32)} bf16 ${fmtRate(f.torchBf16)}  ` +
        `ours/PyTorch fp32 ${fmtRatio(f.fp32, f.torchFp32)} bf16 ${fmtRatio(f.bf16, f.torchBf16)}${torchError ? `  (PyTorch failed: ${torchError})` : ""}`,
    );
    train[name] = { params: ours.fp32.params, threads: cfgThreads, ...f, runs };
  }
  return train;
}

async function main(): Promise<void> {
  const K = kernels();
  const threads = K.getThreads();
  console.log(`icl-lab bench: backend ${K.name}, ${threads} threads, bf16 hardware: ${K.bf16Hardware()}, node ${process.version}`);

  figures.gemm = await benchGemm((g) =>
    console.log(`${g.name.padEnd(44)} ${g.gflops.toFixed(1).padStart(7)} GFLOP/s  ${g.pctPeak.toFixed(0).padStart(4)}% of fp32 peak`),
  );
  const gemm = figures.gemm as { note?: string }[];
  if (gemm[0]?.note !== undefined) console.log(`  peak: ${gemm[0].note}`);

  // Flash attention against the previous kernels, interleaved, 1 and 2 threads (bench/attention.ts).
  const { benchAttention, formatAttentionRow } = await import("./attention.ts");
  figures.attention = benchAttention({ rounds: Number(value("--attention-rounds") ?? 5), onRow: (r) => console.log(formatAttentionRow(r)) });

  const withTorch = !flag("--no-torch") && torchAvailable();
  if (!withTorch)
    console.log("PyTorch peer: not measured (/usr/bin/python3 -c 'import torch' failed or --no-torch); install python3-torch and libopenblas0-openmp");
  figures.train = benchTrainRows(Number(value("--rounds") ?? 3), withTorch, threads);

  const memSteps = value("--memory");
  if (memSteps !== undefined) {
    const m = benchMemory(100, Number(memSteps));
    figures.memory = m;
    console.log(
      `memory: RSS after ${m.early} anchor steps ${m.rssEarlyMiB.toFixed(0)} MiB, after ${m.late} ${m.rssLateMiB.toFixed(0)} MiB (ratio ${m.ratio.toFixed(3)})`,
    );
  }

  if (flag("--all")) {
    const { benchData } = await import("./data.ts");
    const data = await benchData({});
    figures.data = data;
    for (const d of data) console.log(`data ${JSON.stringify(d)}`);
    const { benchCheckpoint } = await import("./checkpoint.ts");
    const ck = await benchCheckpoint({});
    figures.checkpoint = ck;
    console.log(`checkpoint write (2-layer d_model 256 + AdamW state): median ${ck.writeMedianMs.toFixed(0)} ms`);
    const { benchMeasure } = await import("./measure.ts");
    const me = await benchMeasure({});
    figures.measure = me;
    console.log(`measure ${JSON.stringify(me)}`);
    const { benchTrainer } = await import("./trainer.ts");
    const tr = await benchTrainer({});
    figures.trainer = tr;
    console.log(`trainer ${JSON.stringify(tr)}`);
  }

  const json = value("--json");
  if (json !== undefined) {
    writeFileAtomic(json, JSON.stringify({ date: new Date().toISOString(), backend: K.name, threads, ...figures }, null, 2));
    console.log(`figures written to ${json}`);
  }
}

await main();
