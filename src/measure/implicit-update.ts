/**
 * The context's effect as an implicit rank-1 weight update (Dherin et al. 2025, "Learning without
 * training", arXiv 2507.16003; pre-LN residual form of Innocenti & Achour, arXiv 2512.11255), for
 * `transformer` models (pre-LN blocks, attention then MLP).
 *
 * At layer l and query position t (0-based: position 500 is index 499), with x the residual stream
 * into the block at t:
 *   a_C = attention output at t with its full causal context (keys 0..t),
 *   a_0 = attention output at t with the context masked out: the query attends only to itself
 *         (masked, not truncated: every position keeps its index, so positional terms are unchanged),
 *   u   = LN2(x + a) (u = x + a without layer norm), the MLP's input,
 *   ΔW_in = u_0 ⊗ ((u_C − u_0)·W_in) / ‖u_0‖²   [dModel, dMlp],
 *   Δb    = a_C − a_0                            [dModel], the residual (skip-path) patch.
 * Our W_in is [dModel, dMlp] and the MLP computes u·W_in (row vector u), so ΔW_in is the transpose
 * of the paper's ΔW₁ = W₁(u_C − u_0)u_0ᵀ/‖u_0‖² with W₁ = W_inᵀ [dMlp, dModel]. It is rank 1, and
 * u_0·(W_in + ΔW_in) = u_C·W_in exactly. The patched block without context,
 *   y' = (x + a_0) + Δb + MLP_{W_in + ΔW_in}(u_0),   u_0 = LN2(x + a_0),
 * therefore equals the block with context, y = (x + a_C) + MLP_{W_in}(u_C): Δb rides the skip path
 * only; the MLP reads the no-context input u_0 (adding Δb before LN2 would make ΔW_in zero).
 *
 * Which stream the layers see: the update of layer l is taken with every other layer as in the
 * model (the true stream: x is the true residual into block l, the deeper layers read the true
 * stream), and only layer l's attention at t is masked. So the identity check replaces, at layer l,
 * every position's block output by its patched no-context output and runs the rest of the network
 * once: the logits must equal the model's (max |Δ| ≤ 1e-10 in float64).
 *
 * Dynamics over the context: context of length i = the i tokens just before t (keys t−i..t, the
 * rest masked), a_i, u_i, ΔW_in(i), Δb(i); the marginal update ΔW_in(i+1) − ΔW_in(i) consumes the
 * token at j = t − i − 1. It is compared (cosine) with −∇_{W_in} of the next-token loss at j
 * (predicting token j + 1, which is inside the context), through that one MLP (the MLP at position
 * j of layer l, with everything else the model's), computed exactly by a single-position backward:
 * causal attention means the stream at j affects the loss at j only through position j.
 * Baseline: the mean |cosine| of random Gaussian matrices with the same gradients.
 *
 * Everything is float64 (a forward pass of its own from the model's float32 parameters; the
 * engine's model is float32): a measurement, not training. Conventions follow src/model/
 * transformer.ts exactly: layer norm eps 1e-5 with biased variance, GELU's tanh approximation,
 * positions `shortformer` | `learned` | `rotary` | `none` | `shortformer-pre-ln`, smeared keys.
 */
import type { LanguageModel } from "../model/model.ts";
import { Rng } from "../util/random.ts";
import { dot, norm, vecMat } from "./float64-ops.ts";
import { Float64Transformer, type Trace } from "./float64-transformer.ts";

export { Float64Transformer, type ForwardOptions64, type LayerTrace, type Trace } from "./float64-transformer.ts";

/** The patch of layer l at position t: ΔW_in [dModel, dMlp] (row-major) and Δb [dModel]. */
export interface Patch {
  dWin: Float64Array;
  db: Float64Array;
}

/** What the patch is made of at layer l, position t, with the context t − i..t − 1 (i = t: all). */
export interface PatchParts {
  a0: Float64Array;
  aC: Float64Array;
  u0: Float64Array;
  uC: Float64Array;
}

