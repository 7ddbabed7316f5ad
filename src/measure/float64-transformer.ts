/**
 * A float64 forward pass of a `transformer` model (pre-LN blocks, attention then MLP) from its float32
 * parameters, for the implicit-update measurement (implicit-update.ts, whose doc comment gives the
 * definitions): attention at one query over a window of keys, the patched block, and the gradient of
 * one position's loss with respect to a block's output at that position. Conventions follow
 * src/model/transformer.ts exactly: positions `shortformer` | `learned` | `rotary` | `none` |
 * `shortformer-pre-ln`, smeared keys.
 */
import type { ModelConfig } from "../model/config.ts";
import type { LanguageModel } from "../model/model.ts";
import { gelu, geluGrad, dot, vecMat, matVec, layerNormRow, layerNormBackward } from "./float64-ops.ts";

type TransformerConfig = Extract<ModelConfig, { kind: "transformer" }>;

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
  /** The input embeddings the pass started from, when given (ForwardOptions64.embeddings). */
  embeddings?: Float64Array;
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
  /** Input embeddings [T, dModel] in place of the token embedding (vector inputs: src/model/vector-input.ts); positions are added as for tokens. */
  embeddings?: Float64Array;
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
    if (opts.embeddings !== undefined) {
      if (opts.embeddings.length !== T * d) throw new Error(`implicitUpdate: 'embeddings' has ${opts.embeddings.length} values, expected T·dModel = ${T * d}`);
      resid.set(opts.embeddings);
    } else for (let t = 0; t < T; t++) resid.set(WE.subarray(tokens[t] * d, tokens[t] * d + d), t * d);
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
    return { tokens, embeddings: opts.embeddings, T, layers, final: resid, logits };
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
