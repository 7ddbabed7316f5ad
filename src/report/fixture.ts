/**
 * Test fixture: a lab with three hand-made runs of one experiment, stored exactly as the trainer
 * stores them (src/train/train.ts `storeResults`), without training anything:
 *   - `fx-2l`: attention-only, 2 layers: the ICL score drops from −0.05 to −0.45 nats around 300k
 *     tokens, the training loss has a bump there, head L1H0 becomes an induction head (0.8), with
 *     position loss, per-token-loss vectors, ablation, few-shot tasks and a real checkpoint file
 *     (a tiny randomly initialised model) for the attention figure;
 *   - `fx-1l`: attention-only, 1 layer: flat ICL score, heads ≤ 0.02, no bump;
 *   - `fx-lstm`: an LSTM that measured only the ICL score and the training loss.
 * The dashboard's tests may use it too.
 */
import { join } from "node:path";
import { saveCheckpoint } from "../model/checkpoint.ts";
import { parseModelConfig } from "../model/config.ts";
import { buildModel } from "../model/model.ts";
import { RunStore } from "../store/run-store.ts";
import { storeResults } from "../train/measures.ts";
import { METRIC, RECORD, VECTOR } from "../measure/names.ts";

export const FIXTURE_EXPERIMENT = "fixture-exp";
/** Checkpoint token counts: 8 per decade from 10k to 10M. */
export const FIXTURE_TOKENS = Array.from({ length: 25 }, (_, i) => Math.round(10 ** (4 + i / 8) / 64) * 64);

const TINY_2L = { kind: "attn-only", nLayers: 2, dModel: 16, nHeads: 2, dHead: 8, nCtx: 32, dVocab: 24 };
const TINY_1L = { ...TINY_2L, nLayers: 1 };
const TINY_LSTM = { kind: "lstm", nLayers: 1, dModel: 16, dHidden: 16, nCtx: 32, dVocab: 24 };

/** A logistic step in log10 tokens from `from` to `to`, centred at `at` tokens. */
function step(tokens: number, from: number, to: number, at: number, width = 0.1): number {
  const z = (Math.log10(tokens) - Math.log10(at)) / width;
  return from + (to - from) / (1 + Math.exp(-z));
}

/** A deterministic small wiggle (so curves are not perfectly smooth). */
function wiggle(i: number, amp: number): number {
  return amp * Math.sin(i * 2.3 + 0.7);
}

export interface FixtureRun {
  id: string;
  icl: Array<{ tokens: number; score: number; lo: number; hi: number; se: number; loss50: number; loss500: number }>;
  trainLoss: Array<{ tokens: number; value: number }>;
}

export interface Fixture {
  lab: string;
  runs: Record<"twoLayer" | "oneLayer" | "lstm", FixtureRun>;
}

function config(name: string, model: Record<string, unknown>, measures: string[]) {
  return {
    name,
    experiment: FIXTURE_EXPERIMENT,
    seed: 0,
    model: parseModelConfig(model),
    data: { sources: { brown: 1 }, tokenizer: { kind: "byte" }, evalWindows: 64, evalPolicy: "packed" },
    batch: 8,
    tokens: FIXTURE_TOKENS[FIXTURE_TOKENS.length - 1],
    measures,
  };
}

/** Builds the fixture lab in `lab` (a fresh folder). */
export function buildFixtureLab(lab: string): Fixture {
  const store = RunStore.open(lab);
  try {
    const twoLayer = addRun(store, "fx-2l", config("fx-2l", TINY_2L, ["icl", "positionLoss", "heads", "ablation", "tasks", "tokenLoss"]), {
      drop: 0.4,
      bump: 0.12,
      induction: 0.8,
      layers: 2,
    });
    const oneLayer = addRun(store, "fx-1l", config("fx-1l", TINY_1L, ["icl", "positionLoss", "heads", "tokenLoss"]), {
      drop: 0,
      bump: 0,
      induction: 0.02,
      layers: 1,
    });
    const lstm = addRun(store, "fx-lstm", config("fx-lstm", TINY_LSTM, ["icl"]), { drop: 0.02, bump: 0, induction: null, layers: 1 });

    // A real checkpoint of the 2-layer run (random weights: only its shapes matter here).
    const last = FIXTURE_TOKENS[FIXTURE_TOKENS.length - 1];
    const model = buildModel(parseModelConfig(TINY_2L), 3);
    const params: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, p] of model.params) params[name] = { data: p.data as Float32Array, shape: [...p.shape] };
    const saved = saveCheckpoint(join(store.runDir("fx-2l"), "checkpoints"), last, { params, extra: { step: 1 } });
    store.addCheckpoint("fx-2l", { tokens: last, step: 1, path: saved.path, sha256: saved.sha256 });
    return { lab, runs: { twoLayer, oneLayer, lstm } };
  } finally {
    store.close();
  }
}