export function patchParts(net: Float64Transformer, tr: Trace, l: number, t: number, context = t): PatchParts {
  const lt = tr.layers[l],
    d = net.d;
  const a0 = net.attend(l, lt, t, t);
  const aC = context === t ? lt.a.slice(t * d, t * d + d) : net.attend(l, lt, t, t - context);
  const x = lt.x.subarray(t * d, t * d + d);
  const u0 = net.mlpInput(
    l,
    a0.map((v, i) => v + x[i]),
  );
  const uC = net.mlpInput(
    l,
    aC.map((v, i) => v + x[i]),
  );
  return { a0, aC, u0, uC };
}

/** ΔW_in = u_0 ⊗ ((u_C − u_0)·W_in)/‖u_0‖², Δb = a_C − a_0 (materialised). */
export function exactPatch(net: Float64Transformer, parts: PatchParts, l: number): Patch {
  return patchFrom(
    net,
    l,
    parts.u0,
    parts.uC,
    parts.u0,
    parts.aC.map((v, i) => v - parts.a0[i]),
  );
}

/** The rank-1 ΔW_in = left ⊗ ((uC − u0)·W_in)/‖left‖² with residual patch db (tests build wrong patches with it). */
export function patchFrom(net: Float64Transformer, l: number, u0: Float64Array, uC: Float64Array, left: Float64Array, db: Float64Array): Patch {
  const { d, dMlp } = net;
  const du = uC.map((v, i) => v - u0[i]);
  const m = new Float64Array(dMlp);
  vecMat(du, 0, net.param(`blocks.${l}.mlp.W_in`), d, dMlp, null, m);
  const n2 = dot(left, left);
  const dWin = new Float64Array(d * dMlp);
  for (let r = 0; r < d; r++) for (let c = 0; c < dMlp; c++) dWin[r * dMlp + c] = (left[r] * m[c]) / n2;
  return { dWin, db };
}

/**
 * The block output at t without context (query-only attention at layer l) with W_in + ΔW_in and
 * the residual patched by Δb: (x + a_0) + Δb + MLP_{W_in + ΔW_in}(LN2(x + a_0)).
 */
export function patchedBlockOutput(net: Float64Transformer, tr: Trace, l: number, t: number, patch: Patch): Float64Array {
  const lt = tr.layers[l],
    d = net.d;
  const a0 = net.attend(l, lt, t, t);
  const h0 = a0.map((v, i) => v + lt.x[t * d + i]);
  const wIn = net.param(`blocks.${l}.mlp.W_in`).map((w, i) => w + patch.dWin[i]);
  const m = net.mlp(l, net.mlpInput(l, h0), 0, wIn);
  return h0.map((v, i) => v + patch.db[i] + m[i]);
}

export type PatchFn = (net: Float64Transformer, parts: PatchParts, l: number) => Patch;

/**
 * The identity check of layer l: every position's block output replaced by its patched
 * no-context output, the deeper layers run on that stream. Max |Δ| of the block outputs and of the
 * logits against the model with context.
 */
export function identityCheck(net: Float64Transformer, tr: Trace, l: number, patchFn: PatchFn = exactPatch): { block: number; logits: number } {
  const d = net.d,
    T = tr.T;
  const y = new Float64Array(T * d);
  let block = 0;
  for (let t = 0; t < T; t++) {
    const yp = patchedBlockOutput(net, tr, l, t, patchFn(net, patchParts(net, tr, l, t), l));
    y.set(yp, t * d);
    for (let i = 0; i < d; i++) block = Math.max(block, Math.abs(yp[i] - tr.layers[l].y[t * d + i]));
  }
  const patched = net.forward(tr.tokens, { replace: { layer: l, y }, embeddings: tr.embeddings });
  let logits = 0;
  for (let i = 0; i < patched.logits.length; i++) logits = Math.max(logits, Math.abs(patched.logits[i] - tr.logits[i]));
  return { block, logits };
}

/** The implicit update of one query position as the context grows (index i: context length). */
export interface QueryDynamics {
  position: number;
  /** ‖ΔW_in(i)‖_F for i = 0..position. */
  normDW: number[];
  /** ‖Δb(i)‖ for i = 0..position. */
  normDb: number[];
  /** ‖ΔW_in(i+1) − ΔW_in(i)‖_F for i = 0..position − 1 (consumes token position − i − 1). */
  marginal: number[];
  /** cos(ΔW_in(i+1) − ΔW_in(i), −∇_{W_in} loss at token position − i − 1), i = 0..position − 1. */
  cosine: number[];
  /** Mean |cos(R, −∇)| over random Gaussian R, same gradients, i = 0..position − 1. */
  randomCosine: number[];
}

