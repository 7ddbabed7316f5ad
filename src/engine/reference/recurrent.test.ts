import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels as K } from "./index.ts";
import { BUFFER_TYPES, Rng, assertClose, checkGradients } from "./testutil.ts";

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

/** One LSTM step for one batch row in float64, straight from PyTorch's equations. */
function lstmStep(xw: number[], whh: ArrayLike<number>, h: number[], c: number[], H: number): { h: number[]; c: number[]; gates: number[] } {
  const z = (gate: number, j: number): number => {
    let s = xw[gate * H + j];
    for (let q = 0; q < H; q++) s += h[q] * whh[q * 4 * H + gate * H + j];
    return s;
  };
  const i = [],
    f = [],
    g = [],
    o = [],
    cNew = [],
    hNew = [];
  for (let j = 0; j < H; j++) {
    i.push(sig(z(0, j)));
    f.push(sig(z(1, j)));
    g.push(Math.tanh(z(2, j)));
    o.push(sig(z(3, j)));
    cNew.push(f[j] * c[j] + i[j] * g[j]);
    hNew.push(o[j] * Math.tanh(cNew[j]));
  }
  return { h: hNew, c: cNew, gates: [...i, ...f, ...g, ...o] };
}

/** The whole sequence, one step and one batch row at a time: hs, cs, gates in the kernel's layout. */
function naiveLstm(
  xw: ArrayLike<number>,
  whh: ArrayLike<number>,
  h0: ArrayLike<number>,
  c0: ArrayLike<number>,
  T: number,
  B: number,
  H: number,
): { hs: number[]; cs: number[]; gates: number[] } {
  const hs: number[] = [],
    cs: number[] = [],
    gates: number[] = [];
  const hState = Array.from({ length: B }, (_, b) => Array.from(h0).slice(b * H, (b + 1) * H));
  const cState = Array.from({ length: B }, (_, b) => Array.from(c0).slice(b * H, (b + 1) * H));
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const off = (t * B + b) * 4 * H;
      const s = lstmStep(Array.from(xw).slice(off, off + 4 * H), whh, hState[b], cState[b], H);
      hState[b] = s.h;
      cState[b] = s.c;
      hs.push(...s.h);
      cs.push(...s.c);
      gates.push(...s.gates);
    }
  }
  return { hs, cs, gates };
}

/** h_t = tanh(xw_t + h_{t−1}·whh), element by element. */
function naiveRnn(xw: ArrayLike<number>, whh: ArrayLike<number>, h0: ArrayLike<number>, T: number, B: number, H: number): number[] {
  const out: number[] = [];
  let h = Array.from(h0);
  for (let t = 0; t < T; t++) {
    const next: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        let z = xw[(t * B + b) * H + j];
        for (let q = 0; q < H; q++) z += h[b * H + q] * whh[q * H + j];
        next.push(Math.tanh(z));
      }
    }
    out.push(...next);
    h = next;
  }
  return out;
}

test("lstm: matches a direct per-step implementation (hs, cs, activated gates i, f, g, o)", () => {
  const rng = new Rng(40);
  for (const [T, B, H] of [
    [1, 1, 1],
    [4, 3, 5],
    [6, 2, 3],
  ]) {
    const xw = rng.f32(T * B * 4 * H, -1.5, 1.5),
      whh = rng.f32(H * 4 * H, -0.8, 0.8);
    const h0 = rng.f32(B * H),
      c0 = rng.f32(B * H);
    const hs = new Float32Array(T * B * H),
      cs = new Float32Array(T * B * H),
      gates = new Float32Array(T * B * 4 * H);
    K.lstm(xw, whh, h0, c0, T, B, H, hs, cs, gates);
    const ref = naiveLstm(xw, whh, h0, c0, T, B, H);
    const tol = { atol: 1e-6, rtol: 1e-5 };
    assertClose(hs, ref.hs, tol, `lstm T=${T} B=${B} H=${H} hs`);
    assertClose(cs, ref.cs, tol, "cs");
    assertClose(gates, ref.gates, tol, "gates");
  }
});

test("lstmBackward: finite differences of Σ w⊙hs for xw, whh, h0, c0 (accumulating)", () => {
  const rng = new Rng(41);
  const T = 4,
    B = 2,
    H = 3;
  for (const buf of BUFFER_TYPES) {
    const xw = buf.from(rng.f32(T * B * 4 * H, -1, 1)),
      whh = buf.from(rng.f32(H * 4 * H, -0.8, 0.8));
    const h0 = buf.from(rng.f32(B * H)),
      c0 = buf.from(rng.f32(B * H));
    const hs = buf.make(T * B * H),
      cs = buf.make(T * B * H),
      gates = buf.make(T * B * 4 * H);
    checkGradients({
      label: "lstm",
      rng,
      inputs: { xw, whh, h0, c0 },
      forward: () => {
        K.lstm(xw, whh, h0, c0, T, B, H, hs, cs, gates);
        return hs;
      },
      backward: (dhs, g) => K.lstmBackward(whh, h0, c0, hs, cs, gates, dhs, T, B, H, g.xw, g.whh, g.h0, g.c0),
      reference: (i) => naiveLstm(i.xw, i.whh, i.h0, i.c0, T, B, H).hs,
    });
  }
});

