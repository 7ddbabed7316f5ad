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
import { METRIC } from "../measure/names.ts";
import { resolveMeasures, storeResults } from "./measures.ts";
import type { MeasureFn, MeasureValue, TrainData, DataFactory, MeasureContext } from "./types.ts";
import { ensureMeasureInputs, inputsFromData } from "../measure/run-inputs.ts";
import { parseTrainConfig, resolveModel, runIdFor, type TrainConfig } from "./config.ts";
import { AdamW } from "./optimizer.ts";
import { learningRate, logSpacedCheckpoints } from "./schedule.ts";
import { Progress } from "./progress.ts";

export type { BatchSampler, DataFactory, MeasureContext, MeasureFn, MeasureValue, TrainData } from "./types.ts";
export { storeResults } from "./measures.ts";

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
  const measures = await resolveMeasures(config, data, opts.measures);

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
    const model = buildModel(config.model, config.seed);
    const run: RunState = { config, data, model, opt: new AdamW(model.params, config.optim), rng: new Rng(config.seed), store, runId, dir };
    const plan = stepPlan(config);
    const { step, resumedFrom } = resumeRun(run, log);
    store.setStatus(runId, "running");
    if (step === 0) {
      log(
        `icl-lab: run ${runId}: ${config.model.kind} with ${parameterCount(model).toLocaleString("en-US")} parameters, ` +
          `${plan.totalSteps} steps × ${plan.tokensPerStep} tokens, backend ${kernels().name} (${kernels().getThreads()} threads, ${kernels().getPrecision()})`,
      );
    }
    return await trainLoop(run, plan, { step, resumedFrom, measures, measureInputs: fixed.inputs, opts, log });
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

/** What one training run works on: its config and data, the model and optimizer, its random state, its place in the store. */
interface RunState {
  config: TrainConfig;
  data: TrainData;
  model: LanguageModel;
  opt: AdamW;
  rng: Rng;
  store: RunStore;
  runId: string;
  /** The run folder. */
  dir: string;
}

/** A run's steps: tokens per step, the step count (tokens rounded up to whole steps), the schedule and the measurement checkpoints. */
function stepPlan(config: TrainConfig) {
  const tokensPerStep = config.batch * config.model.nCtx;
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
  return { tokensPerStep, totalSteps, totalTokens, schedule, measureAt };
}

type StepPlan = ReturnType<typeof stepPlan>;

/**
 * Restores the run's last valid resume checkpoint, if any (parameters, optimizer moments, random
 * and data-sampler state) and rewinds the store to it; the step to continue from (0: a new run).
 */
function resumeRun(run: RunState, log: (line: string) => void): { step: number; resumedFrom: number | null } {
  const { model, opt, rng, data, store, runId, dir } = run;
  const resume = latestValidCheckpoint(join(dir, "resume"), { resumable: true });
  for (const s of resume.skipped) log(`icl-lab: skipping damaged checkpoint ${s.path}: ${s.reason}`);
  if (resume.found === null) return { step: 0, resumedFrom: null };
  const ck = resume.found;
  setParams(model, ck);
  for (const name of model.params.keys()) {
    opt.state.m.get(name)!.set(ck.optimizer!.m[name].data as Float32Array);
    opt.state.v.get(name)!.set(ck.optimizer!.v[name].data as Float32Array);
  }
  opt.state.step = ck.optimizer!.step;
  const step = (ck.extra as { step: number }).step;
  Object.assign(rng, Rng.fromState(ck.rng as unknown as RngState));
  try {
    data.sampler.restore(ck.data as JsonValue);
  } catch (e) {
    throw new Error(
      `resume of run ${runId} failed: ${(e as Error).message}. The data changed since the run started; ` +
        `delete ${dir} to start it again, or give the new run another name`,
    );
  }
  store.rewind(runId, ck.tokens);
  log(`icl-lab: run ${runId} resumes at ${ck.tokens} tokens (step ${step})`);
  return { step, resumedFrom: ck.tokens };
}

/** The model's parameters as checkpoint tensors. */
function paramsForFile(model: LanguageModel): Record<string, FileTensor> {
  const out: Record<string, FileTensor> = {};
  for (const [name, p] of model.params) out[name] = { data: p.data, shape: [...p.shape] };
  return out;
}

/** Saves a resume checkpoint at `tokens` (after `step` steps) and removes the older ones. */
function saveResume(run: RunState, tokens: number, step: number): void {
  const { model, opt } = run;
  const m: Record<string, FileTensor> = {},
    v: Record<string, FileTensor> = {};
  for (const [name, p] of model.params) {
    m[name] = { data: opt.state.m.get(name)!, shape: [...p.shape] };
    v[name] = { data: opt.state.v.get(name)!, shape: [...p.shape] };
  }
  const resumeDir = join(run.dir, "resume");
  saveCheckpoint(resumeDir, tokens, {
    params: paramsForFile(model),
    optimizer: { m, v, step: opt.state.step },
    data: run.data.sampler.state(),
    rng: run.rng.state() as unknown as JsonValue,
    extra: { step },
  });
  // Only the newest resume checkpoint is needed; older ones go once the new one is durable.
  for (const f of listCheckpoints(resumeDir)) if (f.tokens < tokens) rmSync(f.path, { force: true });
}

