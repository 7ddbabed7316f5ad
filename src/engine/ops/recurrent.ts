/**
 * Whole-sequence recurrences as single ops (the time loop runs inside the kernel, so a 512-step
 * sequence is one node on the tape, not 512 × several): the LSTM (gate order i, f, g, o, as
 * PyTorch) and the vanilla tanh RNN. Inputs are time-major: xw [T, B, G·H] is the input
 * projection already computed by one big GEMM for all steps.
 */
import { kernels } from "../backend.ts";
import { Tensor, allocRaw, gradOrScratch, fmtShape, makeOutput, releaseBuffer, track } from "../tensor.ts";

function check(op: string, xw: Tensor, whh: Tensor, states: Array<[string, Tensor]>, gates: number): [number, number, number] {
  if (xw.rank !== 3) throw new Error(`${op}: 'xw' must be [T, B, ${gates}·H], found ${fmtShape(xw.shape)}`);
  const [T, B, GH] = xw.shape;
  const H = GH / gates;
  if (!Number.isInteger(H)) throw new Error(`${op}: last axis of 'xw' (${GH}) is not divisible by ${gates}`);
  if (whh.rank !== 2 || whh.shape[0] !== H || whh.shape[1] !== GH) {
    throw new Error(`${op}: 'whh' must be [${H}, ${GH}], found ${fmtShape(whh.shape)}`);
  }
  for (const [name, s] of states) {
    if (s.rank !== 2 || s.shape[0] !== B || s.shape[1] !== H) throw new Error(`${op}: '${name}' must be [${B}, ${H}], found ${fmtShape(s.shape)}`);
  }
  return [T, B, H];
}

/** LSTM over xw [T, B, 4H] with recurrent weights whh [H, 4H] from (h0, c0) [B, H] → hs [T, B, H]. */
export function lstm(xw: Tensor, whh: Tensor, h0: Tensor, c0: Tensor): Tensor {
  const [T, B, H] = check(
    "lstm",
    xw,
    whh,
    [
      ["h0", h0],
      ["c0", c0],
    ],
    4,
  );
  const K = kernels();
  const hs = allocRaw(T * B * H),
    cs = allocRaw(T * B * H),
    gates = allocRaw(T * B * 4 * H);
  K.lstm(xw.data, whh.data, h0.data, c0.data, T, B, H, hs, cs, gates);
  track(new Tensor(cs, [T, B, H]));
  track(new Tensor(gates, [T, B, 4 * H]));
  return makeOutput(hs, [T, B, H], [xw, whh, h0, c0], (out) => {
    const scratch: Float32Array[] = [];
    const g = (t: Tensor) => gradOrScratch(t, scratch);
    K.lstmBackward(whh.data, h0.data, c0.data, out.data, cs, gates, out.grad!, T, B, H, g(xw), g(whh), g(h0), g(c0));
    for (const s of scratch) releaseBuffer(s);
  });
}

/** Vanilla RNN h_t = tanh(xw_t + h_{t−1}·whh) over xw [T, B, H] → hs [T, B, H]. */
export function rnn(xw: Tensor, whh: Tensor, h0: Tensor): Tensor {
  const [T, B, H] = check("rnn", xw, whh, [["h0", h0]], 1);
  const K = kernels();
  const hs = allocRaw(T * B * H);
  K.rnn(xw.data, whh.data, h0.data, T, B, H, hs);
  return makeOutput(hs, [T, B, H], [xw, whh, h0], (out) => {
    const scratch: Float32Array[] = [];
    const g = (t: Tensor) => gradOrScratch(t, scratch);
    K.rnnBackward(whh.data, h0.data, out.data, out.grad!, T, B, H, g(xw), g(whh), g(h0));
    for (const s of scratch) releaseBuffer(s);
  });
}
