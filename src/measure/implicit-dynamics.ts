/**
 * How the context's implicit update converges as in-context examples are consumed, against
 * explicit gradient descent with the same examples (Dherin et al. 2025, "Learning without
 * training", arXiv 2507.16003, §dynamics), on in-context linear regression (src/data/synthetic/
 * regression.ts) read by a vector-input model (src/model/vector-input.ts). Float64 throughout.
 *
 * A contextual block is a contextual layer A followed by a weight matrix W that reads its output u:
 *   transformer (one pre-LN block; the model must have 1 layer, as the paper's single block):
 *     A = attention (+ residual, LN2), u = LN2(x + a), W = the MLP's W_in [dModel, dMlp], plus the
 *     residual patch Δb = a_C − a_0 (src/measure/implicit-update.ts gives the exact form);
 *   lstm / rnn: A = the recurrence, u = its hidden state at the query, W = the readout of the
 *     prediction, column 0 of W_U [dHidden, 1] (the "MLP" is the linear readout: there is no MLP in
 *     these models). The context's update is then ΔW = u_0 ⊗ ((u_C − u_0)·W)/‖u_0‖², where u_0 is the hidden
 *     state after the query alone from a zero state (no context: a recurrence has no positions to
 *     mask) and u_C the state after the context then the query. It is the difference in the
 *     readout's input that the recurrent state carries, moved into the readout's weights.
 *
 * With i examples in context (the first i pairs: positions 0..2i−1 interleaved, 0..i−1 paired;
 * the transformer masks the other keys and positions keep their index, the recurrence runs over
 * them then the query):
 *   ΔW(i) = u_0 ⊗ ((u_i − u_0)·W)/‖u_0‖²,   marginal(i) = ‖ΔW(i+1) − ΔW(i)‖_F (consumes pair i+1);
 *   ICL loss(i) = (ŷ_q − y_q)² of the patched no-context model (W + ΔW(i), Δb(i)), which equals the
 *     model with those i examples in context: the identity residual |patched − direct| is reported;
 *   GD loss(i) = the no-context model's query loss after i explicit steps W ← W − η ∇_W ½(ŷ_j − y_j)²
 *     on examples j = 1..i (each read as a query (x_j, 0) without context), η = h = 1/‖u_0‖²
 *     (the paper's step) or the best η of a grid (tuned on the same sequences: GD's best case);
 *   cosine(i) = cos(ΔW(i+1) − ΔW(i), −∇_W ½(ŷ_{i+1} − y_{i+1})² at the model's W), against the mean
 *     |cos| of a random Gaussian direction with a fixed matrix in n = rows·cols dimensions, √(2/(πn)).
 */
import { contextPositions, leastSquaresPrediction, queryPosition, queryToken, type RegressionBatch, sequenceOf } from "../data/synthetic/regression.ts";
import type { VectorModel } from "../model/vector-input.ts";
import { dot, norm, vecMat, matVec, geluGrad, layerNormRow, layerNormBackward } from "./float64-ops.ts";
import { Float64Transformer, identityCheck, type Trace } from "./implicit-update.ts";

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

