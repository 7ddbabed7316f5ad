/**
 * Multi-head scaled dot-product attention, forward and backward, straight from the definitions.
 * q, k, v, out: [B, T, H·D] (head h of token t of batch b at ((b·T + t)·H + h)·D); probs [B, H, T, T].
 * In bf16 precision the inputs of each product are rounded as the native kernel rounds them: q, k, v
 * and dout, the probabilities where they multiply V or dO (stored probs stay f32), and dS.
 */
import type { F32 } from "../kernels.ts";
import { checkDim, checkLen, dims } from "./check.ts";
import { productInput, productValue } from "./precision.ts";

function checkAttentionDims(K: string, B: number, T: number, H: number, D: number): { nTok: number; nProbs: number } {
  checkDim(K, "B", B);
  checkDim(K, "T", T);
  checkDim(K, "H", H);
  checkDim(K, "D", D);
  return { nTok: B * T * H * D, nProbs: B * H * T * T };
}

export function attention(q: F32, k: F32, v: F32, B: number, T: number, H: number, D: number, scale: number, causal: boolean, probs: F32, out: F32): void {
  const K = "attention";
  const { nTok, nProbs } = checkAttentionDims(K, B, T, H, D);
  const what = `[B, T, H·D] with ${dims({ B, T, H, D })}`;
  checkLen(K, "q", q, nTok, what);
  checkLen(K, "k", k, nTok, what);
  checkLen(K, "v", v, nTok, what);
  checkLen(K, "out", out, nTok, what);
  checkLen(K, "probs", probs, nProbs, `[B, H, T, T] with ${dims({ B, H, T })}`);
  [q, k, v] = [productInput(q), productInput(k), productInput(v)];

  const rowStride = H * D; // distance between consecutive tokens of one head
  const p = new Float64Array(T); // one row of probabilities
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const base = b * T * rowStride + h * D; // token 0 of this (batch, head)
      const pBase = (b * H + h) * T * T;
      for (let i = 0; i < T; i++) {
        const qi = base + i * rowStride;
        const last = causal ? i : T - 1; // keys 0..last are visible
        let max = -Infinity;
        for (let j = 0; j <= last; j++) {
          const kj = base + j * rowStride;
          let s = 0;
          for (let d = 0; d < D; d++) s += q[qi + d] * k[kj + d];
          p[j] = scale * s;
          max = Math.max(max, p[j]);
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) {
          p[j] = Math.exp(p[j] - max);
          sum += p[j];
        }
        const pRow = pBase + i * T;
        acc.fill(0);
        for (let j = 0; j < T; j++) {
          if (j > last) {
            probs[pRow + j] = 0;
            continue;
          }
          const pij = p[j] / sum;
          probs[pRow + j] = pij;
          const pv = productValue(probs[pRow + j]);
          const vj = base + j * rowStride;
          for (let d = 0; d < D; d++) acc[d] += pv * v[vj + d];
        }
        for (let d = 0; d < D; d++) out[qi + d] = acc[d];
      }
    }
  }
}

/**
 * With P the probabilities and dO the output gradient, per (batch, head):
 *   dV += Pᵀ·dO;  dP = dO·Vᵀ;  dS = P ⊙ (dP − rowsum(P ⊙ dP));  dQ += scale·dS·K;  dK += scale·dSᵀ·Q.
 * Masked entries have P = 0, so they contribute nothing (no `causal` flag needed).
 */
export function attentionBackward(
  q: F32,
  k: F32,
  v: F32,
  probs: F32,
  dout: F32,
  B: number,
  T: number,
  H: number,
  D: number,
  scale: number,
  dq: F32,
  dk: F32,
  dv: F32,
): void {
  const K = "attentionBackward";
  const { nTok, nProbs } = checkAttentionDims(K, B, T, H, D);
  const what = `[B, T, H·D] with ${dims({ B, T, H, D })}`;
  checkLen(K, "q", q, nTok, what);
  checkLen(K, "k", k, nTok, what);
  checkLen(K, "v", v, nTok, what);
  checkLen(K, "probs", probs, nProbs, `[B, H, T, T] with ${dims({ B, H, T })}`);
  checkLen(K, "dout", dout, nTok, what);
  checkLen(K, "dq", dq, nTok, what);
  checkLen(K, "dk", dk, nTok, what);
  checkLen(K, "dv", dv, nTok, what);
  [q, k, v, dout] = [productInput(q), productInput(k), productInput(v), productInput(dout)];

  const rowStride = H * D;
  const dP = new Float64Array(T);
  const dqAcc = new Float64Array(D);
  const dkAcc = new Float64Array(T * D); // this head's dK and dV, summed over queries in double
  const dvAcc = new Float64Array(T * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const base = b * T * rowStride + h * D;
      const pBase = (b * H + h) * T * T;
      dkAcc.fill(0);
      dvAcc.fill(0);
      for (let i = 0; i < T; i++) {
        const qi = base + i * rowStride;
        const pRow = pBase + i * T;
        let rowDot = 0; // Σ_j P_ij · dP_ij
        for (let j = 0; j < T; j++) {
          const vj = base + j * rowStride;
          let s = 0;
          for (let d = 0; d < D; d++) s += dout[qi + d] * v[vj + d];
          dP[j] = s;
          rowDot += probs[pRow + j] * s;
        }
        dqAcc.fill(0);
        for (let j = 0; j < T; j++) {
          const pij = probs[pRow + j];
          const dS = productValue(pij * (dP[j] - rowDot)) * scale;
          const pv = productValue(pij);
          const kj = base + j * rowStride;
          for (let d = 0; d < D; d++) {
            dqAcc[d] += dS * k[kj + d];
            dkAcc[j * D + d] += dS * q[qi + d];
            dvAcc[j * D + d] += pv * dout[qi + d];
          }
        }
        for (let d = 0; d < D; d++) dq[qi + d] += dqAcc[d];
      }
      for (let j = 0; j < T; j++) {
        const kj = base + j * rowStride;
        for (let d = 0; d < D; d++) {
          dk[kj + d] += dkAcc[j * D + d];
          dv[kj + d] += dvAcc[j * D + d];
        }
      }
    }
  }
}
