/**
 * `train(config)`: the one training loop every experiment, test and CLI command calls.
 *
 *   - AdamW with linear warm-up then cosine or constant learning rate, gradient clipping;
 *   - batches from the data pipeline, tokens counted exactly (batch × nCtx per step);
 *   - measurement checkpoints at log-spaced token counts plus the last: parameters are saved
 *     (safetensors) and the requested measurements run and are stored in the runs store;
 *   - resume checkpoints (optimizer, data-sampler and random state too) at every measurement
 *     checkpoint and at least every `resumeEverySeconds`; a run killed at any moment — SIGKILL,
 *     during a checkpoint write — continues from its last resume checkpoint with the same data
 *     order, optimizer state and random state (checkpoint files are atomic and checksummed);
 *   - progress: a one-line bar on a terminal, plain log lines otherwise.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as op from "../engine/ops/index.ts";
import { kernels } from "../engine/backend.ts";
import { usePrecision } from "../engine/precision.ts";
import { releaseGraph } from "../engine/tensor.ts";
import { setParams } from "../model/load.ts";
import { buildModel, parameterCount, type LanguageModel } from "../model/model.ts";
import type { ModelConfig } from "../model/config.ts";
import { latestValidCheckpoint, listCheckpoints, saveCheckpoint, type JsonValue } from "../model/checkpoint.ts";
import { RunStore, resolveLabDir, runDir } from "../store/run-store.ts";
import type { FileTensor } from "../model/safetensors.ts";
import { copyFileAtomic, removeStaleTemps } from "../util/fs.ts";
import { Rng, type RngState } from "../util/random.ts";
import { formatTokens } from "../util/format.ts";
import type { CheckpointContext, MeasureFn as MeasureFnOf } from "../measure/index.ts";
import { METRIC, iclAtSource } from "../measure/names.ts";
import { ensureMeasureInputs, inputsFromData } from "../measure/run-inputs.ts";
import { parseTrainConfig, resolveModel, runIdFor, type TrainConfig } from "./config.ts";
import { AdamW } from "./optimizer.ts";
import { learningRate, logSpacedCheckpoints } from "./schedule.ts";

/** A stream of training windows with a state that can be saved and restored exactly. */
export interface BatchSampler {
  /** [batch, nCtx + 1] token ids: inputs are [:, :nCtx], targets [:, 1:]. */
  nextBatch(batch: number): Int32Array;
  state(): JsonValue;
  restore(state: JsonValue): void;
}

/** What the trainer needs from the data pipeline. */
export interface TrainData {
  vocabSize: number;
  sampler: BatchSampler;
  /** Held-out evaluation windows [n, length] (length = nCtx + 1). */
  eval: { windows: Int32Array; n: number; length: number };
  /** Token frequencies over the training data (some head scores exclude frequent tokens). */
  tokenCounts?: Float64Array;
  /** The tokenizer file to copy into the run folder (export), when there is one. */
  tokenizerPath?: string;
  /** End-of-document token id (used as BOS by head scores and tasks). */
  eodId?: number;
  /** Evaluation windows of one source of the mixture (or "natural"), for `icl@SOURCE` measures. */
  evalFor?(sourceId: string): { windows: Int32Array; n: number; length: number };
  description?: string;
}

export type DataFactory = (config: TrainConfig, lab: string) => Promise<TrainData>;

/**
 * Context given to measurements at a checkpoint: src/measure's one context type, with the data,
 * tokens, seed, options and inputs (seed, BOS, token pools, stored with the run) the trainer gives.
 */
export type MeasureContext = CheckpointContext<TrainData>;

/** A measurement's result: scalars become metrics, arrays become vectors (`name.key`). */
export type MeasureValue = number | null | number[] | { data: ArrayLike<number>; shape: number[] } | JsonValue;
/** src/measure's one measurement type, taking the trainer's context; its result's fields are stored. */
export type MeasureFn = MeasureFnOf<MeasureContext, object>;

