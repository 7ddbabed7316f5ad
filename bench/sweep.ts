/**
 * Benchmark for issue 8's targets:
 *
 *   - local pool: a grid of 8 tiny runs on 2 cores (the pool's plan: 2 trainer processes × 1
 *     kernel thread) finishes in ≤ 1.1× the time of the same runs back to back with the right
 *     thread setting for one run at a time (one trainer process, 2 threads; 1 thread is measured
 *     too, since a tiny model may gain nothing from a second thread). All include starting
 *     their trainer processes (the pool starts two, the baseline one) and the runs' checkpoints;
 *     data are the synthetic fixture (no corpus to prepare). Each variant trains into a fresh lab,
 *     so nothing is skipped. Alternating repeats, medians.
 *   - queue overhead per job < 100 ms: trivial jobs (no training: each reports one "started",
 *     one checkpoint and "done") through the real path — the coordinator adds the jobs to BullMQ,
 *     a worker (concurrency 1) takes them and sends its results through the results queue, the
 *     coordinator writes them into its runs store and notices completion. Wall time / jobs. Needs
 *     Redis (`--redis URL`, default $ICL_LAB_TEST_REDIS or redis://127.0.0.1:6390); skipped without.
 *
 *   node --import tsx bench/sweep.ts [--runs 8] [--steps 600] [--repeats 3] [--jobs 100] [--redis URL]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expandSweep, type SweepRun } from "../src/sweep/expand.ts";
import { runLocalPool } from "../src/sweep/local-pool.ts";
import { checkRedis, coordinateSweep } from "../src/sweep/queue.ts";
import { parseSweepSpec } from "../src/sweep/spec.ts";
import { TrainerProcess } from "../src/sweep/trainer-process.ts";
import { startSweepWorker } from "../src/sweep/worker.ts";

const synthetic = fileURLToPath(new URL("../src/sweep/fixtures/synthetic.ts", import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The grid: `runs` tiny attention-only models (seeds), `steps` steps each of 4 × 64 tokens. */
async function tinyGrid(runs: number, steps: number): Promise<SweepRun[]> {
  const spec = parseSweepSpec({
    name: "bench-pool",
    base: {
      model: { kind: "attn-only", nLayers: 2, dModel: 32, nHeads: 4, dHead: 8, nCtx: 64, dVocab: 13 },
      batch: 4,
      tokens: 4 * 64 * steps,
      checkpoints: { perDecade: 4 },
      measures: ["probe"],
    },
    seeds: Array.from({ length: runs }, (_, i) => i),
  });
  return expandSweep(spec, { measureNames: ["probe"] });
}

export interface PoolBench {
  runs: number;
  steps: number;
  poolSeconds: number[];
  /** Back to back in one trainer process with 2 threads: the setting for one run at a time on 2 cores. */
  sequentialSeconds: number[];
  /** Back to back with 1 thread (tiny models may not gain from a second thread). */
  sequential1Seconds: number[];
  poolMedian: number;
  sequentialMedian: number;
  sequential1Median: number;
  /** pool / back to back with 2 threads (target ≤ 1.1). */
  ratio: number;
  /** pool / the faster of the two back-to-back settings. */
  ratioBest: number;
}

export async function benchPool(options: { runs?: number; steps?: number; repeats?: number } = {}): Promise<PoolBench> {
  const runs = await tinyGrid(options.runs ?? 8, options.steps ?? 600);
  const poolSeconds: number[] = [];
  const sequentialSeconds: number[] = [];
  const sequential1Seconds: number[] = [];
  const timed = async (fn: (lab: string) => Promise<void>) => {
    const lab = mkdtempSync(join(tmpdir(), "icl-bench-sweep-"));
    try {
      const t0 = performance.now();
      await fn(lab);
      return (performance.now() - t0) / 1000;
    } finally {
      rmSync(lab, { recursive: true, force: true });
    }
  };
  for (let r = 0; r < (options.repeats ?? 3); r++) {
    poolSeconds.push(
      await timed(async (lab) => {
        const outcomes = await runLocalPool(runs, { lab, cores: 2, dataModule: synthetic });
        if (!outcomes.every((o) => o.status === "finished")) throw new Error(`pool: ${JSON.stringify(outcomes.map((o) => o.status))}`);
      }),
    );
    const backToBack = (threads: number) =>
      timed(async (lab) => {
        const proc = new TrainerProcess({ threads, dataModule: synthetic });
        try {
          for (const run of runs) await proc.run({ key: run.id, config: run.config, lab, report: false });
        } finally {
          await proc.close();
        }
      });
    sequentialSeconds.push(await backToBack(2));
    sequential1Seconds.push(await backToBack(1));
  }
  const poolMedian = median(poolSeconds),
    sequentialMedian = median(sequentialSeconds),
    sequential1Median = median(sequential1Seconds);
  return {
    runs: runs.length,
    steps: options.steps ?? 600,
    poolSeconds,
    sequentialSeconds,
    sequential1Seconds,
    poolMedian,
    sequentialMedian,
    sequential1Median,
    ratio: poolMedian / sequentialMedian,
    ratioBest: poolMedian / Math.min(sequentialMedian, sequential1Median),
  };
}