const outerAdd = (W: Float64Array, a: ArrayLike<number>, b: ArrayLike<number>, s: number, cols: number) => {
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

/** One sequence's curves (index i: examples in context, 0..N). */
export interface SequenceDynamics {
  icl: number[];
  /** The transformer's ICL loss with ΔW alone (no residual patch); equal to `icl` for recurrent models. */
  iclDwOnly: number[];
  leastSquares: number[];
  normDW: number[];
  /** i = 0..N−1. */
  marginal: number[];
  cosine: number[];
  /** Max |patched − direct| over i. */
  identity: number;
  /** The paper's step h = 1/‖u_0‖². */
  h: number;
}

/** The implicit dynamics of one sequence (file comment), without the GD curves. */
export function sequenceDynamics(probe: BlockProbe, s: RegressionBatch): SequenceDynamics {
  const N = s.context,
    yq = s.targets[N];
  const { W, rows, cols } = probe;
  const u0 = probe.u(0),
    n0 = norm(u0);
  const m = new Float64Array(cols);
  const out: SequenceDynamics = { icl: [], iclDwOnly: [], leastSquares: [], normDW: [], marginal: [], cosine: [], identity: 0, h: 1 / (n0 * n0) };
  for (let i = 0; i <= N; i++) {
    const ui = probe.u(i);
    vecMat(
      ui.map((v, e) => v - u0[e]),
      0,
      W,
      rows,
      cols,
      null,
      m,
    );
    out.normDW.push(norm(m) / n0);
    const Wi = Float64Array.from(W);
    outerAdd(Wi, u0, m, 1 / (n0 * n0), cols);
    const patched = probe.predictQuery(Wi, probe.db(i));
    out.identity = Math.max(out.identity, Math.abs(patched - probe.direct(i)));
    out.icl.push((patched - yq) ** 2);
    out.iclDwOnly.push((probe.predictQuery(Wi, null) - yq) ** 2);
    out.leastSquares.push((leastSquaresPrediction(s, i) - yq) ** 2);
    if (i < N) {
      const un = probe.u(i + 1);
      vecMat(
        un.map((v, e) => v - ui[e]),
        0,
        W,
        rows,
        cols,
        null,
        m,
      );
      const nm = norm(m);
      out.marginal.push(nm / n0);
      const g = probe.exampleGrad(i + 1, W);
      // cos(u_0 ⊗ m, −u_j ⊗ δ_j) = −(u_0·u_j)(m·δ_j)/(‖u_0‖‖m‖‖u_j‖‖δ_j‖)
      out.cosine.push(-(dot(u0, g.u) * dot(m, g.delta)) / (n0 * nm * norm(g.u) * norm(g.delta)));
    }
  }
  return out;
}

/** A diverging GD run's loss is capped here (it would otherwise dominate the mean over sequences). */
export const GD_CAP = 100;

/** The query's loss after 0..N explicit GD steps on W with the examples in order; lr(s) per sequence. */
export function gdCurve(probe: BlockProbe, s: RegressionBatch, lr: number): number[] {
  const N = s.context,
    yq = s.targets[N];
  const W = Float64Array.from(probe.W);
  const losses = [(probe.predictQuery(W, null) - yq) ** 2];
  for (let j = 1; j <= N; j++) {
    const g = probe.exampleGrad(j, W);
    outerAdd(W, g.u, g.delta, -lr, probe.cols);
    const l = (probe.predictQuery(W, null) - yq) ** 2;
    losses.push(Number.isFinite(l) ? Math.min(l, GD_CAP) : GD_CAP);
  }
  return losses;
}

export interface DynamicsSummary {
  kind: string;
  sequences: number;
  context: number;
  /** Mean over sequences, index i = examples in context (0..N). */
  icl: number[];
  iclDwOnly: number[];
  gdDherin: number[];
  gdTuned: number[];
  leastSquares: number[];
  /** Mean of h = 1/‖u_0‖² over sequences, and the tuned rate. */
  dherinStep: number;
  tunedLr: number;
  normDW: number[];
  marginal: number[];
  /** Mean cosine of the marginal update with −∇ (i = 0..N−1) and the random baseline √(2/(πn)). */
  cosine: number[];
  /** Mean |cosine| (i = 0..N−1). */
  absCosine: number[];
  randomCosine: number;
  /** Least-squares slope of log mean marginal(i) vs log(i+1) (the paper: about −1). */
  decaySlope: number;
  /** Max |patched − direct| at the query over every i and sequence. */
  identityQuery: number;
  /** Transformer: max identity residual over every position's block output and the logits (implicit-update's check). */
  identityAll: number | null;
}

/** The learning rates of the tuned-GD grid: 10^−3 … 10^1 in quarter decades. */
export const LR_GRID = Array.from({ length: 17 }, (_, k) => 10 ** (-3 + k / 4));

const meanOf = (rows: number[][]) => rows[0].map((_, i) => rows.reduce((a, r) => a + r[i], 0) / rows.length);

/** Log-log slope of y against x (positive values only). */
export function logSlope(x: readonly number[], y: readonly number[]): number {
  const px: number[] = [],
    py: number[] = [];
  x.forEach((v, i) => {
    if (v > 0 && y[i] > 0 && Number.isFinite(y[i])) {
      px.push(Math.log(v));
      py.push(Math.log(y[i]));
    }
  });
  const mx = px.reduce((a, b) => a + b, 0) / px.length,
    my = py.reduce((a, b) => a + b, 0) / py.length;
  let sxy = 0,
    sxx = 0;
  for (let i = 0; i < px.length; i++) {
    sxy += (px[i] - mx) * (py[i] - my);
    sxx += (px[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/** The implicit dynamics of a vector-input transformer (1 layer), LSTM or RNN over a batch of regression sequences. */
export function implicitDynamics(model: VectorModel, batch: RegressionBatch, opts: { lrGrid?: readonly number[] } = {}): DynamicsSummary {
  const N = batch.context;
  const grid = opts.lrGrid ?? LR_GRID;
  const isT = model.config.kind === "transformer";
  const net = isT ? new Float64Transformer(model.model) : null;
  const seqs: SequenceDynamics[] = [],
    dherin: number[][] = [],
    tuned = grid.map(() => [] as number[][]);
  let identityAll: number | null = isT ? 0 : null,
    rows = 0,
    cols = 0;
  for (let b = 0; b < batch.batch; b++) {
    const s = sequenceOf(batch, b);
    let probe: BlockProbe;
    if (net !== null) {
      const tp = transformerProbe(model, s, net);
      probe = tp.probe;
      const id = identityCheck(net, tp.trace, 0);
      identityAll = Math.max(identityAll!, id.block, id.logits);
    } else probe = recurrentProbe(model, s);
    rows = probe.rows;
    cols = probe.cols;
    const sd = sequenceDynamics(probe, s);
    seqs.push(sd);
    dherin.push(gdCurve(probe, s, sd.h));
    grid.forEach((lr, k) => tuned[k].push(gdCurve(probe, s, lr)));
  }
  const tunedMeans = tuned.map(meanOf);
  const score = (c: number[]) => c.slice(1).reduce((a, b) => a + b, 0);
  let best = 0;
  tunedMeans.forEach((c, k) => {
    if (score(c) < score(tunedMeans[best])) best = k;
  });
  const marginal = meanOf(seqs.map((x) => x.marginal));
  return {
    kind: model.config.kind,
    sequences: batch.batch,
    context: N,
    icl: meanOf(seqs.map((x) => x.icl)),
    iclDwOnly: meanOf(seqs.map((x) => x.iclDwOnly)),
    gdDherin: meanOf(dherin),
    gdTuned: tunedMeans[best],
    leastSquares: meanOf(seqs.map((x) => x.leastSquares)),
    dherinStep: seqs.reduce((a, x) => a + x.h, 0) / seqs.length,
    tunedLr: grid[best],
    normDW: meanOf(seqs.map((x) => x.normDW)),
    marginal,
    cosine: meanOf(seqs.map((x) => x.cosine.map((v) => (Number.isFinite(v) ? v : 0)))),
    absCosine: meanOf(seqs.map((x) => x.cosine.map((v) => (Number.isFinite(v) ? Math.abs(v) : 0)))),
    randomCosine: Math.sqrt(2 / (Math.PI * rows * cols)),
    decaySlope: logSlope(
      marginal.map((_, i) => i + 1),
      marginal,
    ),
    identityQuery: Math.max(...seqs.map((x) => x.identity)),
    identityAll,
  };
}