export interface TrainOptions {
  lab?: string;
  /** Builds the data (default: the src/data pipeline). */
  data?: DataFactory;
  /** Available measurements by name (default: src/measure's registry). */
  measures?: Record<string, MeasureFn>;
  /** Called after each checkpoint's measurements are stored. */
  onCheckpoint?: (info: CheckpointInfo) => void | Promise<void>;
  /** Progress output: "auto" (bar on a TTY, lines otherwise), "lines", "none". */
  progress?: "auto" | "lines" | "none";
  /** Stop after this many steps in this call (tests of resume); the run stays resumable. */
  maxSteps?: number;
  log?: (line: string) => void;
}

export interface CheckpointInfo {
  runId: string;
  tokens: number;
  step: number;
  loss: number;
  results: Record<string, Record<string, MeasureValue>>;
  model: LanguageModel;
}

export interface TrainResult {
  runId: string;
  config: TrainConfig;
  model: LanguageModel;
  tokens: number;
  steps: number;
  finished: boolean;
  resumedFrom: number | null;
  /** Mean training loss of the last logging interval. */
  lastLoss: number;
  tokensPerSecond: number;
  params: number;
}

async function defaultData(config: TrainConfig, lab: string): Promise<TrainData> {
  const { prepareTrainData } = await import("../data/train-data.ts");
  return prepareTrainData(config, lab);
}

async function defaultMeasures(): Promise<Record<string, MeasureFn>> {
  const { MEASURES } = await import("../measure/index.ts");
  return MEASURES;
}

/** Resolves a config input (e.g. parsed JSON) into a full config with the tokenizer's vocab. */
export async function resolveConfig(input: unknown, data: (c: TrainConfig) => Promise<TrainData>): Promise<{ config: TrainConfig; data: TrainData }> {
  const parsed = parseTrainConfig(input);
  // Check the model before the (possibly slow) data preparation, with a placeholder vocabulary
  // when dVocab is left to the tokenizer; the real check follows once the vocabulary is known.
  resolveModel(parsed.model, typeof parsed.model.dVocab === "number" ? parsed.model.dVocab : 257);
  // dVocab comes from the tokenizer: build the data with a provisional config first.
  const provisional = { ...parsed, model: parsed.model as unknown as ModelConfig };
  const d = await data(provisional);
  return { config: { ...parsed, model: resolveModel(parsed.model, d.vocabSize) }, data: d };
}

