import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels as K } from "./index.ts";
import { BUFFER_TYPES, Rng, assertClose, checkAttentionGradients } from "./testutil.ts";

type Vec = ArrayLike<number>;

/** Direct float64 attention with 4-d index helpers: probs [B, H, T, T], out [B, T, H, D]. */
function naiveAttention(q: Vec, k: Vec, v: Vec, [B, T, H, D]: number[], scale: number, causal: boolean): { probs: number[]; out: number[]; lse: number[] } {
  const at = (x: ArrayLike<number>, b: number, t: number, h: number, d: number): number => x[((b * T + t) * H + h) * D + d];
  const probs = new Array<number>(B * H * T * T).fill(0);
  const out = new Array<number>(B * T * H * D).fill(0);
  const lse = new Array<number>(B * H * T).fill(0);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const scores: number[] = [];
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += at(q, b, i, h, d) * at(k, b, j, h, d);
          scores.push(causal && j > i ? -Infinity : scale * s);
        }
        const e = scores.map(Math.exp); // exp(−Inf) = 0: masked entries exactly 0
        const sum = e.reduce((x, y) => x + y, 0);
        lse[(b * H + h) * T + i] = Math.log(sum);
        for (let j = 0; j < T; j++) {
          const p = e[j] / sum;
          probs[((b * H + h) * T + i) * T + j] = p;
          for (let d = 0; d < D; d++) out[((b * T + i) * H + h) * D + d] += p * at(v, b, j, h, d);
        }
      }
    }
  }
  return { probs, out, lse };
}

test("attention: matches a direct implementation, causal and not; masked probs exactly 0", () => {
  const rng = new Rng(30);
  for (const [B, T, H, D] of [
    [1, 1, 1, 1],
    [2, 5, 3, 4],
    [1, 7, 2, 3],
  ]) {
    for (const causal of [false, true]) {
      const n = B * T * H * D;
      const q = rng.f32(n, -1.5, 1.5),
        k = rng.f32(n, -1.5, 1.5),
        v = rng.f32(n, -1.5, 1.5);
      const scale = 1 / Math.sqrt(D);
      const probs = new Float32Array(B * H * T * T).fill(NaN);
      const out = new Float32Array(n).fill(NaN);
      const lse = new Float32Array(B * H * T).fill(NaN);
      K.attention(q, k, v, B, T, H, D, scale, causal, probs, lse, out);
      const ref = naiveAttention(q, k, v, [B, T, H, D], scale, causal);
      const label = `B=${B} T=${T} H=${H} D=${D} causal=${causal}`;
      assertClose(probs, ref.probs, { atol: 1e-7, rtol: 1e-6 }, `${label} probs`);
      assertClose(out, ref.out, { atol: 1e-6, rtol: 1e-5 }, `${label} out`);
      assertClose(lse, ref.lse, { atol: 1e-6, rtol: 1e-6 }, `${label} lse`);
      // Without probs: the same out and lse.
      const out2 = new Float32Array(n).fill(NaN),
        lse2 = new Float32Array(B * H * T).fill(NaN);
      K.attention(q, k, v, B, T, H, D, scale, causal, null, lse2, out2);
      assert.deepEqual(out2, out, `${label} out without probs`);
      assert.deepEqual(lse2, lse, `${label} lse without probs`);
      if (causal) {
        for (let bh = 0; bh < B * H; bh++)
          for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) assert.ok(Object.is(probs[(bh * T + i) * T + j], 0), "masked entry is +0");
      }
    }
  }
});

test("attention: large scores stay finite (max-subtracted)", () => {
  const B = 1,
    T = 3,
    H = 1,
    D = 2;
  const q = Float32Array.from([100, 0, -100, 0, 100, 100]);
  const k = Float32Array.from([100, 0, 0, 100, -100, 0]);
  const v = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const probs = new Float32Array(9),
    out = new Float32Array(6);
  K.attention(q, k, v, B, T, H, D, 1, false, probs, new Float32Array(3), out);
  for (const x of [...probs, ...out]) assert.ok(Number.isFinite(x));
  assertClose(probs.subarray(0, 3), [1, 0, 0], { atol: 0, rtol: 0 }, "row 0 picks key 0");
});

test("attentionBackward: finite differences for q, k, v (accumulating), causal and not", () => {
  const rng = new Rng(31);
  const B = 2,
    T = 4,
    H = 2,
    D = 3;
  const n = B * T * H * D;
  for (const buf of BUFFER_TYPES) {
    for (const causal of [false, true]) {
      const q = buf.from(rng.f32(n)),
        k = buf.from(rng.f32(n)),
        v = buf.from(rng.f32(n));
      const scale = 0.7;
      const lse = buf.make(B * H * T),
        out = buf.make(n);
      checkAttentionGradients({
        label: `attention causal=${causal}`,
        K,
        rng,
        bufs: { q, k, v, out, lse },
        dims: [B, T, H, D],
        scale,
        causal,
        reference: (i) => naiveAttention(i.q, i.k, i.v, [B, T, H, D], scale, causal).out,
      });
    }
  }
});

test("attention: NaN in a query row reaches only that row's output", () => {
  const B = 1,
    T = 2,
    H = 1,
    D = 2;
  const q = Float32Array.from([NaN, 0, 1, 1]),
    k = Float32Array.from([1, 0, 0, 1]),
    v = Float32Array.from([1, 2, 3, 4]);
  const probs = new Float32Array(4),
    out = new Float32Array(4);
  K.attention(q, k, v, B, T, H, D, 1, false, probs, new Float32Array(2), out);
  assert.ok(Number.isNaN(out[0]) && Number.isNaN(out[1]));
  assert.ok(Number.isFinite(out[2]) && Number.isFinite(out[3]));
});

test("attention: argument errors", () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => K.attention(f(24), f(23), f(24), 1, 4, 2, 3, 1, true, f(32), f(8), f(24)), {
    message: "attention: 'k' has 23 elements, expected at least 24 for [B, T, H·D] with B=1, T=4, H=2, D=3",
  });
  assert.throws(
    () => K.attention(f(24), f(24), f(24), 1, 4, 2, 3, 1, true, f(31), f(8), f(24)),
    /attention: 'probs' has 31 elements, expected at least 32 for \[B, H, T, T\] with B=1, H=2, T=4/,
  );
  assert.throws(
    () => K.attention(f(24), f(24), f(24), 1, 4, 2, 3, 1, true, null, f(7), f(24)),
    /attention: 'lse' has 7 elements, expected at least 8 for \[B, H, T\] with B=1, H=2, T=4/,
  );
  assert.throws(
    () => K.attentionBackward(f(24), f(24), f(24), f(24), f(8), f(24), 1, 4, 2, 3, 1, true, f(24), f(24), f(20)),
    /attentionBackward: 'dv' has 20 elements/,
  );
  assert.throws(
    () => K.attentionBackward(f(24), f(24), f(24), f(24), f(7), f(24), 1, 4, 2, 3, 1, true, f(24), f(24), f(24)),
    /attentionBackward: 'lse' has 7 elements/,
  );
});