export interface QueueBench {
  jobs: number;
  seconds: number;
  /** Wall time per job (target < 100 ms). */
  msPerJob: number;
}

export async function benchQueue(url: string, options: { jobs?: number } = {}): Promise<QueueBench> {
  const n = options.jobs ?? 100;
  const namespace = `icl-lab-bench-${process.pid}`;
  const lab = mkdtempSync(join(tmpdir(), "icl-bench-queue-"));
  const spec = parseSweepSpec({
    name: "bench-queue",
    base: { model: { kind: "rnn", nLayers: 1, dModel: 4, dHidden: 4, nCtx: 8, dVocab: 13 }, batch: 1, tokens: 8, measures: [] },
    seeds: Array.from({ length: n }, (_, i) => i),
  });
  const runs = await expandSweep(spec, { measureNames: [] });
  const byId = new Map(runs.map((r) => [r.id, r]));
  const worker = await startSweepWorker(url, {
    namespace,
    lab,
    concurrency: 1,
    // A trivial job: the messages a one-checkpoint run sends, without training.
    train: async (job, onMessage) => {
      const run = byId.get(job.key)!;
      const base = { key: job.key, runId: run.id, totalTokens: 8, worker: "bench" };
      onMessage({ type: "started", ...base, config: run.resolved, resumedFrom: null });
      onMessage({
        type: "checkpoint",
        ...base,
        tokens: 8,
        loss: 2.5,
        icl: null,
        replayed: false,
        report: { runId: run.id, tokens: 8, metrics: { train_loss: 2.5, step: 1 }, vectors: [], json: [] },
      });
      return { type: "done", key: job.key, runId: run.id, finished: true, tokens: 8, steps: 1, lastLoss: 2.5, resumedFrom: null, seconds: 0 };
    },
  });
  try {
    const t0 = performance.now();
    const result = await coordinateSweep(url, "bench-queue", runs, { lab, namespace, pollMs: 20 });
    const seconds = (performance.now() - t0) / 1000;
    if (!result.complete) throw new Error("queue benchmark: the sweep did not complete");
    return { jobs: n, seconds, msPerJob: (seconds * 1000) / n };
  } finally {
    await worker.stop();
    const { Redis } = await import("ioredis");
    const { redisOptions } = await import("../src/sweep/queue.ts");
    const redis = new Redis(redisOptions(url));
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    rmSync(lab, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const p = await benchPool({ runs: Number(arg("--runs") ?? 8), steps: Number(arg("--steps") ?? 600), repeats: Number(arg("--repeats") ?? 3) });
  const f = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(", ");
  console.log(
    `local pool, ${p.runs} tiny runs × ${p.steps} steps, 2 cores: pool (2 processes × 1 thread) ${p.poolMedian.toFixed(2)} s median (runs ${f(p.poolSeconds)})`,
  );
  console.log(`same runs back to back (1 process × 2 threads): ${p.sequentialMedian.toFixed(2)} s median (runs ${f(p.sequentialSeconds)})`);
  console.log(`same runs back to back (1 process × 1 thread): ${p.sequential1Median.toFixed(2)} s median (runs ${f(p.sequential1Seconds)})`);
  console.log(
    `ratio pool / back to back with 2 threads: ${p.ratio.toFixed(3)} (target ≤ 1.1); pool / the faster back-to-back setting: ${p.ratioBest.toFixed(3)}`,
  );
  const url = arg("--redis") ?? (process.env.ICL_LAB_TEST_REDIS || "redis://127.0.0.1:6390");
  const reachable = await checkRedis(url, { connectTimeoutMs: 1000 }).then(
    () => true,
    () => false,
  );
  if (!reachable) console.log(`queue overhead: skipped (no Redis at ${url})`);
  else {
    const q = await benchQueue(url, { jobs: Number(arg("--jobs") ?? 100) });
    console.log(`queue overhead: ${q.jobs} trivial jobs in ${q.seconds.toFixed(2)} s, ${q.msPerJob.toFixed(1)} ms per job (target < 100 ms)`);
  }
}