export async function train(input: unknown, opts: TrainOptions = {}): Promise<TrainResult> {
  const lab = resolveLabDir(opts.lab);
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const dataFactory = opts.data ?? defaultData;
  const { config, data } = await resolveConfig(input, (c) => dataFactory(c, lab));
  usePrecision(config.precision);
  const nCtx = config.model.nCtx;
  if (data.eval.length !== nCtx + 1) {
    throw new Error(`train: evaluation windows have ${data.eval.length} tokens, expected nCtx + 1 = ${nCtx + 1}`);
  }
  const registry = opts.measures ?? (config.measures.length > 0 ? await defaultMeasures() : {});
  const measures: Record<string, MeasureFn> = {};
  for (const m of config.measures) measures[m] = resolveMeasure(m, registry, data);

  const runId = runIdFor(config);
  const dir = runDir(lab, runId);
  mkdirSync(dir, { recursive: true });
  removeStaleTemps(dir);
  if (data.tokenizerPath !== undefined) copyAtomic(data.tokenizerPath, join(dir, "tokenizer.json"));
  const store = RunStore.open(lab);
  try {
    store.createRun({ id: runId, experiment: config.experiment, kind: config.model.kind, config: config as unknown as JsonValue });
    // The measurement inputs (BOS, token pools from the data's token counts, seed, options) are
    // fixed when the run starts and stored with it: every checkpoint, and every later reader
    // (icl-lab measure, the report, the dashboard), measures with the same ones.
    const fixed = ensureMeasureInputs(store, runId, inputsFromData(config, data));
    if (fixed.differs !== "") {
      log(`icl-lab: run ${runId}: its stored measurement inputs differ from those of its data now (${fixed.differs}); the stored ones are kept`);
    }
    const measureInputs = fixed.inputs;
    const model = buildModel(config.model, config.seed);
    const opt = new AdamW(model.params, config.optim);
    const rng = new Rng(config.seed);
    const tokensPerStep = config.batch * nCtx;
    const totalSteps = Math.ceil(config.tokens / tokensPerStep);
    const totalTokens = totalSteps * tokensPerStep;
    const schedule = {
      lr: config.optim.lr,
      warmupSteps: Math.ceil(config.optim.warmupTokens / tokensPerStep),
      totalSteps,
      schedule: config.optim.schedule,
      minLrRatio: config.optim.minLrRatio,
    };
    const measureAt = logSpacedCheckpoints(totalTokens, tokensPerStep, config.checkpoints.perDecade, config.checkpoints.first ?? tokensPerStep);

    // ---- resume ---------------------------------------------------------------------------
    let step = 0;
    let resumedFrom: number | null = null;
    const resume = latestValidCheckpoint(join(dir, "resume"), { resumable: true });
    for (const s of resume.skipped) log(`icl-lab: skipping damaged checkpoint ${s.path}: ${s.reason}`);
    if (resume.found !== null) {
      const ck = resume.found;
      setParams(model, ck);
      for (const name of model.params.keys()) {
        opt.state.m.get(name)!.set(ck.optimizer!.m[name].data as Float32Array);
        opt.state.v.get(name)!.set(ck.optimizer!.v[name].data as Float32Array);
      }
      opt.state.step = ck.optimizer!.step;
      step = (ck.extra as { step: number }).step;
      Object.assign(rng, Rng.fromState(ck.rng as unknown as RngState));
      try {
        data.sampler.restore(ck.data as JsonValue);
      } catch (e) {
        throw new Error(
          `resume of run ${runId} failed: ${(e as Error).message}. The data changed since the run started; ` +
            `delete ${dir} to start it again, or give the new run another name`,
        );
      }
      resumedFrom = ck.tokens;
      store.rewind(runId, ck.tokens);
      log(`icl-lab: run ${runId} resumes at ${ck.tokens} tokens (step ${step})`);
    }
    store.setStatus(runId, "running");
    if (step === 0) {
      log(
        `icl-lab: run ${runId}: ${config.model.kind} with ${parameterCount(model).toLocaleString("en-US")} parameters, ` +
          `${totalSteps} steps × ${tokensPerStep} tokens, backend ${kernels().name} (${kernels().getThreads()} threads, ${kernels().getPrecision()})`,
      );
    }

    const paramsForFile = (): Record<string, FileTensor> => {
      const out: Record<string, FileTensor> = {};
      for (const [name, p] of model.params) out[name] = { data: p.data, shape: [...p.shape] };
      return out;
    };
    const saveResume = (tokens: number) => {
      const m: Record<string, FileTensor> = {},
        v: Record<string, FileTensor> = {};
      for (const [name, p] of model.params) {
        m[name] = { data: opt.state.m.get(name)!, shape: [...p.shape] };
        v[name] = { data: opt.state.v.get(name)!, shape: [...p.shape] };
      }
      const resumeDir = join(dir, "resume");
      saveCheckpoint(resumeDir, tokens, {
        params: paramsForFile(),
        optimizer: { m, v, step: opt.state.step },
        data: data.sampler.state(),
        rng: rng.state() as unknown as JsonValue,
        extra: { step },
      });
      // Only the newest resume checkpoint is needed; older ones go once the new one is durable.
      for (const f of listCheckpoints(resumeDir)) if (f.tokens < tokens) rmSync(f.path, { force: true });
    };

    // ---- the loop -------------------------------------------------------------------------
    const progress = new Progress(opts.progress ?? "auto", totalTokens, log);
    const inputs = new Int32Array(config.batch * nCtx),
      targets = new Int32Array(config.batch * nCtx);
    let lossSum = 0,
      lossCount = 0,
      lastLoss = NaN,
      lastIcl: number | null = null;
    let lastResumeSave = Date.now();
    const started = performance.now();
    const startStep = step;
    let stepsThisCall = 0;
    while (step < totalSteps) {
      if (opts.maxSteps !== undefined && stepsThisCall >= opts.maxSteps) break;
      const windows = data.sampler.nextBatch(config.batch);
      if (windows.length !== config.batch * (nCtx + 1)) {
        throw new Error(`train: the sampler returned ${windows.length} tokens, expected batch × (nCtx + 1) = ${config.batch * (nCtx + 1)}`);
      }
      for (let b = 0; b < config.batch; b++) {
        inputs.set(windows.subarray(b * (nCtx + 1), b * (nCtx + 1) + nCtx), b * nCtx);
        targets.set(windows.subarray(b * (nCtx + 1) + 1, (b + 1) * (nCtx + 1)), b * nCtx);
      }
      const lr = learningRate(step, schedule);
      const loss = op.crossEntropy(model.forward(inputs, config.batch).logits, targets);
      const lossValue = loss.item();
      if (!Number.isFinite(lossValue)) {
        store.setStatus(runId, "failed", { error: `loss became ${lossValue} at step ${step}` });
        throw new Error(`train: the loss became ${lossValue} at step ${step} (lr ${lr}); lower optim.lr or raise optim.warmupTokens`);
      }
      loss.backward();
      const gradNorm = opt.step(lr, config.optim.clip);
      opt.zeroGrad();
      releaseGraph();
      step++;
      stepsThisCall++;
      const tokens = step * tokensPerStep;
      lossSum += lossValue;
      lossCount++;
      const tps = ((step - startStep) * tokensPerStep) / ((performance.now() - started) / 1000);
      progress.update(tokens, tps, lossValue, lastIcl);

      const isMeasure = measureAt.includes(tokens);
      if (isMeasure || step === totalSteps) {
        lastLoss = lossSum / lossCount;
        store.logMetrics(runId, tokens, {
          [METRIC.trainLoss]: lastLoss,
          [METRIC.lr]: lr,
          [METRIC.gradNorm]: gradNorm,
          [METRIC.step]: step,
          [METRIC.tokensPerSecond]: tps,
        });
        lossSum = 0;
        lossCount = 0;
        const results: Record<string, Record<string, MeasureValue>> = {};
        for (const name of config.measures) {
          results[name] = (await measures[name](model, {
            data,
            tokens,
            seed: measureInputs.seed,
            options: measureInputs.options,
            inputs: measureInputs,
          })) as Record<string, MeasureValue>;
          storeResults(store, runId, tokens, name, results[name]);
        }
        const icl = results.icl?.score;
        if (typeof icl === "number") lastIcl = icl;
        const saved = saveCheckpoint(join(dir, "checkpoints"), tokens, { params: paramsForFile(), extra: { step } });
        store.addCheckpoint(runId, { tokens, step, path: saved.path, sha256: saved.sha256 });
        // Resume checkpoints (3× the size: optimizer moments) only every resumeEverySeconds; a
        // resume from an earlier point rewinds the store to it, so exactness does not need more.
        if (Date.now() - lastResumeSave > config.checkpoints.resumeEverySeconds * 1000) {
          saveResume(tokens);
          lastResumeSave = Date.now();
        }
        store.heartbeat(runId, tokens);
        progress.checkpoint(tokens, lastLoss, lastIcl);
        await opts.onCheckpoint?.({ runId, tokens, step, loss: lastLoss, results, model });
      } else if (Date.now() - lastResumeSave > config.checkpoints.resumeEverySeconds * 1000) {
        saveResume(tokens);
        lastResumeSave = Date.now();
        store.heartbeat(runId, tokens);
      }
    }
    progress.done();
    const finished = step >= totalSteps;
    if (finished) store.setStatus(runId, "finished");
    else saveResume(step * tokensPerStep);
    const elapsed = (performance.now() - started) / 1000;
    return {
      runId,
      config,
      model,
      tokens: step * tokensPerStep,
      steps: step,
      finished,
      resumedFrom,
      lastLoss,
      tokensPerSecond: elapsed > 0 ? ((step - startStep) * tokensPerStep) / elapsed : 0,
      params: parameterCount(model),
    };
  } catch (e) {
    try {
      store.setStatus(runIdFor(config), "failed", { error: e instanceof Error ? e.message : String(e) });
    } catch {
      /* the run may not exist yet */
    }
    throw e;
  } finally {
    store.close();
  }
}

