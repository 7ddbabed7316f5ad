/**
 * Recurrent kernels over a whole sequence: LSTM (gate order i, f, g, o, as PyTorch) and the
 * vanilla tanh RNN, forward and backpropagation through time. The input projection xw is
 * precomputed by the caller; these kernels add the recurrent part h_{t−1}·whh.
 */
import type { F32, Kernels } from "../kernels.ts";
import { checkDims, checkLen, dims } from "./check.ts";

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The layout of each recurrent buffer by its argument name: [T, B, G], [H, G], [B, H] or [T, B, H]. */
const SEQ_LAYOUT: Record<string, "seqG" | "w" | "state" | "seq"> = {
  xw: "seqG",
  dxw: "seqG",
  gates: "seqG",
  whh: "w",
  dwhh: "w",
  h0: "state",
  c0: "state",
  dh0: "state",
  dc0: "state",
  hs: "seq",
  cs: "seq",
  dhs: "seq",
};

/**
 * Checks T, B, H, then each of `bufs` in order against the layout of its name (SEQ_LAYOUT), where
 * G = gates·H: 4H for the LSTM, H for the RNN.
 */
function checkSeq(K: string, { T, B, H }: Record<"T" | "B" | "H", number>, gates: 1 | 4, bufs: Record<string, F32>): void {
  checkDims(K, { T, B, H });
  const G = gates * H;
  const gH = gates === 4 ? "4H" : "H";
  const sizes: Record<string, [number, string]> = {
    seqG: [T * B * G, `[T, B, ${gH}] with ${dims({ T, B, H })}`],
    w: [H * G, `[H, ${gH}] with H=${H}`],
    state: [B * H, `[B, H] with ${dims({ B, H })}`],
    seq: [T * B * H, `[T, B, H] with ${dims({ T, B, H })}`],
  };
  for (const [name, buf] of Object.entries(bufs)) checkLen(K, name, buf, ...sizes[SEQ_LAYOUT[name]]);
}

/** z[b, :] += h[b, :]·w for h [B, H] at hOff and w [H, G]; z is a [B, G] double buffer. */
function addMatmul(z: Float64Array, h: F32, hOff: number, w: F32, B: number, H: number, G: number): void {
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < H; q++) {
      const hq = h[hOff + b * H + q];
      const wRow = q * G;
      const zRow = b * G;
      for (let j = 0; j < G; j++) z[zRow + j] += hq * w[wRow + j];
    }
  }
}

export const lstm: Kernels["lstm"] = (xw, whh, h0, c0, T, B, H, hs, cs, gates) => {
  const K = "lstm";
  checkSeq(K, { T, B, H }, 4, { xw, whh, h0, c0, hs, cs, gates });
  const G = 4 * H;

  const z = new Float64Array(B * G);
  for (let t = 0; t < T; t++) {
    // z = xw_t + h_{t−1}·whh
    const xOff = t * B * G;
    for (let i = 0; i < B * G; i++) z[i] = xw[xOff + i];
    const hPrev = t === 0 ? h0 : hs;
    const hPrevOff = t === 0 ? 0 : (t - 1) * B * H;
    const cPrev = t === 0 ? c0 : cs;
    const cPrevOff = hPrevOff;
    addMatmul(z, hPrev, hPrevOff, whh, B, H, G);

    const sOff = t * B * H;
    for (let b = 0; b < B; b++) {
      const zRow = b * G;
      for (let j = 0; j < H; j++) {
        const ig = sigmoid(z[zRow + j]);
        const fg = sigmoid(z[zRow + H + j]);
        const gg = Math.tanh(z[zRow + 2 * H + j]);
        const og = sigmoid(z[zRow + 3 * H + j]);
        const c = fg * cPrev[cPrevOff + b * H + j] + ig * gg;
        const gOff = xOff + zRow;
        gates[gOff + j] = ig;
        gates[gOff + H + j] = fg;
        gates[gOff + 2 * H + j] = gg;
        gates[gOff + 3 * H + j] = og;
        cs[sOff + b * H + j] = c;
        hs[sOff + b * H + j] = og * Math.tanh(c);
      }
    }
  }
};

/**
 * Backpropagation through time. Going backwards from t = T−1, with dh = dhs_t + (carry from t+1)
 * and dc the carry of the cell gradient:
 *   dc += dh·o·(1 − tanh²c_t);  do = dh·tanh c_t;  di = dc·g;  dg = dc·i;  df = dc·c_{t−1};
 *   dz = (di·i(1−i), df·f(1−f), dg·(1−g²), do·o(1−o));  dxw_t += dz;  dwhh += h_{t−1}ᵀ·dz;
 *   carry: dh ← dz·whhᵀ, dc ← dc·f.   Finally dh0 += dh, dc0 += dc.
 */
