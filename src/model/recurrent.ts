/**
 * Recurrent language models: LSTM and vanilla (tanh) RNN, stacked nLayers deep, over token
 * embeddings, with an unembedding from the last layer's hidden state. No positional embeddings
 * (position is implicit in the recurrence) and no layer norm.
 *
 * Parameters (layouts; export.ts documents the PyTorch nn.LSTM/nn.RNN equivalents):
 *   embed.W_E [dVocab, dModel]
 *   lstm.{l}.W_ih [dIn, 4·dHidden]  lstm.{l}.W_hh [dHidden, 4·dHidden]  lstm.{l}.b [4·dHidden]
 *     (gate order i, f, g, o; dIn = dModel for l = 0, else dHidden; PyTorch's weight_ih_l{l} is
 *     W_ihᵀ, its bias_ih + bias_hh is b)
 *   rnn.{l}.W_ih [dIn, dHidden]     rnn.{l}.W_hh [dHidden, dHidden]      rnn.{l}.b [dHidden]
 *   unembed.W_U [dHidden, dVocab]   unembed.b_U [dVocab]
 */
import * as op from "../engine/ops/index.ts";
import { Tensor, allocZeros, track } from "../engine/tensor.ts";
import type { ModelConfig } from "./config.ts";
import { ParamSet } from "./init.ts";
import { recurrentHook } from "./hooks.ts";
import { addEmbeddings, addUnembed, embedTokens, languageModel, type LanguageModel } from "./common.ts";

type Lstm = Extract<ModelConfig, { kind: "lstm" }>;
type Rnn = Extract<ModelConfig, { kind: "rnn" }>;

function recurrentModel(c: Lstm | Rnn, seed: number): LanguageModel {
  const cell = c.kind; // "lstm" | "rnn"
  const gates = cell === "lstm" ? 4 : 1;
  const H = c.dHidden;
  const ps = new ParamSet(seed);
  addEmbeddings(ps, c, false);
  const bound = 1 / Math.sqrt(H);
  for (let l = 0; l < c.nLayers; l++) {
    const dIn = l === 0 ? c.dModel : H;
    ps.uniform(`${cell}.${l}.W_ih`, [dIn, gates * H], bound);
    ps.uniform(`${cell}.${l}.W_hh`, [H, gates * H], bound);
    ps.uniform(`${cell}.${l}.b`, [gates * H], bound);
  }
  addUnembed(ps, { dModel: H, dVocab: c.dVocab, initScale: c.initScale, layerNorm: false });
  return languageModel(c, ps, false, (tokens, pass) => {
    const { B } = pass;
    const emb = embedTokens(ps, tokens, pass, "none");
    let x = op.permute(emb, [1, 0, 2]); // (T, B, d): the recurrence runs over time
    for (let l = 0; l < c.nLayers; l++) {
      const xw = op.add(op.matmul(x, ps.get(`${cell}.${l}.W_ih`)), ps.get(`${cell}.${l}.b`));
      const h0 = track(new Tensor(allocZeros(B * H), [B, H]));
      if (cell === "lstm") {
        const c0 = track(new Tensor(allocZeros(B * H), [B, H]));
        x = op.lstm(xw, ps.get(`${cell}.${l}.W_hh`), h0, c0);
      } else {
        x = op.rnn(xw, ps.get(`${cell}.${l}.W_hh`), h0);
      }
      pass.hook(recurrentHook(cell, l), x, (h) => op.permute(h, [1, 0, 2])); // [B, T, dHidden]
    }
    return op.permute(x, [1, 0, 2]); // (B, T, H)
  });
}

export function buildLstm(c: Lstm, seed: number): LanguageModel {
  return recurrentModel(c, seed);
}

export function buildRnn(c: Rnn, seed: number): LanguageModel {
  return recurrentModel(c, seed);
}
