/**
 * The contextual blocks of the implicit-dynamics measurement (src/measure/implicit-dynamics.ts,
 * whose file comment defines u, W, ΔW and the GD comparison): for one in-context regression
 * sequence, the input u of W at the query as examples are added to the context, the patched
 * no-context prediction, the model's own prediction, and the gradient of one example's loss with
 * respect to W. A 1-layer pre-LN transformer (W = the MLP's W_in, plus the residual patch Δb) and an
 * LSTM or tanh RNN (W = the prediction's readout column of W_U). Float64 from the float32 weights.
 */
import { contextPositions, queryPosition, queryToken, type RegressionBatch } from "../data/synthetic/regression.ts";
import type { VectorModel } from "../model/vector-input.ts";
import { dot, vecMat, matVec, geluGrad, layerNormRow, layerNormBackward } from "./float64-ops.ts";
import { Float64Transformer, type Trace } from "./implicit-update.ts";

/** One sequence's contextual block: what the dynamics need, whatever the architecture. */
export interface BlockProbe {
  /** W [rows, cols], row-major (u·W). */
  W: Float64Array;
  rows: number;
  cols: number;
  /** The input of W at the query with the first i pairs in context (i = 0: none). */
  u(i: number): Float64Array;
  /** Residual patch Δb(i) (transformer), or null. */
  db(i: number): Float64Array | null;
  /** The no-context query's prediction with W replaced by `W` and the residual patched by `db`. */
  predictQuery(W: Float64Array, db: Float64Array | null): number;
  /** The model's own prediction at the query with i pairs in context. */
  direct(i: number): number;
  /** ∇_W ½(ŷ_j − y_j)² of example j (1-based) read without context, as factors u ⊗ δ. */
  exampleGrad(j: number, W: Float64Array): { u: Float64Array; delta: Float64Array };
}

export const outerAdd = (W: Float64Array, a: ArrayLike<number>, b: ArrayLike<number>, s: number, cols: number) => {
  for (let r = 0; r < a.length; r++) {
    const v = s * a[r];
    if (v !== 0) for (let c = 0; c < cols; c++) W[r * cols + c] += v * b[c];
  }
};

/** The probe of a 1-layer vector-input transformer on one sequence (see the file comment). */
export function transformerProbe(
  model: VectorModel,
  s: RegressionBatch,
  net = new Float64Transformer(model.model),
): { probe: BlockProbe; net: Float64Transformer; trace: Trace } {
  if (net.L !== 1) throw new Error(`implicitDynamics: the transformer must have 1 layer (the paper's single block), found ${net.L}`);
  const d = net.d,
    T = s.T,
    N = s.context,
    t = queryPosition(s.format, N),
    V = net.V;
  const Win = model.params.get("input.W_in")!,
    bin = model.params.get("input.b_in")!;
  const Win64 = Float64Array.from(Win.data),
    bin64 = Float64Array.from(bin.data);
  const emb = new Float64Array(T * d);
  for (let p = 0; p < T; p++) vecMat(s.inputs, p * s.dIn, Win64, s.dIn, d, bin64, emb, p * d);
  const trace = net.forward(new Int32Array(T), { embeddings: emb });
  const lt = trace.layers[0];
  const W = net.param("blocks.0.mlp.W_in"),
    WO = net.param("blocks.0.attn.W_O"),
    bO = net.param("blocks.0.attn.b_O"),
    WU = net.param("unembed.W_U"),
    bU = net.param("unembed.b_U");
  const wu0 = Float64Array.from({ length: d }, (_, e) => WU[e * V]);
  const lnf = net.c.layerNorm ? { w: net.param("ln_final.w"), b: net.param("ln_final.b") } : null;
  /** Attention at query t over keys 0..nKeys−1 and t itself. */
  const attendPrefix = (q: number, nKeys: number): Float64Array => {
    const { H, D, HD } = net;
    const keys = [...Array.from({ length: Math.min(nKeys, q) }, (_, k) => k), q];
    const z = new Float64Array(HD);
    for (let h = 0; h < H; h++) {
      const sc = keys.map((k) => dot(lt.q, lt.k, D, q * HD + h * D, k * HD + h * D) / Math.sqrt(D));
      const mx = Math.max(...sc);
      const ex = sc.map((v) => Math.exp(v - mx));
      const sum = ex.reduce((a, b) => a + b, 0);
      keys.forEach((k, i) => {
        for (let e = 0; e < D; e++) z[h * D + e] += (ex[i] / sum) * lt.v[k * HD + h * D + e];
      });
    }
    const a = new Float64Array(d);
    vecMat(z, 0, WO, HD, d, bO, a);
    return a;
  };
  const readout = (out: Float64Array): number => {
    let f = out;
    if (lnf !== null) {
      f = new Float64Array(d);
      layerNormRow(out, 0, d, lnf.w, lnf.b, f);
    }
    return dot(f, wu0) + bU[0];
  };
  const xq = lt.x.subarray(t * d, t * d + d);
  const aCache = new Map<number, Float64Array>();
  const a = (i: number) => {
    if (!aCache.has(i)) aCache.set(i, attendPrefix(t, contextPositions(s.format, i).length));
    return aCache.get(i)!;
  };
  const uAt = (i: number) =>
    net.mlpInput(
      0,
      a(i).map((v, e) => v + xq[e]),
    );
  const u0 = uAt(0);
  const h0 = a(0).map((v, e) => v + xq[e]);
  // Examples read without context: (x_j, 0) in the query's place, attending to itself only.
  const ex = Array.from({ length: N }, (_, j) => {
    const e2 = Float64Array.from(emb);
    vecMat(queryToken(s, j + 1), 0, Win64, s.dIn, d, bin64, e2, t * d);
    const lj = net.forward(new Int32Array(T), { embeddings: e2 }).layers[0];
    const x = lj.x.subarray(t * d, t * d + d);
    const h = net.attend(0, lj, t, t).map((v, e) => v + x[e]);
    return { h, u: net.mlpInput(0, h), y: s.targets[j] };
  });
  const probe: BlockProbe = {
    W,
    rows: d,
    cols: net.dMlp,
    u: uAt,
    db: (i) => a(i).map((v, e) => v - a(0)[e]),
    predictQuery: (Wp, db) => {
      const m = net.mlp(0, u0, 0, Wp);
      return readout(h0.map((v, e) => v + (db === null ? 0 : db[e]) + m[e]));
    },
    direct: (i) => {
      const m = net.mlp(0, uAt(i));
      return readout(a(i).map((v, e) => v + xq[e] + m[e]));
    },
    exampleGrad: (j, Wp) => {
      const { h, u, y } = ex[j - 1];
      const pre = new Float64Array(net.dMlp);
      const m = net.mlp(0, u, 0, Wp, pre);
      const out = h.map((v, e) => v + m[e]);
      const r = readout(out) - y;
      let g: Float64Array = wu0.map((v) => r * v);
      if (lnf !== null) g = layerNormBackward(out, d, lnf.w, g);
      const delta = matVec(net.param("blocks.0.mlp.W_out"), net.dMlp, d, g);
      for (let c = 0; c < net.dMlp; c++) delta[c] *= geluGrad(pre[c]);
      return { u, delta };
    },
  };
  return { probe, net, trace };
}

