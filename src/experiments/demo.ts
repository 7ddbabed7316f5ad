/**
 * `icl-lab demo`: the main job. Trains attention-only transformers with 1, 2 and 3 layers on the
 * same data, measures the ICL score (on the demo mixture and on its natural text alone) and every
 * head's scores at log-spaced checkpoints, detects the phase change, prints a table and writes a
 * report. The configuration and how it was found are in docs/demo-calibration.md.
 *
 * Data: the embedded npm sources (brown, legal, email) at the byte level, plus the labelled
 * synthetic ingredient `repeats` (repeated random spans, src/data/sources/repeats.ts). With
 * `--corpus name=PATH` the user's text replaces the npm sources (the ingredient stays, labelled).
 */
import { cpus } from "node:os";
import { resolve as resolvePath } from "node:path";
import { train, type TrainResult } from "../train/train.ts";
import type { TrainConfigInput } from "../train/config.ts";
import { resolveLabDir } from "../store/run-store.ts";

export interface DemoOptions {
  lab?: string;
  /** A user corpus: source id (already added with `corpus add`) or name → path to add. */
  corpus?: { name: string; path?: string };
  /** Training tokens per model (default DEMO.tokens). */
  tokens?: number;
  /** Seeds per model (default 1). */
  seeds?: number;
  /** Layer counts to train (default [1, 2, 3]). */
  layers?: number[];
  /** Evaluation windows per checkpoint. */
  evalWindows?: number;
  log?: (line: string) => void;
  /** Progress output of each training run. */
  progress?: "auto" | "lines" | "none";
  /** Experiment name in the runs store (default "demo"). */
  experiment?: string;
}

/** The calibrated defaults (docs/demo-calibration.md). */
export const DEMO = {
  natural: { brown: 1, legal: 1, email: 1 } as Record<string, number>,
  /** Weight of the repeats ingredient relative to the natural text's total. */
  repeatsShare: 0.75,
  model: { kind: "attn-only", dModel: 64, nHeads: 2, dHead: 32, nCtx: 512, positions: "shortformer", layerNorm: true },
  batch: 2,
  lr: 2e-3,
  warmupTokens: 100 * 1024,
  tokens: 8_000_000,
  evalWindows: 400,
  perDecade: 6,
};

export function demoConfigs(opts: DemoOptions = {}): TrainConfigInput[] {
  const natural: Record<string, number> = opts.corpus !== undefined ? { [opts.corpus.name]: 1 } : DEMO.natural;
  const total = Object.values(natural).reduce((a, b) => a + b, 0);
  const sources: Record<string, number> = {};
  for (const [id, w] of Object.entries(natural)) sources[id] = ((1 - DEMO.repeatsShare) * w) / total;
  sources.repeats = DEMO.repeatsShare;
  const seeds = opts.seeds ?? 1;
  const configs: TrainConfigInput[] = [];
  for (const nLayers of opts.layers ?? [1, 2, 3]) {
    for (let seed = 0; seed < seeds; seed++) {
      configs.push({
        name: `demo-attn-${nLayers}l${seeds > 1 ? `-s${seed}` : ""}`,
        experiment: opts.experiment ?? "demo",
        seed,
        model: { ...DEMO.model, nLayers },
        data: { sources, tokenizer: { kind: "byte" }, evalWindows: opts.evalWindows ?? DEMO.evalWindows, evalPolicy: "packed" },
        optim: { lr: DEMO.lr, warmupTokens: DEMO.warmupTokens, schedule: "constant" },
        batch: DEMO.batch,
        tokens: opts.tokens ?? DEMO.tokens,
        checkpoints: { perDecade: DEMO.perDecade, first: 16 * 1024 },
        measures: ["icl", "icl@natural", "heads"],
        measureOptions: { heads: { nSequences: 4 } },
      });
    }
  }
  return configs;
}

export interface DemoResult {
  runs: TrainResult[];
  seconds: number;
}

/** Trains the demo's models one after another (each with every core). */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const lab = resolveLabDir(opts.lab);
  const log = opts.log ?? ((s: string) => process.stderr.write(s + "\n"));
  if (opts.corpus?.path !== undefined) {
    const { saveUserSource, dataPaths } = await import("../data/index.ts");
    const { existsSync } = await import("node:fs");
    const path = resolvePath(opts.corpus.path);
    if (!existsSync(path)) throw new Error(`--corpus ${opts.corpus.name}: ${path} not found (expected a text file, a folder of .txt/.md files, or a .jsonl file)`);
    saveUserSource(dataPaths(lab), { id: opts.corpus.name, path, domain: "user", language: "en", licence: "the user's own" });
  }
  const t0 = performance.now();
  const runs: TrainResult[] = [];
  const configs = demoConfigs(opts);
  log(`icl-lab demo: ${configs.length} models on ${cpus().length} cores, lab ${lab}`);
  for (const c of configs) {
    log(`training ${c.name}`);
    runs.push(await train(c, { lab, progress: opts.progress ?? "auto", log }));
  }
  return { runs, seconds: (performance.now() - t0) / 1000 };
}
