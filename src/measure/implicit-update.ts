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
import type { ModelConfig } from "../model/config.ts";
import type { LanguageModel } from "../model/model.ts";
import { Rng } from "../util/random.ts";

type TransformerConfig = Extract<ModelConfig, { kind: "transformer" }>;

/** ops.layerNorm's default eps, which the transformer uses. */
const LN_EPS = 1e-5;
/** GPT-2's tanh approximation of GELU (the engine's gelu). */
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
}

function geluGrad(x: number): number {
  const th = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_C * (1 + 3 * GELU_A * x * x);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>, n = a.length, ao = 0, bo = 0): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
  return s;
}

function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** out[m] = x[n]·W[n, m] (+ bias), x read from x[xo..xo+n). */
function vecMat(x: ArrayLike<number>, xo: number, W: Float64Array, n: number, m: number, bias: Float64Array | null, out: Float64Array, oo = 0): void {
  for (let c = 0; c < m; c++) out[oo + c] = bias === null ? 0 : bias[c];
  for (let r = 0; r < n; r++) {
    const xr = x[xo + r];
    if (xr === 0) continue;
    const row = r * m;
    for (let c = 0; c < m; c++) out[oo + c] += xr * W[row + c];
  }
}

/** out[n] = W[n, m]·g[m] (the backward of vecMat with respect to x). */
function matVec(W: Float64Array, n: number, m: number, g: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) out[r] = dot(W, g, m, r * m, 0);
  return out;
}

/** Layer norm of x[xo..xo+n) into out[oo..): (x − mean)/√(var + eps)·γ + β, biased variance. */
function layerNormRow(x: ArrayLike<number>, xo: number, n: number, gamma: Float64Array, beta: Float64Array, out: Float64Array, oo = 0): void {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[xo + i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[xo + i] - mean) ** 2;
  const rstd = 1 / Math.sqrt(v / n + LN_EPS);
  for (let i = 0; i < n; i++) out[oo + i] = (x[xo + i] - mean) * rstd * gamma[i] + beta[i];
}

/** ∂/∂x of layer norm at x (n values), given the gradient gy of its output. */
function layerNormBackward(x: ArrayLike<number>, n: number, gamma: Float64Array, gy: ArrayLike<number>): Float64Array {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - mean) ** 2;
  const rstd = 1 / Math.sqrt(v / n + LN_EPS);
  const xhat = new Float64Array(n),
    gx = new Float64Array(n);
  let mg = 0,
    mgx = 0;
  for (let i = 0; i < n; i++) {
    xhat[i] = (x[i] - mean) * rstd;
    const g = gy[i] * gamma[i];
    mg += g;
    mgx += g * xhat[i];
  }
  mg /= n;
  mgx /= n;
  for (let i = 0; i < n; i++) gx[i] = rstd * (gy[i] * gamma[i] - mg - xhat[i] * mgx);
  return gx;
}

/** The activations of one block at every position, on the true (full-context) stream. */
export interface LayerTrace {
  /** Residual stream into the block [T, dModel] (hook_resid_pre). */
  x: Float64Array;
  /** Queries and keys after rotary and smearing, values [T, nHeads·dHead]. */
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  /** Attention output (after W_O, b_O) with the full causal context [T, dModel] (hook_attn_out). */
  a: Float64Array;
  /** x + a [T, dModel] (hook_resid_mid). */
  h: Float64Array;
  /** The MLP input LN2(h), or h without layer norm [T, dModel]. */
  u: Float64Array;
  /** MLP pre-activation [T, dMlp]. */
  pre: Float64Array;
  /** Block output [T, dModel] (hook_resid_post). */
  y: Float64Array;
}

export interface Trace {
  tokens: Int32Array;
  T: number;
  layers: LayerTrace[];
  /** The residual stream into the final layer norm [T, dModel]. */
  final: Float64Array;
  /** [T, dVocab]. */
  logits: Float64Array;
}

export interface ForwardOptions64 {
  /** Replace block `layer`'s output at every position by `y` [T, dModel] before the deeper layers. */
  replace?: { layer: number; y: Float64Array };
  /** Use this W_in [dModel, dMlp] for the MLP of `layer` at `position` only (finite-difference tests). */
  mlpWeights?: { layer: number; position: number; wIn: Float64Array };
}