/**
 * A measurement by name: one of the registry's, or `icl@SOURCE` — the `icl` measure on the
 * evaluation windows of one source of the mixture (`icl@natural`: its natural-text sources).
 */
function resolveMeasure(name: string, registry: Record<string, MeasureFn>, data: TrainData): MeasureFn {
  if (Object.hasOwn(registry, name)) return registry[name];
  const source = iclAtSource(name);
  if (source !== null && Object.hasOwn(registry, "icl") && data.evalFor !== undefined) {
    const ev = data.evalFor(source); // validates the source now, before any training
    const icl = registry.icl;
    return (model, ctx) => icl(model, { ...ctx, data: { ...ctx.data, eval: ev } });
  }
  throw new Error(`invalid training config: measures: unknown measurement '${name}' (known: ${Object.keys(registry).join(", ")}, icl@SOURCE)`);
}

/** Copies a file to dest through a temporary name (never a half-written dest). */
function copyAtomic(src: string, dest: string): void {
  if (!existsSync(src)) return;
  copyFileAtomic(src, dest);
}

/**
 * Stores a measurement's results under `<measure>.<key>`: numbers as metrics, non-empty numeric
 * arrays and tensors as vectors, the rest (an empty array included) as JSON. Also used for the
 * experiments' final measurements (src/experiments/runner.ts).
 */