export const lstmBackward: Kernels["lstmBackward"] = (whh, h0, c0, hs, cs, gates, dhs, T, B, H, dxw, dwhh, dh0, dc0) => {
  const K = "lstmBackward";
  checkSeq(K, { T, B, H }, 4, { whh, h0, c0, hs, cs, gates, dhs, dxw, dwhh, dh0, dc0 });
  const G = 4 * H;

  const dhNext = new Float64Array(B * H); // gradient reaching h_t from step t+1
  const dcNext = new Float64Array(B * H); // gradient reaching c_t from step t+1
  const dz = new Float64Array(B * G);
  const dW = new Float64Array(H * G);
  for (let t = T - 1; t >= 0; t--) {
    const sOff = t * B * H;
    const gOff = t * B * G;
    const prev = t === 0 ? null : (t - 1) * B * H; // offset of h_{t−1}, c_{t−1} in hs, cs
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const s = b * H + j;
        const gRow = gOff + b * G;
        const ig = gates[gRow + j];
        const fg = gates[gRow + H + j];
        const gg = gates[gRow + 2 * H + j];
        const og = gates[gRow + 3 * H + j];
        const tc = Math.tanh(cs[sOff + s]);
        const cPrev = prev === null ? c0[s] : cs[prev + s];
        const dh = dhs[sOff + s] + dhNext[s];
        const dc = dcNext[s] + dh * og * (1 - tc * tc);
        const zRow = b * G;
        dz[zRow + j] = dc * gg * ig * (1 - ig);
        dz[zRow + H + j] = dc * cPrev * fg * (1 - fg);
        dz[zRow + 2 * H + j] = dc * ig * (1 - gg * gg);
        dz[zRow + 3 * H + j] = dh * tc * og * (1 - og);
        dcNext[s] = dc * fg;
      }
    }
    for (let i = 0; i < B * G; i++) dxw[gOff + i] += dz[i];
    // dwhh += h_{t−1}ᵀ·dz and dhNext = dz·whhᵀ
    for (let b = 0; b < B; b++) {
      const zRow = b * G;
      for (let q = 0; q < H; q++) {
        const hq = prev === null ? h0[b * H + q] : hs[prev + b * H + q];
        const wRow = q * G;
        let back = 0;
        for (let j = 0; j < G; j++) {
          dW[wRow + j] += hq * dz[zRow + j];
          back += dz[zRow + j] * whh[wRow + j];
        }
        dhNext[b * H + q] = back;
      }
    }
  }
  if (T === 0) return; // nothing flowed: leave the gradients untouched
  for (let i = 0; i < H * G; i++) dwhh[i] += dW[i];
  for (let i = 0; i < B * H; i++) {
    dh0[i] += dhNext[i];
    dc0[i] += dcNext[i];
  }
};

export const rnn: Kernels["rnn"] = (xw, whh, h0, T, B, H, hs) => {
  const K = "rnn";
  checkSeq(K, { T, B, H }, 1, { xw, whh, h0, hs });
  const z = new Float64Array(B * H);
  for (let t = 0; t < T; t++) {
    const off = t * B * H;
    for (let i = 0; i < B * H; i++) z[i] = xw[off + i];
    if (t === 0) addMatmul(z, h0, 0, whh, B, H, H);
    else addMatmul(z, hs, off - B * H, whh, B, H, H);
    for (let i = 0; i < B * H; i++) hs[off + i] = Math.tanh(z[i]);
  }
};

/** dz = (dhs_t + carry)·(1 − h_t²);  dxw_t += dz;  dwhh += h_{t−1}ᵀ·dz;  carry = dz·whhᵀ;  dh0 += carry. */
export const rnnBackward: Kernels["rnnBackward"] = (whh, h0, hs, dhs, T, B, H, dxw, dwhh, dh0) => {
  const K = "rnnBackward";
  checkSeq(K, { T, B, H }, 1, { whh, h0, hs, dhs, dxw, dwhh, dh0 });

  const dhNext = new Float64Array(B * H);
  const dz = new Float64Array(B * H);
  const dW = new Float64Array(H * H);
  for (let t = T - 1; t >= 0; t--) {
    const off = t * B * H;
    for (let i = 0; i < B * H; i++) {
      const h = hs[off + i];
      dz[i] = (dhs[off + i] + dhNext[i]) * (1 - h * h);
      dxw[off + i] += dz[i];
    }
    for (let b = 0; b < B; b++) {
      for (let q = 0; q < H; q++) {
        const hq = t === 0 ? h0[b * H + q] : hs[off - B * H + b * H + q];
        const wRow = q * H;
        let back = 0;
        for (let j = 0; j < H; j++) {
          dW[wRow + j] += hq * dz[b * H + j];
          back += dz[b * H + j] * whh[wRow + j];
        }
        dhNext[b * H + q] = back;
      }
    }
  }
  if (T === 0) return;
  for (let i = 0; i < H * H; i++) dwhh[i] += dW[i];
  for (let i = 0; i < B * H; i++) dh0[i] += dhNext[i];
};