/**
 * A float64 copy of a `transformer` model's parameters and its forward pass, with the pieces the
 * measurement needs: attention at one query over a window of keys, the patched block, and the
 * gradient of one position's loss with respect to a block's output at that position.
 */
export class Float64Transformer {
  readonly c: TransformerConfig;
  readonly d: number;
  readonly H: number;
  readonly D: number;
  readonly HD: number;
  readonly dMlp: number;
  readonly V: number;
  readonly L: number;
  private readonly p = new Map<string, Float64Array>();

  constructor(model: LanguageModel) {
    const c = model.config;
    if (c.kind !== "transformer") throw new Error(`implicitUpdate: the model must be a transformer (attention + MLP), found kind '${c.kind}'`);
    this.c = c;
    this.d = c.dModel;
    this.H = c.nHeads;
    this.D = c.dHead;
    this.HD = c.nHeads * c.dHead;
    this.dMlp = c.dMlp;
    this.V = c.dVocab;
    this.L = c.nLayers;
    for (const [name, t] of model.params) this.p.set(name, Float64Array.from(t.data));
  }

  param(name: string): Float64Array {
    const t = this.p.get(name);
    if (t === undefined) throw new Error(`implicitUpdate: the model has no parameter '${name}'`);
    return t;
  }

  private blk(l: number, name: string): Float64Array {
    return this.param(`blocks.${l}.${name}`);
  }

  /** Rotates head vectors of one token in place (GPT-NeoX halves), or its transpose when `inverse`. */
  private rotate(x: Float64Array, off: number, t: number, inverse: boolean): void {
    const D = this.D,
      half = D / 2;
    for (let h = 0; h < this.H; h++) {
      const o = off + h * D;
      for (let i = 0; i < half; i++) {
        const theta = t / Math.pow(10000, (2 * i) / D);
        const cs = Math.cos(theta),
          sn = inverse ? -Math.sin(theta) : Math.sin(theta);
        const x1 = x[o + i],
          x2 = x[o + i + half];
        x[o + i] = x1 * cs - x2 * sn;
        x[o + i + half] = x2 * cs + x1 * sn;
      }
    }
  }

  /** σ(α_h) of the smeared keys, per head. */
  private smear(l: number): Float64Array | null {
    if (!this.c.smearedKeys) return null;
    return this.blk(l, "attn.smear_alpha").map((a) => 1 / (1 + Math.exp(-a)));
  }

  /** The value input and query/key input of block l at position t, from the stream row x[xo..]. */
  private attnInputs(l: number, x: Float64Array, xo: number, t: number): { xv: Float64Array; xqk: Float64Array } {
    const d = this.d,
      c = this.c;
    const xv = new Float64Array(d);
    if (c.layerNorm) layerNormRow(x, xo, d, this.blk(l, "ln1.w"), this.blk(l, "ln1.b"), xv);
    else xv.set(x.subarray(xo, xo + d));
    if (c.positions === "shortformer") {
      const pos = this.param("pos_embed.W_pos"),
        xqk = new Float64Array(d);
      for (let i = 0; i < d; i++) xqk[i] = xv[i] + pos[t * d + i];
      return { xv, xqk };
    }
    if (c.positions === "shortformer-pre-ln") {
      const pos = this.param("pos_embed.W_pos"),
        s = new Float64Array(d),
        xqk = new Float64Array(d);
      for (let i = 0; i < d; i++) s[i] = x[xo + i] + pos[t * d + i];
      if (c.layerNorm) layerNormRow(s, 0, d, this.blk(l, "ln1.w"), this.blk(l, "ln1.b"), xqk);
      else xqk.set(s);
      return { xv, xqk };
    }
    return { xv, xqk: xv };
  }