export function storeResults(store: RunStore, runId: string, tokens: number, measure: string, r: Record<string, MeasureValue>): void {
  const scalars: Record<string, number> = {};
  for (const [key, v] of Object.entries(r)) {
    const name = `${measure}.${key}`;
    if (typeof v === "number") scalars[name] = v;
    else if (v === null) scalars[name] = NaN;
    else if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number"))
      store.logVector(runId, tokens, name, Float64Array.from(v as number[]), [v.length]);
    else if (typeof v === "object" && v !== null && "data" in v && "shape" in v && Array.isArray((v as { shape: unknown }).shape)) {
      const t = v as { data: ArrayLike<number>; shape: number[] };
      store.logVector(runId, tokens, name, Float64Array.from(t.data), t.shape);
    } else store.logJson(runId, tokens, name, v as JsonValue);
  }
  if (Object.keys(scalars).length > 0) store.logMetrics(runId, tokens, scalars);
}

/** A progress bar on a terminal (tokens, tokens/s, loss, last ICL score, ETA); lines otherwise. */
class Progress {
  private readonly tty: boolean;
  private lastDraw = 0;
  private readonly t0 = Date.now();
  constructor(
    private readonly mode: "auto" | "lines" | "none",
    private readonly total: number,
    private readonly log: (s: string) => void,
  ) {
    this.tty = mode === "auto" && process.stderr.isTTY === true;
  }
  private line(tokens: number, tps: number, loss: number, icl: number | null): string {
    const eta = tps > 0 ? (this.total - tokens) / tps : 0;
    return (
      `${fmtTokens(tokens)}/${fmtTokens(this.total)} tokens  ${tps.toFixed(0)} tok/s  loss ${loss.toFixed(3)}` +
      `  icl ${icl === null ? "—" : icl.toFixed(3)}  eta ${fmtSeconds(eta)}`
    );
  }
  update(tokens: number, tps: number, loss: number, icl: number | null): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const w = 24,
      filled = Math.round((w * tokens) / this.total);
    process.stderr.write(`\r[${"#".repeat(filled)}${".".repeat(w - filled)}] ${this.line(tokens, tps, loss, icl)}\x1b[K`);
  }
  checkpoint(tokens: number, loss: number, icl: number | null): void {
    if (this.mode === "none") return;
    if (this.tty) process.stderr.write("\r\x1b[K");
    const elapsed = (Date.now() - this.t0) / 1000;
    this.log(`checkpoint ${fmtTokens(tokens)} tokens: loss ${loss.toFixed(4)}${icl === null ? "" : `, icl score ${icl.toFixed(4)}`} (${fmtSeconds(elapsed)})`);
  }
  done(): void {
    if (this.tty) process.stderr.write("\r\x1b[K");
  }
}

/** Token counts in progress lines (the lab's one formatter; the name kept for importers). */
export const fmtTokens: (n: number) => string = formatTokens;

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return "—";
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, "0")}m`;
}
