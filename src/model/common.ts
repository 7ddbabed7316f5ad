/**
 * What every architecture shares, below the builders: the model interface and its hook options,
 * the input check, the per-forward hook pass, the embedding and unembedding parameters and
 * computation, and `languageModel`, which wraps an architecture's body into a LanguageModel.
 * transformer.ts and recurrent.ts build on it; model.ts dispatches to them and re-exports the
 * interface, so the three never import each other in a circle.
 */
import * as op from "../engine/ops/index.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { ModelConfig } from "./config.ts";
import { type ParamSet, matrixStd } from "./init.ts";
import { checkHookNames, HOOK_EMBED, HOOK_LN_FINAL, HOOK_POS_EMBED } from "./hooks.ts";

export interface HeadRef {
  layer: number;
  head: number;
}

export interface HookOptions {
  /** Hook names whose tensors are returned in `cache` (valid until the graph is released). */
  capture?: readonly string[];
  /** Heads whose output (z) is zeroed: zero-ablation. */
  ablate?: readonly HeadRef[];
  /**
   * Attention patterns to use instead of computed ones, by layer ([B, H, T, T] each): with
   * `ablate`, this is the pattern-preserving ablation (patterns frozen from a clean run).
   */
  patterns?: ReadonlyMap<number, Tensor>;
}

export interface ForwardOptions {
  /** Flat positions b·T + t whose logits are wanted; all positions when omitted. */
  positions?: Int32Array;
  hooks?: HookOptions;
}

export interface ForwardResult {
  /** [B, T, dVocab], or [positions.length, dVocab] when positions were given. */
  logits: Tensor;
  cache: Map<string, Tensor>;
}

export interface LanguageModel {
  readonly config: ModelConfig;
  /** Parameters by canonical name (see init.ts for names, shapes and initialisation). */
  readonly params: ReadonlyMap<string, Tensor>;
  forward(tokens: Int32Array, batch: number, opts?: ForwardOptions): ForwardResult;
  /**
   * The same forward pass from input embeddings `x` [B, T, dModel] instead of token ids: `x`
   * takes the place of the token embedding (hook_embed; positions are added as for tokens). The
   * entry point of vector inputs (src/model/vector-input.ts: items as vectors through a linear
   * input embedding); the gradient reaches `x` when it requires one. Every built architecture has
   * it (optional only so that stand-in models in tests need not).
   */
  forwardEmbeddings?(x: Tensor, opts?: ForwardOptions): ForwardResult;
}

/** What an architecture's body reads: token ids, or input embeddings [B, T, dModel] (forwardEmbeddings). */
export type ModelInput = Int32Array | Tensor;

export type Builder<C extends ModelConfig = ModelConfig> = (config: C, seed: number) => LanguageModel;

/** Validates tokens for a forward pass and returns T. */
export function checkTokens(config: ModelConfig, tokens: Int32Array, batch: number): number {
  if (!Number.isInteger(batch) || batch < 1 || tokens.length % batch !== 0) {
    throw new Error(`forward: ${tokens.length} tokens cannot be split into batch=${batch} rows`);
  }
  const T = tokens.length / batch;
  if (T > config.nCtx) throw new Error(`forward: sequence length ${T} exceeds the model's nCtx=${config.nCtx}`);
  return T;
}

export function addEmbeddings(ps: ParamSet, c: { dVocab: number; dModel: number; nCtx: number; initScale: number }, positional: boolean): void {
  const std = matrixStd(c.dModel, c.initScale);
  ps.normal("embed.W_E", [c.dVocab, c.dModel], std);
  if (positional) ps.normal("pos_embed.W_pos", [c.nCtx, c.dModel], std);
}

export function addUnembed(ps: ParamSet, c: { dModel: number; dVocab: number; initScale: number; layerNorm: boolean }): void {
  if (c.layerNorm) {
    ps.constant("ln_final.w", [c.dModel], 1);
    ps.constant("ln_final.b", [c.dModel], 0);
  }
  ps.normal("unembed.W_U", [c.dModel, c.dVocab], matrixStd(c.dModel, c.initScale));
  ps.constant("unembed.b_U", [c.dVocab], 0);
}

