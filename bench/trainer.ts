/**
 * Benchmark for issue 4's target "training throughput of the trainer (data loading, checkpointing
 * and logging included) within 10% of the engine's bare step throughput on the anchor config":
 * `train()` on the anchor (attention-only, 2 layers, d_model 256, 8 heads × 32, nCtx 512, dVocab
 * 4096, batch 8) for `steps` steps with the default checkpoint density (8 per decade from the first
 * step, plus the last: each writes the parameters and a resume checkpoint with the AdamW moments,
 * and logs to the runs store), against `benchTrain("attn-2l-v4096")` (bench/train.ts: forward,
 * backward, clipping and AdamW on fixed tokens) measured in the same process, alternating, so both
 * see the same machine load. Medians of `repeats` each, and their ratio; also the trainer with only
 * the final checkpoint (`perDecade: 0`), which separates the checkpoints' cost from the rest. In 20
 * steps the default density writes a checkpoint every second step (the densest stretch of a run);
 * over a real run's thousands of steps the same ~30 checkpoints are spread thin.
 *
 * Not included on the trainer's side: preparing the data (tokenizing the corpora, cached in the lab
 * after the first run) and measurements (`measures: []`; they are the experiment's choice and
 * cost what the measure benchmark says). The trainer's figure is its own tokens/s (TrainResult):
 * the whole loop from the first step to the last, checkpoints included, warm-up steps included.
 *
 * Data: "real" (default) samples windows of the default corpus suite with BPE 4096 through the data
 * pipeline (src/data), cached in `--data-lab` (default $ICL_LAB_DIR or ./icl-lab-runs; the first
 * run trains the tokenizer, ~20 s); "synthetic" uses the trainer tests' generator at vocab 4096.
 * Runs are written to a fresh folder under ./.cache (the repository's disk, so fsync costs what it
 * costs in a lab) and removed afterwards.
 *
 *   node --import tsx bench/trainer.ts [--steps 20] [--repeats 3] [--data real|synthetic] [--data-lab DIR]
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { kernels } from "../src/engine/backend.ts";
import { train, type DataFactory } from "../src/train/train.ts";
import { syntheticData } from "../src/train/fixtures/synthetic-data.ts";
import { resolveLabDir } from "../src/store/run-store.ts";
import { TRAIN_CONFIGS, benchTrain } from "./train.ts";

export interface TrainerBench {
  data: "real" | "synthetic";
  steps: number;
  /** Measurement checkpoints written per trainer run (each also writes a resume checkpoint). */
  checkpoints: number;
  trainerRuns: number[];
  bareRuns: number[];
  /** The trainer with only the final checkpoint (perDecade 0): data loading and logging alone. */
  finalOnlyRuns: number[];
  trainerMedian: number;
  bareMedian: number;
  finalOnlyMedian: number;
  /** trainerMedian / bareMedian. */
  ratio: number;
  finalOnlyRatio: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function benchTrainer(opts: { steps?: number; repeats?: number; data?: "real" | "synthetic"; dataLab?: string } = {}): Promise<TrainerBench> {
  const { steps = 20, repeats = 3, data = "real" } = opts;
  const anchor = TRAIN_CONFIGS["attn-2l-v4096"];
  const model = { ...(anchor.model as Record<string, unknown>) };
  const nCtx = model.nCtx as number,
    vocab = model.dVocab as number;
  delete model.dVocab; // the tokenizer sets it (4096 for both data sources)
  const dataLab = resolveLabDir(opts.dataLab);
  const factory: DataFactory = async (c) => {
    if (data === "synthetic") return syntheticData({ vocab, nCtx: c.model.nCtx, evalWindows: 4, seed: c.seed });
    const { prepareTrainData } = await import("../src/data/train-data.ts");
    return prepareTrainData(c, dataLab);
  };
  mkdirSync(resolve(".cache"), { recursive: true });
  const runsLab = mkdtempSync(join(resolve(".cache"), "bench-trainer-"));
  const trainerRuns: number[] = [],
    bareRuns: number[] = [],
    finalOnlyRuns: number[] = [];
  let checkpoints = 0;
  const runTrainer = async (name: string, perDecade: number): Promise<{ tps: number; n: number }> => {
    let n = 0;
    const r = await train(
      {
        name, // a fresh run each time
        model,
        data: { tokenizer: { kind: "bpe", vocab }, evalWindows: 8 },
        batch: anchor.batch,
        tokens: steps * anchor.batch * nCtx,
        measures: [],
        ...(perDecade === 8 ? {} : { checkpoints: { perDecade } }), // 8 is the default density
      },
      { lab: runsLab, progress: "none", measures: {}, data: factory, log: () => {}, onCheckpoint: () => void n++ },
    );
    if (r.model.config.dVocab !== vocab) throw new Error(`bench: the tokenizer gave dVocab ${r.model.config.dVocab}, expected ${vocab}`);
    return { tps: r.tokensPerSecond, n };
  };
  try {
    for (let k = 0; k < repeats; k++) {
      bareRuns.push(benchTrain("attn-2l-v4096", { steps: 10, warmup: 2, repeats: 1 }).tokensPerSecond);
      const d = await runTrainer(`bench-${k}`, 8);
      trainerRuns.push(d.tps);
      checkpoints = d.n;
      finalOnlyRuns.push((await runTrainer(`bench-final-${k}`, 0)).tps);
    }
  } finally {
    rmSync(runsLab, { recursive: true, force: true });
  }
  const trainerMedian = median(trainerRuns),
    bareMedian = median(bareRuns),
    finalOnlyMedian = median(finalOnlyRuns);
  return {
    data,
    steps,
    checkpoints,
    trainerRuns,
    bareRuns,
    finalOnlyRuns,
    trainerMedian,
    bareMedian,
    finalOnlyMedian,
    ratio: trainerMedian / bareMedian,
    finalOnlyRatio: finalOnlyMedian / bareMedian,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const data = (arg("--data") ?? "real") as "real" | "synthetic";
  if (data !== "real" && data !== "synthetic") throw new Error(`--data must be 'real' or 'synthetic', found '${data}'`);
  const b = await benchTrainer({ steps: Number(arg("--steps") ?? 20), repeats: Number(arg("--repeats") ?? 3), data, dataLab: arg("--data-lab") });
  const f = (x: number) => x.toFixed(0);
  console.log(`backend: ${kernels().name}, threads: ${kernels().getThreads()}`);
  console.log(
    `trainer attn-2l-v4096 (${b.data} data, ${b.steps} steps, ${b.checkpoints} checkpoints): ${f(b.trainerMedian)} tokens/s median (runs ${b.trainerRuns.map(f).join(", ")})`,
  );
  console.log(`trainer, final checkpoint only (perDecade 0): ${f(b.finalOnlyMedian)} tokens/s median (runs ${b.finalOnlyRuns.map(f).join(", ")})`);
  console.log(`bare step attn-2l-v4096: ${f(b.bareMedian)} tokens/s median (runs ${b.bareRuns.map(f).join(", ")})`);
  console.log(`ratio trainer / bare: ${b.ratio.toFixed(3)} (target ≥ 0.90); final checkpoint only: ${b.finalOnlyRatio.toFixed(3)}`);
}
