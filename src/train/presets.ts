/**
 * Named training configurations for `icl-lab train --preset NAME` (and for experiments that start
 * from one). Each is a plain training-config input (src/train/config.ts): `--set key=value`
 * overrides any field, and `dVocab` is left to the tokenizer.
 *
 * The anchor architecture is Olsson et al.'s small attention-only model scaled to a CPU: d_model
 * 256, 8 heads of 32, context 512, BPE 4,096 on the default corpus suite, batch 8. Token budgets are
 * what a 2-core machine trains in well under an hour (~8,000 tokens/s for the anchor); the phase
 * change may need more: raise `tokens`. `tiny` is the smoke test: 2 attention-only layers of width
 * 64 on bytes, ~30 s.
 */
import type { TrainConfigInput } from "./config.ts";

export interface Preset {
  description: string;
  config: TrainConfigInput;
}

const ANCHOR = { nLayers: 2, dModel: 256, nHeads: 8, dHead: 32, nCtx: 512 } as const;
const BPE = { tokenizer: { kind: "bpe" as const, vocab: 4096 }, evalWindows: 512 };
const OPTIM = { lr: 1e-3, warmupTokens: 400_000, schedule: "cosine" as const };

function anchor(name: string, model: Record<string, unknown>, measures: string[], tokens = 20_000_000): TrainConfigInput {
  return { name, model, data: BPE, optim: OPTIM, batch: 8, tokens, measures };
}

const ATTENTION_MEASURES = ["icl", "heads"];

export const PRESETS: Record<string, Preset> = {
  tiny: {
    description: "smoke test: attention-only, 2 layers, d_model 64, 4 heads × 16, context 512, bytes, 1M tokens (~30 s)",
    config: {
      name: "tiny",
      model: { kind: "attn-only", nLayers: 2, dModel: 64, nHeads: 4, dHead: 16, nCtx: 512 },
      data: { tokenizer: { kind: "byte" }, evalWindows: 64 },
      optim: { lr: 3e-3, warmupTokens: 40_960, schedule: "cosine" },
      batch: 8,
      tokens: 1_000_000,
      checkpoints: { perDecade: 4 },
      measures: ["icl"],
    },
  },
  "attn-1l": {
    description: "attention-only, 1 layer (no induction heads expected), anchor width, BPE 4096, 20M tokens",
    config: anchor("attn-1l", { kind: "attn-only", ...ANCHOR, nLayers: 1 }, ATTENTION_MEASURES),
  },
  "attn-2l": {
    description: "attention-only, 2 layers: the anchor model (d_model 256, 8 × 32, context 512), BPE 4096, 20M tokens",
    config: anchor("attn-2l", { kind: "attn-only", ...ANCHOR }, ATTENTION_MEASURES),
  },
  "attn-3l": {
    description: "attention-only, 3 layers, anchor width, BPE 4096, 20M tokens",
    config: anchor("attn-3l", { kind: "attn-only", ...ANCHOR, nLayers: 3 }, ATTENTION_MEASURES),
  },
  "attn-1l-smeared": {
    description: "attention-only, 1 layer with smeared keys (induction heads can form in one layer), 20M tokens",
    config: anchor("attn-1l-smeared", { kind: "attn-only", ...ANCHOR, nLayers: 1, smearedKeys: true }, ATTENTION_MEASURES),
  },
  "attn-2l-smeared": {
    description: "attention-only, 2 layers with smeared keys, 20M tokens",
    config: anchor("attn-2l-smeared", { kind: "attn-only", ...ANCHOR, smearedKeys: true }, ATTENTION_MEASURES),
  },
  "transformer-2l": {
    description: "attention + MLP (d_mlp 1024), 2 layers, anchor width, BPE 4096, 20M tokens",
    config: anchor("transformer-2l", { kind: "transformer", ...ANCHOR, dMlp: 1024 }, ATTENTION_MEASURES),
  },
  "mlp-only": {
    description: "no attention: 2 MLP layers over the current token only (no ICL by construction), 20M tokens",
    config: anchor("mlp-only", { kind: "mlp-only", nLayers: 2, dModel: 256, dMlp: 1024, nCtx: 512 }, ["icl"]),
  },
  lstm: {
    description: "LSTM, 1 layer, d_model 256, hidden 512, context 512, BPE 4096, 20M tokens",
    config: anchor("lstm", { kind: "lstm", nLayers: 1, dModel: 256, dHidden: 512, nCtx: 512 }, ["icl"]),
  },
  rnn: {
    description: "vanilla tanh RNN, 1 layer, d_model 256, hidden 512, context 512, BPE 4096, 20M tokens",
    config: anchor("rnn", { kind: "rnn", nLayers: 1, dModel: 256, dHidden: 512, nCtx: 512 }, ["icl"]),
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);

/** A fresh copy of a preset's config (safe to modify); an unknown name is an error listing the known ones. */
export function presetConfig(name: string): Record<string, unknown> {
  if (!Object.hasOwn(PRESETS, name)) throw new Error(`unknown preset '${name}' (known: ${PRESET_NAMES.join(", ")})`);
  return structuredClone(PRESETS[name].config) as Record<string, unknown>;
}