/** The probe of a vector-input LSTM or tanh RNN on one sequence: W = the readout W_U (file comment). */
export function recurrentProbe(model: VectorModel, s: RegressionBatch): BlockProbe {
  const c = model.config;
  if (c.kind !== "lstm" && c.kind !== "rnn") throw new Error(`recurrentProbe: the model must be an lstm or rnn, found kind '${c.kind}'`);
  const P = (name: string) => Float64Array.from(model.params.get(name)!.data);
  const H = c.dHidden,
    V = c.dVocab,
    gates = c.kind === "lstm" ? 4 : 1,
    N = s.context;
  const Win = P("input.W_in"),
    bin = P("input.b_in");
  const layers = Array.from({ length: c.nLayers }, (_, l) => ({ Wih: P(`${c.kind}.${l}.W_ih`), Whh: P(`${c.kind}.${l}.W_hh`), b: P(`${c.kind}.${l}.b`) }));
  const WU = P("unembed.W_U"),
    bU = P("unembed.b_U");
  const W = Float64Array.from({ length: H }, (_, e) => WU[e * V]); // column 0: the prediction's readout
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  /** The last layer's hidden state after the input vectors `inputs` (in order) from a zero state. */
  const run = (inputs: ArrayLike<number>[]): Float64Array => {
    let xs: Float64Array[] = inputs.map((v) => {
      const e = new Float64Array(c.dModel);
      vecMat(v, 0, Win, s.dIn, c.dModel, bin, e);
      return e;
    });
    for (const L of layers) {
      let h = new Float64Array(H);
      const cell = new Float64Array(H);
      const out: Float64Array[] = [];
      const z = new Float64Array(gates * H);
      for (const x of xs) {
        vecMat(x, 0, L.Wih, x.length, gates * H, L.b, z);
        const zh = new Float64Array(gates * H);
        vecMat(h, 0, L.Whh, H, gates * H, null, zh);
        for (let k = 0; k < z.length; k++) z[k] += zh[k];
        const hn = new Float64Array(H);
        for (let j = 0; j < H; j++) {
          if (gates === 1) hn[j] = Math.tanh(z[j]);
          else {
            // Gate order i, f, g, o (src/model/recurrent.ts).
            cell[j] = sig(z[H + j]) * cell[j] + sig(z[j]) * Math.tanh(z[2 * H + j]);
            hn[j] = sig(z[3 * H + j]) * Math.tanh(cell[j]);
          }
        }
        h = hn;
        out.push(h);
      }
      xs = out;
    }
    return xs[xs.length - 1];
  };
  const at = (p: number) => s.inputs.subarray(p * s.dIn, (p + 1) * s.dIn);
  const query = at(queryPosition(s.format, N));
  const cache = new Map<number, Float64Array>();
  const u = (i: number) => {
    if (!cache.has(i)) cache.set(i, run([...contextPositions(s.format, i).map(at), query]));
    return cache.get(i)!;
  };
  const predictWith = (x: Float64Array, Wp: Float64Array) => dot(x, Wp) + bU[0];
  const exU = Array.from({ length: N }, (_, j) => run([queryToken(s, j + 1)]));
  return {
    W,
    rows: H,
    cols: 1,
    u,
    db: () => null,
    predictQuery: (Wp) => predictWith(u(0), Wp),
    direct: (i) => predictWith(u(i), W),
    exampleGrad: (j, Wp) => {
      const r = predictWith(exU[j - 1], Wp) - s.targets[j - 1];
      return { u: exU[j - 1], delta: Float64Array.of(r) };
    },
  };
}