  /**
   * Attention output (after W_O, b_O) of block l at query t over the keys from..t (from = t: the
   * query alone, the context masked; from = 0: the full causal context).
   */
  attend(l: number, tr: LayerTrace, t: number, from: number): Float64Array {
    const { H, D, HD } = this;
    const scale = 1 / Math.sqrt(D);
    const z = new Float64Array(HD),
      s = new Float64Array(t - from + 1);
    for (let h = 0; h < H; h++) {
      const qo = t * HD + h * D;
      let max = -Infinity;
      for (let i = from; i <= t; i++) {
        s[i - from] = dot(tr.q, tr.k, D, qo, i * HD + h * D) * scale;
        if (s[i - from] > max) max = s[i - from];
      }
      let sum = 0;
      for (let i = 0; i < s.length; i++) sum += s[i] = Math.exp(s[i] - max);
      for (let i = from; i <= t; i++) {
        const p = s[i - from] / sum,
          vo = i * HD + h * D;
        for (let e = 0; e < D; e++) z[h * D + e] += p * tr.v[vo + e];
      }
    }
    const a = new Float64Array(this.d);
    vecMat(z, 0, this.blk(l, "attn.W_O"), HD, this.d, this.blk(l, "attn.b_O"), a);
    return a;
  }

  /** The MLP input LN2(h) (h itself without layer norm). */
  mlpInput(l: number, h: ArrayLike<number>, ho = 0): Float64Array {
    const u = new Float64Array(this.d);
    if (this.c.layerNorm) layerNormRow(h, ho, this.d, this.blk(l, "ln2.w"), this.blk(l, "ln2.b"), u);
    else for (let i = 0; i < this.d; i++) u[i] = h[ho + i];
    return u;
  }

  /** MLP(u) = gelu(u·W_in + b_in)·W_out + b_out, with `wIn` instead of the layer's W_in when given. */
  mlp(l: number, u: ArrayLike<number>, uo = 0, wIn?: Float64Array, preOut?: Float64Array): Float64Array {
    const pre = preOut ?? new Float64Array(this.dMlp);
    vecMat(u, uo, wIn ?? this.blk(l, "mlp.W_in"), this.d, this.dMlp, this.blk(l, "mlp.b_in"), pre);
    const post = pre.map(gelu);
    const out = new Float64Array(this.d);
    vecMat(post, 0, this.blk(l, "mlp.W_out"), this.dMlp, this.d, this.blk(l, "mlp.b_out"), out);
    return out;
  }

  /** The forward pass of `tokens` (one sequence, T ≤ nCtx) with every block's activations. */
  forward(tokens: Int32Array, opts: ForwardOptions64 = {}): Trace {
    const { c, d, HD, dMlp, V } = this;
    const T = tokens.length;
    if (T < 1 || T > c.nCtx) throw new Error(`implicitUpdate: 'tokens' has ${T} tokens, expected 1..nCtx=${c.nCtx}`);
    for (const tok of tokens) {
      if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new Error(`implicitUpdate: token ${tok} is outside the vocabulary [0, ${V})`);
    }
    const WE = this.param("embed.W_E");
    let resid: Float64Array = new Float64Array(T * d);
    for (let t = 0; t < T; t++) resid.set(WE.subarray(tokens[t] * d, tokens[t] * d + d), t * d);
    if (c.positions === "learned") {
      const pos = this.param("pos_embed.W_pos");
      for (let i = 0; i < T * d; i++) resid[i] += pos[i];
    }
    const layers: LayerTrace[] = [];
    for (let l = 0; l < this.L; l++) {
      const x = resid;
      const q = new Float64Array(T * HD),
        k = new Float64Array(T * HD),
        v = new Float64Array(T * HD);
      for (let t = 0; t < T; t++) {
        const { xv, xqk } = this.attnInputs(l, x, t * d, t);
        vecMat(xqk, 0, this.blk(l, "attn.W_Q"), d, HD, this.blk(l, "attn.b_Q"), q, t * HD);
        vecMat(xqk, 0, this.blk(l, "attn.W_K"), d, HD, this.blk(l, "attn.b_K"), k, t * HD);
        vecMat(xv, 0, this.blk(l, "attn.W_V"), d, HD, this.blk(l, "attn.b_V"), v, t * HD);
        if (c.positions === "rotary") {
          this.rotate(q, t * HD, t, false);
          this.rotate(k, t * HD, t, false);
        }
      }
      const s = this.smear(l);
      if (s !== null) {
        // k_t ← σ(α)·k_t + (1 − σ(α))·k_{t−1} from the unsmeared keys; position 0 keeps its own.
        for (let t = T - 1; t >= 1; t--) {
          for (let h = 0; h < this.H; h++) {
            for (let e = 0; e < this.D; e++) {
              const i = t * HD + h * this.D + e;
              k[i] = s[h] * k[i] + (1 - s[h]) * k[i - HD];
            }
          }
        }
      }
      const tr: LayerTrace = {
        x,
        q,
        k,
        v,
        a: new Float64Array(T * d),
        h: new Float64Array(T * d),
        u: new Float64Array(T * d),
        pre: new Float64Array(T * dMlp),
        y: new Float64Array(T * d),
      };
      for (let t = 0; t < T; t++) {
        const a = this.attend(l, tr, t, 0);
        tr.a.set(a, t * d);
        for (let i = 0; i < d; i++) tr.h[t * d + i] = x[t * d + i] + a[i];
        const u = this.mlpInput(l, tr.h, t * d);
        tr.u.set(u, t * d);
        const mw = opts.mlpWeights;
        const wIn = mw !== undefined && mw.layer === l && mw.position === t ? mw.wIn : undefined;
        const m = this.mlp(l, u, 0, wIn, tr.pre.subarray(t * dMlp, (t + 1) * dMlp));
        for (let i = 0; i < d; i++) tr.y[t * d + i] = tr.h[t * d + i] + m[i];
      }
      layers.push(tr);
      resid = opts.replace !== undefined && opts.replace.layer === l ? Float64Array.from(opts.replace.y) : tr.y.slice();
    }
    const logits = new Float64Array(T * V);
    const WU = this.param("unembed.W_U"),
      bU = this.param("unembed.b_U");
    const xf = new Float64Array(d);
    for (let t = 0; t < T; t++) {
      if (c.layerNorm) layerNormRow(resid, t * d, d, this.param("ln_final.w"), this.param("ln_final.b"), xf);
      else xf.set(resid.subarray(t * d, t * d + d));
      vecMat(xf, 0, WU, d, V, bU, logits, t * V);
    }
    return { tokens, T, layers, final: resid, logits };
  }

