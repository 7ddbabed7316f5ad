/**
 * Multi-head scaled dot-product attention, forward and backward, straight from the definitions.
 * q, k, v, out: [B, T, H·D] (head h of token t of batch b at ((b·T + t)·H + h)·D); lse [B, H, T];
 * probs [B, H, T, T] (optional).
 * Attention is fp32 in both precisions: the native kernel keeps QKᵀ, PV and their gradients in f32
 * even when the precision is bf16 (bf16 products measured slower than fp32 on CPUs without AMX), so
 * this oracle rounds nothing either (the bf16 setting only changes gemm).
 */
import type { F32, Kernels } from "../kernels.ts";
import { checkDims, checkLen, checkLens, dims } from "./check.ts";

/**
 * The checks forward and backward share: B, T, H, D, then q, k, v, out [B, T, H·D] and lse [B, H, T].
 * Returns the token-buffer size and its description, and "B=…, H=…, T=…", for the other checks.
 */
function checkAttention(K: string, tokens: { q: F32; k: F32; v: F32; out: F32 }, lse: F32, [B, T, H, D]: number[]): { nTok: number; tok: string; bht: string } {
  checkDims(K, { B, T, H, D });
  const nTok = B * T * H * D;
  const tok = `[B, T, H·D] with ${dims({ B, T, H, D })}`;
  const bht = dims({ B, H, T });
  checkLens(K, tokens, nTok, tok);
  checkLen(K, "lse", lse, B * H * T, `[B, H, T] with ${bht}`);
  return { nTok, tok, bht };
}

export const attention: Kernels["attention"] = (q, k, v, B, T, H, D, scale, causal, probs, lse, out) => {
  const K = "attention";
  const { bht } = checkAttention(K, { q, k, v, out }, lse, [B, T, H, D]);
  if (probs !== null) checkLen(K, "probs", probs, B * H * T * T, `[B, H, T, T] with ${bht}`);

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
};

/**
 * With P = exp(scale·QKᵀ − lse) (masked entries 0) recomputed from the forward's lse and O = out,
 * per (batch, head):
 *   dV += Pᵀ·dO;  dP = dO·Vᵀ;  Δ = rowsum(dO ⊙ O);  dS = P ⊙ (dP − Δ);  dQ += scale·dS·K;  dK += scale·dSᵀ·Q.
 */
export const attentionBackward: Kernels["attentionBackward"] = (q, k, v, out, lse, dout, B, T, H, D, scale, causal, dq, dk, dv) => {
  const K = "attentionBackward";
  const { nTok, tok } = checkAttention(K, { q, k, v, out }, lse, [B, T, H, D]);
  checkLens(K, { dout, dq, dk, dv }, nTok, tok);

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
};
