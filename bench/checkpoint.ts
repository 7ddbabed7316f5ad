/**
 * Benchmark for issue 4's target "a checkpoint of a 2-layer d_model 256 model written in < 1 s":
 * saveCheckpoint() of a 2-layer attention-only model (TransformerLens shapes: dModel 256, 8 heads of
 * dHead 32, nCtx 256, dVocab 4096, about 2.7M parameters) with AdamW m and v, median of several runs;
 * loading with full verification is timed too. Files go to a fresh folder under ./.cache (the repository's disk, not a
 * tmpfs, so that fsync costs what it will cost in a lab folder) and are removed afterwards.
 *
 *   node --import tsx bench/checkpoint.ts [runs] [folder]
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { loadCheckpoint, saveCheckpoint } from "../src/model/checkpoint.ts";
import type { FileTensor as Tensor } from "../src/model/safetensors.ts";

export interface CheckpointBench {
  params: number;
  bytes: number;
  runs: number;
  writeMedianMs: number;
  writeMinMs: number;
  writeMaxMs: number;
  loadMedianMs: number;
}

/** Parameter shapes of a 2-layer attention-only model, dModel 256, in TransformerLens names. */
function shapes(nLayers = 2, dModel = 256, nHeads = 8, dHead = 32, nCtx = 256, dVocab = 4096): Record<string, number[]> {
  const s: Record<string, number[]> = { "embed.W_E": [dVocab, dModel], "pos_embed.W_pos": [nCtx, dModel] };
  for (let l = 0; l < nLayers; l++) {
    for (const m of ["Q", "K", "V"]) {
      s[`blocks.${l}.attn.W_${m}`] = [nHeads, dModel, dHead];
      s[`blocks.${l}.attn.b_${m}`] = [nHeads, dHead];
    }
    s[`blocks.${l}.attn.W_O`] = [nHeads, dHead, dModel];
    s[`blocks.${l}.attn.b_O`] = [dModel];
    s[`blocks.${l}.ln1.w`] = [dModel];
    s[`blocks.${l}.ln1.b`] = [dModel];
  }
  s["ln_final.w"] = [dModel];
  s["ln_final.b"] = [dModel];
  s["unembed.W_U"] = [dModel, dVocab];
  s["unembed.b_U"] = [dVocab];
  return s;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function benchCheckpoint(options: { runs?: number; dir?: string } = {}): Promise<CheckpointBench> {
  const runs = options.runs ?? 5;
  const random = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.random() - 0.5);
  const params: Record<string, Tensor> = {};
  const m: Record<string, Tensor> = {};
  const v: Record<string, Tensor> = {};
  let count = 0;
  for (const [name, shape] of Object.entries(shapes())) {
    const n = shape.reduce((a, b) => a * b, 1);
    count += n;
    params[name] = { data: random(n), shape };
    m[name] = { data: random(n), shape };
    v[name] = { data: random(n), shape };
  }
  const parent = resolve(options.dir ?? ".cache");
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, "bench-checkpoint-"));
  const writes: number[] = [];
  const loads: number[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const state = {
        params,
        optimizer: { m, v, step: 1000 + i },
        rng: { s: ["1", "2", "3", "4"] },
        data: { position: i },
        extra: { run: i },
      };
      const t0 = performance.now();
      const saved = saveCheckpoint(dir, 1_000_000 * (i + 1), state);
      writes.push(performance.now() - t0);
      bytes = saved.bytes;
      const t1 = performance.now();
      loadCheckpoint(saved.path);
      loads.push(performance.now() - t1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    params: count,
    bytes,
    runs,
    writeMedianMs: median(writes),
    writeMinMs: Math.min(...writes),
    writeMaxMs: Math.max(...writes),
    loadMedianMs: median(loads),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const runs = process.argv[2] ? Number(process.argv[2]) : undefined;
  const r = await benchCheckpoint({ runs, dir: process.argv[3] });
  console.log(
    `checkpoint write, 2-layer attn-only dModel 256 (${(r.params / 1e6).toFixed(2)}M params + AdamW m, v; ` +
      `${(r.bytes / 1e6).toFixed(1)} MB): median ${r.writeMedianMs.toFixed(0)} ms over ${r.runs} runs ` +
      `(min ${r.writeMinMs.toFixed(0)}, max ${r.writeMaxMs.toFixed(0)}; target < 1000 ms); ` +
      `load + verify median ${r.loadMedianMs.toFixed(0)} ms`,
  );
}