function addRun(
  store: RunStore,
  id: string,
  cfg: ReturnType<typeof config>,
  shape: { drop: number; bump: number; induction: number | null; layers: number },
): FixtureRun {
  store.createRun({ id, experiment: FIXTURE_EXPERIMENT, kind: cfg.model.kind, config: cfg });
  const measures = new Set(cfg.measures);
  const run: FixtureRun = { id, icl: [], trainLoss: [] };
  const at = 3e5;
  FIXTURE_TOKENS.forEach((tokens, i) => {
    // ICL score: −0.05 before, −0.05 − drop after.
    const score = step(tokens, -0.05, -0.05 - shape.drop, at) + wiggle(i, 0.01);
    const loss50 = 3.2 - (0.4 * Math.log10(tokens / 1e4)) / 3;
    const icl = { tokens, score, lo: score - 0.03, hi: score + 0.03, se: 0.015, loss50, loss500: loss50 + score };
    run.icl.push(icl);
    // Training loss: convex in log tokens, plus a bump centred on the phase change.
    const x = Math.log10(tokens);
    const value = 2 + (0.5 * (7 - x) ** 2) / 3 + shape.bump * Math.exp(-(((x - Math.log10(at)) / 0.15) ** 2));
    run.trainLoss.push({ tokens, value });
    store.logMetrics(id, tokens, { [METRIC.trainLoss]: value, [METRIC.lr]: 1e-3, [METRIC.gradNorm]: 1, [METRIC.step]: i + 1, [METRIC.tokensPerSecond]: 5000 });
    // Stored as the trainer stores a measurement (icl.score, icl.lo, …).
    const { tokens: _, ...fields } = icl;
    storeResults(store, id, tokens, "icl", { ...fields, confidence: 0.95, nWindows: 64 });
    if (measures.has("positionLoss")) {
      const meanLoss = Array.from({ length: 64 }, (_, p) => loss50 + (score / Math.log(500 / 50)) * Math.log((p + 1) / 50));
      store.logVector(id, tokens, VECTOR.positionLoss, Float64Array.from(meanLoss), [64]);
      store.logVector(id, tokens, VECTOR.positionLossSe, new Float64Array(64).fill(0.01), [64]);
    }
    if (measures.has("heads") && shape.induction !== null) {
      const heads = [];
      for (let l = 0; l < shape.layers; l++) {
        for (let h = 0; h < 2; h++) {
          const best = l === shape.layers - 1 && h === 0;
          const induction = best ? step(tokens, 0.01, shape.induction, at) : 0.01 + 0.005 * h;
          heads.push({
            layer: l,
            head: h,
            induction,
            inductionTL: induction / 2,
            prefixMatching: best ? induction * 0.9 : 0.02,
            previousToken: l === 0 && h === 1 ? 0.7 : 0.05,
            copying: best ? 0.6 : -0.2,
            copyingRaw: best ? 0.4 : 0.2,
          });
        }
      }
      store.logJson(id, tokens, RECORD.heads, heads);
      store.logMetrics(id, tokens, { [METRIC.headsBos]: 0, [METRIC.headsNSequences]: 10 });
    }
    if (measures.has("tokenLoss")) {
      const losses = Array.from(
        { length: 20 },
        (_, w) => 3 - (w % 5 === 0 ? shape.drop * 2 : 0.1) * (1 / (1 + Math.exp(-(x - Math.log10(at)) / 0.25))) + 0.05 * Math.sin(w + x),
      );
      store.logVector(id, tokens, VECTOR.tokenLoss, Float64Array.from(losses), [20]);
      store.logVector(
        id,
        tokens,
        VECTOR.tokenLossIndices,
        Float64Array.from({ length: 20 }, (_, w) => w),
        [20],
      );
    }
  });
  const last = FIXTURE_TOKENS[FIXTURE_TOKENS.length - 1];
  if (measures.has("ablation")) {
    const clean = run.icl[run.icl.length - 1];
    store.logJson(id, last, RECORD.ablationClean, {
      score: clean.score,
      loss50: clean.loss50,
      loss500: clean.loss500,
      lo: clean.lo,
      hi: clean.hi,
      halfWidth: 0.03,
    });
    const effect = (delta: number) => ({ score: clean.score + delta, delta, deltaLo: delta - 0.02, deltaHi: delta + 0.02, share: -delta / clean.score });
    store.logJson(id, last, RECORD.ablationHeads, [
      { layer: 0, head: 0, zero: effect(0.01), pattern: effect(0.005) },
      { layer: 0, head: 1, zero: effect(0.2), pattern: effect(0.02) },
      { layer: 1, head: 0, zero: effect(0.35), pattern: effect(0.33) },
      { layer: 1, head: 1, zero: effect(-0.01), pattern: effect(-0.01) },
    ]);
  }
  if (measures.has("tasks")) {
    store.logJson(id, last, RECORD.tasks, [
      { name: "induction", chance: 0.25, shots: [0, 1, 2, 4], accuracy: [0.25, 0.5, 0.7, 0.9], answerLoss: [1.4, 1, 0.8, 0.5], nPrompts: 50 },
      { name: "kv-recall", chance: 0.125, shots: [0, 1, 2, 4], accuracy: [0.12, 0.3, 0.45, null], answerLoss: [2, 1.8, 1.5, null], nPrompts: 50 },
    ]);
  }
  store.heartbeat(id, last);
  store.setStatus(id, "finished");
  return run;
}