export interface LayerUpdate {
  layer: number;
  /** Identity check over every position: max |Δ| of the block output and of the logits. */
  identity: { block: number; logits: number };
  /** ‖ΔW_in‖_F and ‖Δb‖ with the full context, per position 0..T−1. */
  normDW: number[];
  normDb: number[];
  dynamics: QueryDynamics[];
}

export interface ImplicitUpdateOptions {
  /** Query positions whose dynamics over the context are measured (0-based; default none). */
  positions?: readonly number[];
  /** Random Gaussian matrices of the baseline, per layer (default 16). */
  draws?: number;
  seed?: number;
}

export interface ImplicitUpdateResult {
  T: number;
  layers: LayerUpdate[];
}

/**
 * The implicit update of every layer of a `transformer` model on one token sequence (T ≤ nCtx):
 * identity residuals, ‖ΔW_in‖_F and ‖Δb‖ per position, and the dynamics at `positions`.
 * Reads the parameters at call time (no caching across calls: training may have changed them).
 */
export function implicitUpdate(model: LanguageModel, tokens: Int32Array, opts: ImplicitUpdateOptions = {}): ImplicitUpdateResult {
  const net = new Float64Transformer(model);
  const tr = net.forward(tokens);
  const T = tr.T;
  const positions = opts.positions ?? [];
  for (const t of positions) {
    if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`implicitUpdate: position ${t} is outside the sequence [0, ${T})`);
  }
  const draws = opts.draws ?? 16;
  const rng = new Rng(opts.seed ?? 0);
  const { d, dMlp } = net;
  const layers: LayerUpdate[] = [];
  for (let l = 0; l < net.L; l++) {
    const identity = identityCheck(net, tr, l);
    const wIn = net.param(`blocks.${l}.mlp.W_in`);
    const normDW: number[] = [],
      normDb: number[] = [];
    const m = new Float64Array(dMlp);
    for (let t = 0; t < T; t++) {
      const { a0, aC, u0, uC } = patchParts(net, tr, l, t);
      vecMat(
        uC.map((v, i) => v - u0[i]),
        0,
        wIn,
        d,
        dMlp,
        null,
        m,
      );
      normDW.push(norm(m) / norm(u0)); // ‖u_0 ⊗ m‖_F/‖u_0‖² = ‖m‖/‖u_0‖
      normDb.push(norm(aC.map((v, i) => v - a0[i])));
    }
    // Per consumed token j: the gradient's factors and the random baseline (they do not depend on t).
    const maxT = positions.length === 0 ? 0 : Math.max(...positions);
    const grads: Array<{ u: Float64Array; delta: Float64Array; nu: number; nd: number }> = [];
    const randomCos: number[] = [];
    const R = Array.from({ length: draws }, () => Float64Array.from({ length: d * dMlp }, () => rng.normal()));
    const Rnorm = R.map(norm);
    for (let j = 0; j < maxT; j++) {
      const gr = net.mlpGradient(tr, l, j, tokens[j + 1]);
      const nu = norm(gr.u),
        nd = norm(gr.delta);
      grads.push({ ...gr, nu, nd });
      let acc = 0;
      for (let k = 0; k < draws; k++) {
        vecMat(gr.u, 0, R[k], d, dMlp, null, m);
        acc += Math.abs(dot(m, gr.delta)) / (Rnorm[k] * nu * nd);
      }
      randomCos.push(draws === 0 ? NaN : acc / draws);
    }
    const dynamics: QueryDynamics[] = [];
    for (const t of positions) {
      const q: QueryDynamics = { position: t, normDW: [], normDb: [], marginal: [], cosine: [], randomCosine: [] };
      const x = tr.layers[l].x.subarray(t * d, t * d + d);
      let prevU: Float64Array | null = null,
        u0: Float64Array | null = null,
        a0: Float64Array | null = null;
      for (let i = 0; i <= t; i++) {
        const a = net.attend(l, tr.layers[l], t, t - i);
        const u = net.mlpInput(
          l,
          a.map((v, e) => v + x[e]),
        );
        if (i === 0) {
          u0 = u;
          a0 = a;
        }
        const n0 = norm(u0!);
        vecMat(
          u.map((v, e) => v - u0![e]),
          0,
          wIn,
          d,
          dMlp,
          null,
          m,
        );
        q.normDW.push(norm(m) / n0);
        q.normDb.push(norm(a.map((v, e) => v - a0![e])));
        if (prevU !== null) {
          // Marginal update u_0 ⊗ ((u_i − u_{i−1})·W_in)/‖u_0‖², consuming token j = t − i.
          vecMat(
            u.map((v, e) => v - prevU![e]),
            0,
            wIn,
            d,
            dMlp,
            null,
            m,
          );
          const nm = norm(m);
          q.marginal.push(nm / n0);
          const j = t - i,
            g = grads[j];
          // cos(u_0 ⊗ m, −u_j ⊗ δ_j) = −(u_0·u_j)(m·δ_j)/(‖u_0‖‖m‖‖u_j‖‖δ_j‖)
          q.cosine.push(-(dot(u0!, g.u) * dot(m, g.delta)) / (n0 * nm * g.nu * g.nd));
          q.randomCosine.push(randomCos[j]);
        }
        prevU = u;
      }
      dynamics.push(q);
    }
    layers.push({ layer: l, identity, normDW, normDb, dynamics });
  }
  return { T, layers };
}

