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
import { leastSquaresPrediction, type RegressionBatch, sequenceOf } from "../data/synthetic/regression.ts";
import type { VectorModel } from "../model/vector-input.ts";
import { dot, norm, vecMat } from "./float64-ops.ts";
import { Float64Transformer, identityCheck } from "./implicit-update.ts";
import { type BlockProbe, outerAdd, recurrentProbe, transformerProbe } from "./implicit-dynamics-probes.ts";

export { type BlockProbe, recurrentProbe, transformerProbe } from "./implicit-dynamics-probes.ts";
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
  /** cos(m_i, −δ_{i+1}) of the output-side factors alone (the cosine is the input-side cos(u_0, u_j) times this). */
  cosineOut: number[];
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
  const out: SequenceDynamics = {
    icl: [],
    iclDwOnly: [],
    leastSquares: [],
    normDW: [],
    marginal: [],
    cosine: [],
    cosineOut: [],
    identity: 0,
    h: 1 / (n0 * n0),
  };
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
      out.cosineOut.push(-dot(m, g.delta) / (nm * norm(g.delta)));
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
  /**
   * Mean |cos| of the output-side factors alone, m_i = (u_{i+1} − u_i)·W against δ_{i+1} (a rank-1
   * cosine is the product of the input-side and output-side cosines; the input side, u_0 against
   * u_j, is the similarity of two no-context inputs, not learning), over i and sequences, and its
   * random baseline √(2/(π·cols)); NaN for one-column W (the recurrent readouts: it is always 1).
   */
  absCosineOut: number;
  randomCosineOut: number;
  /** Least-squares slope of log mean marginal(i) vs log(i+1) (the paper: about −1). */
  decaySlope: number;
  /** Max |patched − direct| at the query over every i and sequence. */
  identityQuery: number;
  /** Transformer: max identity residual over every position's block output and the logits (implicit-update's check). */
  identityAll: number | null;
}

/** The learning rates of the tuned-GD grid: 10^−3 … 10^1 in quarter decades. */
export const LR_GRID = Array.from({ length: 17 }, (_, k) => 10 ** (-3 + k / 4));

const meanAll = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
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
    absCosineOut: cols === 1 ? NaN : meanAll(seqs.flatMap((x) => x.cosineOut.filter(Number.isFinite).map(Math.abs))),
    randomCosineOut: cols === 1 ? NaN : Math.sqrt(2 / (Math.PI * cols)),
    decaySlope: logSlope(
      marginal.map((_, i) => i + 1),
      marginal,
    ),
    identityQuery: Math.max(...seqs.map((x) => x.identity)),
    identityAll,
  };
}
