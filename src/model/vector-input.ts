/**
 * Vector inputs: any architecture of model.ts over a sequence of vectors [B, T, dIn] instead of
 * token ids, through a linear input embedding `input.W_in` [dIn, dModel] + `input.b_in` [dModel]
 * that takes the place of the token embedding (hook_embed; positions are added as for tokens).
 * Outputs are the model's logits over dVocab classes (the labels of a classification task, or the
 * outputs of a regression read from them). Used by the in-context classification experiment
 * (src/experiments/data-distribution.ts) and meant for in-context regression too.
 *
 * The wrapped model's token embedding `embed.W_E` is unused here and left out of `params` (what an
 * optimizer updates): with it the model is the same LanguageModel as for tokens, bit for bit.
 * Initialisation: W_in ~ N(0, σ²) with σ = initScale · 0.8/√dModel, the token embedding's — an
 * input of norm ≈ 1 then has an embedding of the size of a token's; b_in = 0.
 */
import * as op from "../engine/ops/index.ts";
import { type Tensor, tensor, track } from "../engine/tensor.ts";
import type { ModelConfig } from "./config.ts";
import { ParamSet, matrixStd } from "./init.ts";
import { buildModel } from "./model.ts";
import type { ForwardOptions, ForwardResult, LanguageModel } from "./common.ts";

export interface VectorModel {
  readonly config: ModelConfig;
  readonly dIn: number;
  /** The wrapped model (its `params` include the unused embed.W_E). */
  readonly model: LanguageModel;
  /** The trainable parameters: the model's without embed.W_E, and input.W_in, input.b_in. */
  readonly params: ReadonlyMap<string, Tensor>;
  /** x: [B, T, dIn] (a Float32Array row-major, or a tensor, which may require a gradient). */
  forward(x: Float32Array | Tensor, batch: number, opts?: ForwardOptions): ForwardResult;
}

/** Builds a freshly initialised vector-input model (deterministic for a config, dIn and seed). */
export function buildVectorModel(config: ModelConfig, opts: { dIn: number; seed?: number }): VectorModel {
  const { dIn } = opts;
  if (!Number.isInteger(dIn) || dIn < 1) throw new Error(`buildVectorModel: 'dIn' must be a positive integer, found ${dIn}`);
  const seed = opts.seed ?? 0;
  const model = buildModel(config, seed);
  const forwardEmbeddings = model.forwardEmbeddings?.bind(model);
  if (forwardEmbeddings === undefined) throw new Error(`buildVectorModel: the ${config.kind} model has no forwardEmbeddings`);
  // A generator of its own, so that the wrapped model's parameters are those of buildModel(config, seed).
  const ps = new ParamSet(seed + 0x5eed_0001);
  ps.normal("input.W_in", [dIn, config.dModel], matrixStd(config.dModel, config.initScale));
  ps.constant("input.b_in", [config.dModel], 0);
  const params = new Map<string, Tensor>();
  for (const [name, p] of ps.params) params.set(name, p);
  for (const [name, p] of model.params) if (name !== "embed.W_E") params.set(name, p);
  return {
    config,
    dIn,
    model,
    params,
    forward(x, B, fopts = {}) {
      const shape = x instanceof Float32Array ? [B, x.length / (B * dIn), dIn] : x.shape;
      if (shape.length !== 3 || shape[0] !== B || shape[2] !== dIn || !Number.isInteger(shape[1]) || shape[1] < 1) {
        const found = x instanceof Float32Array ? `${x.length} values` : `[${x.shape.join(", ")}]`;
        throw new Error(`VectorModel.forward: 'x' must have shape [B=${B}, T, dIn=${dIn}], found ${found}`);
      }
      // A copy of a plain array, recorded so that releaseGraph() returns its buffer to the pool.
      const input = x instanceof Float32Array ? track(tensor(x, shape)) : x;
      const emb = op.add(op.matmul(input, ps.get("input.W_in")), ps.get("input.b_in")); // (B, T, dModel)
      return forwardEmbeddings(emb, fopts);
    },
  };
}