/** Per-forward state shared by the blocks. */
export class Pass {
  readonly cache = new Map<string, Tensor>();
  private readonly want: Set<string>;
  constructor(
    readonly B: number,
    readonly T: number,
    readonly hooks: HookOptions,
    config: ModelConfig,
  ) {
    checkHookNames(config, hooks.capture ?? []);
    this.want = new Set(hooks.capture ?? []);
  }
  wants(name: string): boolean {
    return this.want.has(name);
  }
  /**
   * Records `t` under hook `name` when it was asked for, as `view(t)` when given (the
   * TransformerLens shape of a tensor the kernels keep in another layout); returns `t`.
   */
  hook(name: string, t: Tensor, view?: (t: Tensor) => Tensor): Tensor {
    if (this.want.has(name)) this.cache.set(name, view === undefined ? t : view(t));
    return t;
  }
}

export function ln(ps: ParamSet, prefix: string, x: Tensor, enabled: boolean): Tensor {
  return enabled ? op.layerNorm(x, ps.get(`${prefix}.w`), ps.get(`${prefix}.b`)) : x;
}

/** Final layer norm and unembedding, at all positions or at the requested flat positions. */
export function unembed(ps: ParamSet, resid: Tensor, layerNorm: boolean, pass: Pass, positions: Int32Array | undefined): Tensor {
  const [B, T, d] = resid.shape;
  let x = resid;
  if (positions !== undefined) x = op.gatherRows(op.reshape(resid, [B * T, d]), positions);
  if (layerNorm) x = pass.hook(HOOK_LN_FINAL, ln(ps, "ln_final", x, true));
  return op.add(op.matmul(x, ps.get("unembed.W_U")), ps.get("unembed.b_U"));
}

/**
 * Token embeddings (hook_embed; given embeddings [B, T, dModel] are used as they are), plus the position embeddings (hook_pos_embed) when `positions`
 * is "residual" (learned positions); "none" adds none here (rotary, none, and shortformer, whose
 * positions enter the attention blocks: hook_pos_embed still shows them, as TransformerLens does).
 */
export function embedTokens(ps: ParamSet, tokens: ModelInput, pass: Pass, positions: "residual" | "shortformer" | "none"): Tensor {
  const { B, T } = pass;
  const x = pass.hook(HOOK_EMBED, tokens instanceof Int32Array ? op.embedding(ps.get("embed.W_E"), tokens, [B, T]) : tokens);
  if (positions === "none") return x;
  const pos = op.slice(ps.get("pos_embed.W_pos"), 0, 0, T);
  // [B, T, d], as TransformerLens shows it: one copy of W_pos[:T] per batch row.
  pass.hook(HOOK_POS_EMBED, pos, (p) =>
    op.concat(
      Array.from({ length: B }, () => op.reshape(p, [1, T, p.shape[1]])),
      0,
    ),
  );
  return positions === "residual" ? op.add(x, pos) : x;
}

/**
 * A LanguageModel from its parameters and a body that maps (tokens, pass) to the final residual
 * stream [B, T, d]; the shared part (input checks, the hook pass, the unembedding at all or the
 * requested positions) is here once for every architecture.
 */
export function languageModel(c: ModelConfig, ps: ParamSet, finalLayerNorm: boolean, body: (tokens: ModelInput, pass: Pass) => Tensor): LanguageModel {
  return {
    config: c,
    params: ps.params,
    forward(tokens: Int32Array, B: number, opts: ForwardOptions = {}): ForwardResult {
      const pass = new Pass(B, checkTokens(c, tokens, B), opts.hooks ?? {}, c);
      const resid = body(tokens, pass);
      return { logits: unembed(ps, resid, finalLayerNorm, pass, opts.positions), cache: pass.cache };
    },
    forwardEmbeddings(x: Tensor, opts: ForwardOptions = {}): ForwardResult {
      const [B, T] = checkEmbeddings(c, x);
      const pass = new Pass(B, T, opts.hooks ?? {}, c);
      const resid = body(x, pass);
      return { logits: unembed(ps, resid, finalLayerNorm, pass, opts.positions), cache: pass.cache };
    },
  };
}

/** Validates input embeddings [B, T, dModel] for a forward pass and returns [B, T]. */
export function checkEmbeddings(config: ModelConfig, x: Tensor): [number, number] {
  if (x.rank !== 3 || x.shape[2] !== config.dModel || x.shape[0] < 1 || x.shape[1] < 1) {
    throw new Error(`forwardEmbeddings: 'x' must have shape [B, T, dModel=${config.dModel}], found [${x.shape.join(", ")}]`);
  }
  if (x.shape[1] > config.nCtx) throw new Error(`forwardEmbeddings: sequence length ${x.shape[1]} exceeds the model's nCtx=${config.nCtx}`);
  return [x.shape[0], x.shape[1]];
}