  /** Next-token cross-entropy at position j (target `target`) from the trace's logits. */
  loss(tr: Trace, j: number, target: number): number {
    const V = this.V,
      o = j * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, tr.logits[o + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(tr.logits[o + v] - max);
    return Math.log(sum) + max - tr.logits[o + target];
  }

  /**
   * ∂loss_j/∂y: the gradient of the next-token loss at position j (target `target`) with respect
   * to block l's output y at position j. Exact: with causal attention the stream at j reaches the
   * loss at j only through position j of the deeper blocks (the keys and values of earlier
   * positions do not depend on it), so one position is backpropagated.
   */
  outputGrad(tr: Trace, l: number, j: number, target: number): Float64Array {
    const { d, V } = this;
    const o = j * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, tr.logits[o + v]);
    const p = new Float64Array(V);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += p[v] = Math.exp(tr.logits[o + v] - max);
    for (let v = 0; v < V; v++) p[v] /= sum;
    p[target] -= 1;
    let g = matVec(this.param("unembed.W_U"), d, V, p);
    if (this.c.layerNorm) g = layerNormBackward(tr.final.subarray(j * d, j * d + d), d, this.param("ln_final.w"), g);
    for (let m = this.L - 1; m > l; m--) g = this.blockBackward(tr.layers[m], m, j, g);
    return g;
  }

