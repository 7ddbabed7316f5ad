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
import { TRAIN_CONFIGS, benchMemory, benchTrain } from "./train.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const figures: Record<string, unknown> = {};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** PyTorch's tokens/s for a config, from bench/torch_bench.py at PyTorch's best settings here (mission.md). */
function torchTokensPerSecond(config: string, threads: number): { tokensPerSecond: number; runs: number[] } | { error: string } {
  const script = fileURLToPath(new URL("./torch_bench.py", import.meta.url));
  const openblas = "/usr/lib/x86_64-linux-gnu/openblas-openmp";
  const r = spawnSync("/usr/bin/python3", [script, "--config", config, "--steps", "3", "--repeats", "3"], {
    encoding: "utf8",
    env: { ...process.env, LD_LIBRARY_PATH: openblas, OPENBLAS_CORETYPE: "SkylakeX", OMP_NUM_THREADS: String(threads) },
    timeout: 600_000,
  });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || "failed").trim().split("\n").pop()! };
  const j = JSON.parse(r.stdout.trim().split("\n").pop()!);
  return { tokensPerSecond: j.tokens_per_s, runs: j.runs };
}

function torchAvailable(): boolean {
  return spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" }).status === 0;
}

async function main(): Promise<void> {
  const K = kernels();
  const threads = K.getThreads();
  console.log(`icl-lab bench: backend ${K.name}, ${threads} threads, node ${process.version}`);

  const gemm = await benchGemm();
  figures.gemm = gemm;
  for (const g of gemm) console.log(`${g.name.padEnd(44)} ${g.gflops.toFixed(1).padStart(7)} GFLOP/s  ${g.pctPeak.toFixed(0).padStart(4)}% of peak`);
  if (gemm[0] && "note" in gemm[0]) console.log(`  peak: ${(gemm[0] as { note?: string }).note}`);

  // Flash attention against the previous kernels, interleaved, 1 and 2 threads (bench/attention.ts).
  const { benchAttention, formatAttentionRow } = await import("./attention.ts");
  figures.attention = benchAttention({ rounds: Number(value("--attention-rounds") ?? 5), onRow: (r) => console.log(formatAttentionRow(r)) });

  const withTorch = !flag("--no-torch") && torchAvailable();
  if (!withTorch)
    console.log("PyTorch peer: not measured (/usr/bin/python3 -c 'import torch' failed or --no-torch); install python3-torch and libopenblas0-openmp");
  const rounds = Number(value("--rounds") ?? 3);
  const train: Record<string, unknown> = {};
  for (const name of Object.keys(TRAIN_CONFIGS)) {
    // Interleave engine and PyTorch measurements so both see the same machine load.
    const ours: number[] = [],
      theirs: number[] = [];
    let params = 0;
    let torchError: string | null = null;
    for (let r = 0; r < rounds; r++) {
      const f = benchTrain(name, { steps: 3, warmup: 1, repeats: 1 });
      params = f.params;
      ours.push(f.tokensPerSecond);
      if (withTorch && torchError === null) {
        const t = torchTokensPerSecond(name, threads);
        if ("error" in t) torchError = t.error;
        else theirs.push(t.tokensPerSecond);
      }
    }
    const o = median(ours);
    const line = `train ${name.padEnd(16)} params ${params.toLocaleString("en-US").padStart(9)}  icl-lab ${o.toFixed(0).padStart(6)} tokens/s`;
    if (theirs.length > 0) {
      const t = median(theirs);
      console.log(`${line}  PyTorch ${t.toFixed(0).padStart(6)} tokens/s  ratio ${(o / t).toFixed(2)}×`);
      train[name] = { params, iclLab: o, iclLabRuns: ours, pytorch: t, pytorchRuns: theirs, ratio: o / t };
    } else {
      console.log(`${line}${torchError ? `  (PyTorch failed: ${torchError})` : ""}`);
      train[name] = { params, iclLab: o, iclLabRuns: ours };
    }
  }
  figures.train = train;

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