interface LoopOptions {
  /** The step to start from (resumed) and the tokens it resumed at. */
  step: number;
  resumedFrom: number | null;
  measures: Record<string, MeasureFn>;
  measureInputs: MeasureContext["inputs"];
  opts: TrainOptions;
  log: (line: string) => void;
}

/** Trains from `lo.step` to the end of the plan (or `maxSteps` more), logging, measuring and checkpointing on the way. */
async function trainLoop(run: RunState, plan: StepPlan, lo: LoopOptions): Promise<TrainResult> {
  const { config, data, model, opt, store, runId } = run;
  const { tokensPerStep, totalSteps, totalTokens, schedule, measureAt } = plan;
  const nCtx = config.model.nCtx;
  const progress = new Progress(lo.opts.progress ?? "auto", totalTokens, lo.log);
  const inputs = new Int32Array(config.batch * nCtx),
    targets = new Int32Array(config.batch * nCtx);
  let step = lo.step;
  let lossSum = 0,
    lossCount = 0,
    lastLoss = NaN,
    lastIcl: number | null = null;
  let lastResumeSave = Date.now();
  const started = performance.now();
  const startStep = step;
  let stepsThisCall = 0;
  while (step < totalSteps) {
    if (lo.opts.maxSteps !== undefined && stepsThisCall >= lo.opts.maxSteps) break;
    splitBatch(data.sampler.nextBatch(config.batch), config.batch, nCtx, inputs, targets);
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
      const measureStarted = performance.now();
      const results = await measureCheckpoint(run, lo, tokens, step);
      store.logMetrics(runId, tokens, { [METRIC.measureSeconds]: (performance.now() - measureStarted) / 1000 });
      const icl = results.icl?.score;
      if (typeof icl === "number") lastIcl = icl;
      // Resume checkpoints (3× the size: optimizer moments) only every resumeEverySeconds; a
      // resume from an earlier point rewinds the store to it, so exactness does not need more.
      if (Date.now() - lastResumeSave > config.checkpoints.resumeEverySeconds * 1000) {
        saveResume(run, tokens, step);
        lastResumeSave = Date.now();
      }
      store.heartbeat(runId, tokens);
      progress.checkpoint(tokens, lastLoss, lastIcl);
      await lo.opts.onCheckpoint?.({ runId, tokens, step, loss: lastLoss, results, model });
    } else if (Date.now() - lastResumeSave > config.checkpoints.resumeEverySeconds * 1000) {
      saveResume(run, tokens, step);
      lastResumeSave = Date.now();
      store.heartbeat(runId, tokens);
    }
  }
  progress.done();
  const finished = step >= totalSteps;
  if (finished) store.setStatus(runId, "finished");
  else saveResume(run, step * tokensPerStep, step);
  const elapsed = (performance.now() - started) / 1000;
  return {
    runId,
    config,
    model,
    tokens: step * tokensPerStep,
    steps: step,
    finished,
    resumedFrom: lo.resumedFrom,
    lastLoss,
    tokensPerSecond: elapsed > 0 ? ((step - startStep) * tokensPerStep) / elapsed : 0,
    params: parameterCount(model),
  };
}

/** Splits [batch, nCtx + 1] windows into the inputs [:, :nCtx] and the targets [:, 1:]. */
function splitBatch(windows: Int32Array, batch: number, nCtx: number, inputs: Int32Array, targets: Int32Array): void {
  if (windows.length !== batch * (nCtx + 1)) {
    throw new Error(`train: the sampler returned ${windows.length} tokens, expected batch × (nCtx + 1) = ${batch * (nCtx + 1)}`);
  }
  for (let b = 0; b < batch; b++) {
    inputs.set(windows.subarray(b * (nCtx + 1), b * (nCtx + 1) + nCtx), b * nCtx);
    targets.set(windows.subarray(b * (nCtx + 1) + 1, (b + 1) * (nCtx + 1)), b * nCtx);
  }
}

/** Runs and stores the run's measurements at a checkpoint, then saves the checkpoint's parameters. */
async function measureCheckpoint(run: RunState, lo: LoopOptions, tokens: number, step: number): Promise<Record<string, Record<string, MeasureValue>>> {
  const { config, data, model, store, runId } = run;
  const results: Record<string, Record<string, MeasureValue>> = {};
  for (const name of config.measures) {
    results[name] = (await lo.measures[name](model, {
      data,
      tokens,
      seed: lo.measureInputs.seed,
      options: lo.measureInputs.options,
      inputs: lo.measureInputs,
    })) as Record<string, MeasureValue>;
    storeResults(store, runId, tokens, name, results[name]);
  }
  const saved = saveCheckpoint(join(run.dir, "checkpoints"), tokens, { params: paramsForFile(model), extra: { step } });
  store.addCheckpoint(runId, { tokens, step, path: saved.path, sha256: saved.sha256 });
  return results;
}

/** Copies a file to dest through a temporary name (never a half-written dest). */
function copyAtomic(src: string, dest: string): void {
  if (!existsSync(src)) return;
  copyFileAtomic(src, dest);
}