  /** Gradient with respect to block m's input at position j, given the gradient gy of its output there. */
  private blockBackward(tr: LayerTrace, m: number, j: number, gy: Float64Array): Float64Array {
    const { c, d, H, D, HD, dMlp } = this;
    // MLP: y = h + gelu(u·W_in + b_in)·W_out + b_out, u = LN2(h).
    const gpost = matVec(this.blk(m, "mlp.W_out"), dMlp, d, gy);
    for (let r = 0; r < dMlp; r++) gpost[r] *= geluGrad(tr.pre[j * dMlp + r]);
    let gu = matVec(this.blk(m, "mlp.W_in"), d, dMlp, gpost);
    const hj = tr.h.subarray(j * d, j * d + d);
    if (c.layerNorm) gu = layerNormBackward(hj, d, this.blk(m, "ln2.w"), gu);
    const gh = new Float64Array(d);
    for (let i = 0; i < d; i++) gh[i] = gy[i] + gu[i];
    // Attention at query j: a = z·W_O + b_O; only q_j, k_j, v_j depend on the stream at j.
    const gz = matVec(this.blk(m, "attn.W_O"), HD, d, gh);
    const scale = 1 / Math.sqrt(D);
    const s = this.smear(m);
    const gq = new Float64Array(HD),
      gk = new Float64Array(HD),
      gv = new Float64Array(HD);
    const p = new Float64Array(j + 1),
      gp = new Float64Array(j + 1);
    for (let h = 0; h < H; h++) {
      const qo = j * HD + h * D;
      let max = -Infinity;
      for (let i = 0; i <= j; i++) max = Math.max(max, (p[i] = dot(tr.q, tr.k, D, qo, i * HD + h * D) * scale));
      let sum = 0;
      for (let i = 0; i <= j; i++) sum += p[i] = Math.exp(p[i] - max);
      let mean = 0;
      for (let i = 0; i <= j; i++) {
        p[i] /= sum;
        gp[i] = dot(gz, tr.v, D, h * D, i * HD + h * D);
        mean += p[i] * gp[i];
      }
      for (let e = 0; e < D; e++) gv[h * D + e] = p[j] * gz[h * D + e];
      for (let i = 0; i <= j; i++) {
        const gs = p[i] * (gp[i] - mean) * scale;
        for (let e = 0; e < D; e++) gq[h * D + e] += gs * tr.k[i * HD + h * D + e];
        if (i === j) for (let e = 0; e < D; e++) gk[h * D + e] = gs * tr.q[qo + e];
      }
      // Smeared key at j = σ·k_j + (1 − σ)·k_{j−1}; at position 0 the key is k_0 itself.
      if (s !== null && j > 0) for (let e = 0; e < D; e++) gk[h * D + e] *= s[h];
    }
    if (c.positions === "rotary") {
      this.rotate(gq, 0, j, true);
      this.rotate(gk, 0, j, true);
    }
    const gqk = matVec(this.blk(m, "attn.W_Q"), d, HD, gq);
    const gk2 = matVec(this.blk(m, "attn.W_K"), d, HD, gk);
    for (let i = 0; i < d; i++) gqk[i] += gk2[i];
    const gxv = matVec(this.blk(m, "attn.W_V"), d, HD, gv);
    const xj = tr.x.subarray(j * d, j * d + d);
    const gx = Float64Array.from(gh);
    const lnBack = (x: ArrayLike<number>, g: Float64Array) => (c.layerNorm ? layerNormBackward(x, d, this.blk(m, "ln1.w"), g) : g);
    if (c.positions === "shortformer-pre-ln") {
      const pos = this.param("pos_embed.W_pos");
      const sx = Float64Array.from(xj, (v, i) => v + pos[j * d + i]);
      const a1 = lnBack(sx, gqk),
        a2 = lnBack(xj, gxv);
      for (let i = 0; i < d; i++) gx[i] += a1[i] + a2[i];
    } else {
      // shortformer adds W_pos after ln1 (a constant): the query/key input's gradient flows to ln1.
      for (let i = 0; i < d; i++) gxv[i] += gqk[i];
      const a = lnBack(xj, gxv);
      for (let i = 0; i < d; i++) gx[i] += a[i];
    }
    return gx;
  }

  /**
   * −∇_{W_in} of the next-token loss at position j through the MLP at position j of layer l, as
   * its rank-1 factors: ∇ = u_j ⊗ δ_j with δ_j = gelu'(pre_j) ⊙ (W_out·∂loss_j/∂y_j).
   */
  mlpGradient(tr: Trace, l: number, j: number, target: number): { u: Float64Array; delta: Float64Array } {
    const { d, dMlp } = this;
    const lt = tr.layers[l];
    const g = this.outputGrad(tr, l, j, target);
    const delta = matVec(this.blk(l, "mlp.W_out"), dMlp, d, g);
    for (let r = 0; r < dMlp; r++) delta[r] *= geluGrad(lt.pre[j * dMlp + r]);
    return { u: lt.u.slice(j * d, j * d + d), delta };
  }
}

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
  const patched = net.forward(tr.tokens, { replace: { layer: l, y } });
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
