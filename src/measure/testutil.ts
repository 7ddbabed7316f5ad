/** Tiny models and windows for the measure tests (reference backend, seconds for the suite). */
import { useBackend } from "../engine/backend.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { parseModelConfig, type ModelConfig } from "../model/config.ts";
import { buildModel, type LanguageModel } from "../model/model.ts";
import { Rng } from "../util/random.ts";

/** The measure tests run on the reference kernels: the oracle, available everywhere. */
export function useReference(): void {
  useBackend(referenceKernels);
}

export const TINY: Record<ModelConfig["kind"], Record<string, unknown>> = {
  "attn-only": { kind: "attn-only", nLayers: 2, dModel: 16, nHeads: 2, dHead: 8, nCtx: 32, dVocab: 24 },
  transformer: { kind: "transformer", nLayers: 1, dModel: 16, nHeads: 2, dHead: 8, dMlp: 32, nCtx: 32, dVocab: 24 },
  "mlp-only": { kind: "mlp-only", nLayers: 1, dModel: 16, dMlp: 32, nCtx: 32, dVocab: 24 },
  lstm: { kind: "lstm", nLayers: 1, dModel: 16, dHidden: 16, nCtx: 32, dVocab: 24 },
  rnn: { kind: "rnn", nLayers: 1, dModel: 16, dHidden: 16, nCtx: 32, dVocab: 24 },
};

export function tinyModel(kind: ModelConfig["kind"], overrides: Record<string, unknown> = {}, seed = 1): LanguageModel {
  return buildModel(parseModelConfig({ ...TINY[kind], ...overrides }), seed);
}

/** n windows of `length` i.i.d. uniform tokens in [0, vocab). */
export function randomWindows(n: number, length: number, vocab: number, seed = 0): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n * length }, () => rng.int(vocab));
}