test("rnn: matches a direct per-step implementation", () => {
  const rng = new Rng(42);
  for (const [T, B, H] of [
    [1, 1, 1],
    [5, 3, 4],
  ]) {
    const xw = rng.f32(T * B * H, -1.5, 1.5),
      whh = rng.f32(H * H, -0.8, 0.8),
      h0 = rng.f32(B * H);
    const hs = new Float32Array(T * B * H);
    K.rnn(xw, whh, h0, T, B, H, hs);
    assertClose(hs, naiveRnn(xw, whh, h0, T, B, H), { atol: 1e-6, rtol: 1e-5 }, `rnn T=${T} B=${B} H=${H}`);
  }
});

test("rnnBackward: finite differences of Σ w⊙hs for xw, whh, h0 (accumulating)", () => {
  const rng = new Rng(43);
  const T = 5,
    B = 2,
    H = 3;
  for (const buf of BUFFER_TYPES) {
    const xw = buf.from(rng.f32(T * B * H)),
      whh = buf.from(rng.f32(H * H, -0.8, 0.8)),
      h0 = buf.from(rng.f32(B * H));
    const hs = buf.make(T * B * H);
    checkGradients({
      label: "rnn",
      rng,
      inputs: { xw, whh, h0 },
      forward: () => {
        K.rnn(xw, whh, h0, T, B, H, hs);
        return hs;
      },
      backward: (dhs, g) => K.rnnBackward(whh, h0, hs, dhs, T, B, H, g.xw, g.whh, g.h0),
      reference: (i) => naiveRnn(i.xw, i.whh, i.h0, T, B, H),
    });
  }
});

test("lstm/rnn: T = 0 writes nothing and the backward leaves gradients untouched", () => {
  const dwhh = new Float32Array(4).fill(3),
    dh0 = new Float32Array(2).fill(3);
  K.rnn(new Float32Array(0), new Float32Array(4), new Float32Array(2), 0, 1, 2, new Float32Array(0));
  K.rnnBackward(new Float32Array(4), new Float32Array(2), new Float32Array(0), new Float32Array(0), 0, 1, 2, new Float32Array(0), dwhh, dh0);
  assert.ok(dwhh.every((x) => x === 3) && dh0.every((x) => x === 3));
});

test("lstm/rnn: NaN in the input reaches every later step", () => {
  const T = 3,
    B = 1,
    H = 2;
  const xw = new Float32Array(T * B * H);
  xw[0] = NaN;
  const hs = new Float32Array(T * B * H);
  K.rnn(xw, Float32Array.from([0.5, 0.1, 0.2, 0.3]), new Float32Array(2), T, B, H, hs);
  assert.ok(Number.isNaN(hs[0]) && Number.isFinite(hs[1]));
  assert.ok(hs.subarray(2).every(Number.isNaN));
});

test("lstm/rnn: argument errors", () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => K.lstm(f(48), f(35), f(6), f(6), 2, 2, 3, f(12), f(12), f(48)), {
    message: "lstm: 'whh' has 35 elements, expected at least 36 for [H, 4H] with H=3",
  });
  assert.throws(
    () => K.lstm(f(47), f(36), f(6), f(6), 2, 2, 3, f(12), f(12), f(48)),
    /lstm: 'xw' has 47 elements, expected at least 48 for \[T, B, 4H\] with T=2, B=2, H=3/,
  );
  assert.throws(
    () => K.lstmBackward(f(36), f(6), f(6), f(12), f(12), f(48), f(12), 2, 2, 3, f(48), f(36), f(6), f(5)),
    /lstmBackward: 'dc0' has 5 elements, expected at least 6 for \[B, H\] with B=2, H=3/,
  );
  assert.throws(() => K.rnn(f(12), f(9), f(6), 2, 2, 3, f(11)), /rnn: 'hs' has 11 elements, expected at least 12/);
  assert.throws(() => K.rnnBackward(f(9), f(6), f(12), f(12), 2, 2, -3, f(12), f(9), f(6)), /rnnBackward: 'H' must be a non-negative integer, found -3/);
});