/** One layer's summary over sequences (the CLI's table). */
export interface LayerSummary {
  layer: number;
  /** Max identity residual over sequences and positions (block output, logits). */
  identityBlock: number;
  identityLogits: number;
  meanNormDW: number;
  meanNormDb: number;
  /** Mean marginal update at context lengths n = 1, 10, 100 (n = i + 1 tokens after the step), NaN when none. */
  marginalAt: Record<"1" | "10" | "100", number>;
  /** Least-squares slope of log marginal update vs log n over every query (−1: the paper's ~1/i). */
  decaySlope: number;
  /** Mean cosine and mean |cosine| of the marginal update with −∇, and the random baseline's mean |cosine|. */
  cosine: number;
  absCosine: number;
  randomAbsCosine: number;
}

export function summarizeImplicitUpdates(results: readonly ImplicitUpdateResult[]): LayerSummary[] {
  if (results.length === 0) return [];
  const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  return results[0].layers.map((_, l) => {
    const ls = results.map((r) => r.layers[l]);
    const at: Record<string, number[]> = { 1: [], 10: [], 100: [] };
    const lx: number[] = [],
      ly: number[] = [],
      cos: number[] = [],
      rnd: number[] = [];
    for (const lu of ls) {
      for (const q of lu.dynamics) {
        q.marginal.forEach((v, i) => {
          const n = i + 1;
          if (String(n) in at) at[n].push(v);
          if (v > 0 && Number.isFinite(v)) {
            lx.push(Math.log(n));
            ly.push(Math.log(v));
          }
        });
        cos.push(...q.cosine.filter(Number.isFinite));
        rnd.push(...q.randomCosine.filter(Number.isFinite));
      }
    }
    const mx = mean(lx),
      my = mean(ly);
    let sxy = 0,
      sxx = 0;
    for (let i = 0; i < lx.length; i++) {
      sxy += (lx[i] - mx) * (ly[i] - my);
      sxx += (lx[i] - mx) ** 2;
    }
    return {
      layer: l,
      identityBlock: Math.max(...ls.map((x) => x.identity.block)),
      identityLogits: Math.max(...ls.map((x) => x.identity.logits)),
      meanNormDW: mean(ls.flatMap((x) => x.normDW)),
      meanNormDb: mean(ls.flatMap((x) => x.normDb)),
      marginalAt: { 1: mean(at[1]), 10: mean(at[10]), 100: mean(at[100]) },
      decaySlope: sxx > 0 ? sxy / sxx : NaN,
      cosine: mean(cos),
      absCosine: mean(cos.map(Math.abs)),
      randomAbsCosine: mean(rnd),
    };
  });
}
