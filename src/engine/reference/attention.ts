/**
 * Multi-head scaled dot-product attention, forward and backward, straight from the definitions.
 * q, k, v, out: [B, T, H·D] (head h of token t of batch b at ((b·T + t)·H + h)·D); lse [B, H, T];
 * probs [B, H, T, T] (optional).
 * Attention is fp32 in both precisions: the native kernel keeps QKᵀ, PV and their gradients in f32
 * even when the precision is bf16 (bf16 products measured slower than fp32 on CPUs without AMX), so
 * this oracle rounds nothing either (the bf16 setting only changes gemm).
 */
import type { F32 } from "../kernels.ts";
import { checkDim, checkLen, dims } from "./check.ts";

function checkAttentionDims(K: string, B: number, T: number, H: number, D: number): { nTok: number; nProbs: number; nLse: number } {
  checkDim(K, "B", B);
  checkDim(K, "T", T);
  checkDim(K, "H", H);
  checkDim(K, "D", D);
  return { nTok: B * T * H * D, nProbs: B * H * T * T, nLse: B * H * T };
}

export function attention(
  q: F32,
  k: F32,
  v: F32,
  B: number,
  T: number,
  H: number,
  D: number,
  scale: number,
  causal: boolean,
  probs: F32 | null,
  lse: F32,
  out: F32,
): void {
  const K = "attention";
  const { nTok, nProbs, nLse } = checkAttentionDims(K, B, T, H, D);
  const what = `[B, T, H·D] with ${dims({ B, T, H, D })}`;
  checkLen(K, "q", q, nTok, what);
  checkLen(K, "k", k, nTok, what);
  checkLen(K, "v", v, nTok, what);
  checkLen(K, "out", out, nTok, what);
  checkLen(K, "lse", lse, nLse, `[B, H, T] with ${dims({ B, H, T })}`);
  if (probs !== null) checkLen(K, "probs", probs, nProbs, `[B, H, T, T] with ${dims({ B, H, T })}`);

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
        lse[(b * H + h) * T + i] = max + Math.log(sum);
        const pRow = pBase + i * T;
        acc.fill(0);
        for (let j = 0; j <= last; j++) {
          const pij = p[j] / sum;
          if (probs !== null) probs[pRow + j] = pij;
          const vj = base + j * rowStride;
          for (let d = 0; d < D; d++) acc[d] += pij * v[vj + d];
        }
        if (probs !== null) for (let j = last + 1; j < T; j++) probs[pRow + j] = 0;
        for (let d = 0; d < D; d++) out[qi + d] = acc[d];
      }
    }
  }
}

/**
 * With P = exp(scale·QKᵀ − lse) (masked entries 0) recomputed from the forward's lse and O = out,
 * per (batch, head):
 *   dV += Pᵀ·dO;  dP = dO·Vᵀ;  Δ = rowsum(dO ⊙ O);  dS = P ⊙ (dP − Δ);  dQ += scale·dS·K;  dK += scale·dSᵀ·Q.
 */
export function attentionBackward(
  q: F32,
  k: F32,
  v: F32,
  out: F32,
  lse: F32,
  dout: F32,
  B: number,
  T: number,
  H: number,
  D: number,
  scale: number,
  causal: boolean,
  dq: F32,
  dk: F32,
  dv: F32,
): void {
  const K = "attentionBackward";
  const { nTok, nLse } = checkAttentionDims(K, B, T, H, D);
  const what = `[B, T, H·D] with ${dims({ B, T, H, D })}`;
  checkLen(K, "q", q, nTok, what);
  checkLen(K, "k", k, nTok, what);
  checkLen(K, "v", v, nTok, what);
  checkLen(K, "out", out, nTok, what);
  checkLen(K, "lse", lse, nLse, `[B, H, T] with ${dims({ B, H, T })}`);
  checkLen(K, "dout", dout, nTok, what);
  checkLen(K, "dq", dq, nTok, what);
  checkLen(K, "dk", dk, nTok, what);
  checkLen(K, "dv", dv, nTok, what);

  const rowStride = H * D;
  const P = new Float64Array(T);
  const dqAcc = new Float64Array(D);
  const dkAcc = new Float64Array(T * D); // this head's dK and dV, summed over queries in double
  const dvAcc = new Float64Array(T * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const base = b * T * rowStride + h * D;
      dkAcc.fill(0);
      dvAcc.fill(0);
      for (let i = 0; i < T; i++) {
        const qi = base + i * rowStride;
        const last = causal ? i : T - 1;
        const l = lse[(b * H + h) * T + i];
        let delta = 0; // Δ_i = Σ_d dO_id · O_id
        for (let d = 0; d < D; d++) delta += dout[qi + d] * out[qi + d];
        dqAcc.fill(0);
        for (let j = 0; j <= last; j++) {
          const kj = base + j * rowStride;
          let s = 0;
          for (let d = 0; d < D; d++) s += q[qi + d] * k[kj + d];
          P[j] = Math.exp(scale * s - l);
          let dP = 0;
          for (let d = 0; d < D; d++) dP += dout[qi + d] * v[kj + d];
          const dS = P[j] * (dP - delta) * scale;
          const pij = P[j];
          for (let d = 0; d < D; d++) {
            dqAcc[d] += dS * k[kj + d];
            dkAcc[j * D + d] += dS * q[qi + d];
            dvAcc[j * D + d] += pij * dout[qi + d];
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
