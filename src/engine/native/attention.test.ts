/**
 * The native flash-attention kernels (attention.cc) against the reference backend: many shapes
 * (T across and off the 64-row blocks, T = 1, D not a multiple of 16, D up to 128, H·D of any
 * size), causal and not, with and without probs; lse; the backward against the reference and
 * against finite differences; NaN propagation. The whole file runs a second time in a child
 * process with ICL_LAB_NO_AVX512=1, so that the AVX2 code is tested on AVX-512 machines too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { referenceKernels as R } from "../reference/index.ts";
import { Rng, checkAttentionGradients } from "../reference/testutil.ts";
import { nativeInfo } from "./index.ts";
import { close, nativeOrSkip as native } from "./test-helpers.ts";

const CHILD = process.env.ICL_LAB_ATTENTION_TEST_CHILD === "1";

const SHAPES: [number, number, number, number][] = [
  // B, T, H, D
  [1, 1, 1, 1],
  [1, 1, 2, 32],
  [2, 7, 3, 5],
  [1, 63, 1, 16],
  [1, 64, 2, 32],
  [1, 65, 1, 32],
  [1, 130, 1, 16],
  [3, 67, 2, 8],
  [2, 150, 2, 33],
  [1, 129, 3, 64],
  [1, 70, 1, 128],
  [1, 100, 2, 48],
  [1, 90, 1, 80],
  [2, 200, 1, 24],
  [1, 3, 1, 160],
];

test("attention: out, lse and probs match the reference (causal and not, probs null or not, many shapes)", (t) => {
  const N = native(t);
  if (!N) return;
  const rng = new Rng(7);
  for (const [B, T, H, D] of SHAPES) {
    for (const causal of [true, false]) {
      const n = B * T * H * D;
      const q = rng.f32(n, -1.5, 1.5),
        k = rng.f32(n, -1.5, 1.5),
        v = rng.f32(n);
      const scale = 1 / Math.sqrt(D);
      const what = `attention B=${B} T=${T} H=${H} D=${D} causal=${causal}`;
      // Garbage in the outputs: all must be overwritten.
      const pn = rng.f32(B * H * T * T),
        ln = rng.f32(B * H * T),
        on = rng.f32(n);
      const pr = new Float32Array(B * H * T * T),
        lr = new Float32Array(B * H * T),
        or = new Float32Array(n);
      N.attention(q, k, v, B, T, H, D, scale, causal, pn, ln, on);
      R.attention(q, k, v, B, T, H, D, scale, causal, pr, lr, or);
      close(pn, pr, { rel: 1e-5, abs: 1e-6 }, `${what} probs`);
      close(ln, lr, { rel: 1e-6, abs: 1e-6 }, `${what} lse`);
      close(on, or, { rel: 1e-5, abs: 2e-6 * Math.sqrt(T) }, `${what} out`);
      if (causal) {
        for (let bh = 0; bh < B * H; bh++)
          for (let i = 0; i < T; i++)
            for (let j = i + 1; j < T; j++) assert.ok(Object.is(pn[(bh * T + i) * T + j], 0), `${what}: masked probs[${bh}, ${i}, ${j}] is +0`);
      }
      // probs = null: bit-identical out and lse.
      const o2 = rng.f32(n),
        l2 = rng.f32(B * H * T);
      N.attention(q, k, v, B, T, H, D, scale, causal, null, l2, o2);
      assert.deepEqual(o2, on, `${what}: out without probs`);
      assert.deepEqual(l2, ln, `${what}: lse without probs`);
    }
  }
});

test("attentionBackward matches the reference (accumulating, causal and not, many shapes, 1 and 2 threads)", (t) => {
  const N = native(t);
  if (!N) return;
  const rng = new Rng(8);
  const threads = N.getThreads();
  try {
    for (const nt of [1, 2]) {
      N.setThreads(nt);
      for (const [B, T, H, D] of SHAPES) {
        for (const causal of [true, false]) {
          const n = B * T * H * D;
          const q = rng.f32(n, -1.5, 1.5),
            k = rng.f32(n, -1.5, 1.5),
            v = rng.f32(n),
            dout = rng.f32(n);
          const scale = 1 / Math.sqrt(D);
          const out = new Float32Array(n),
            lse = new Float32Array(B * H * T);
          R.attention(q, k, v, B, T, H, D, scale, causal, null, lse, out);
          const g0 = [rng.f32(n), rng.f32(n), rng.f32(n)];
          const gn = g0.map((g) => g.slice()),
            gr = g0.map((g) => g.slice());
          N.attentionBackward(q, k, v, out, lse, dout, B, T, H, D, scale, causal, gn[0], gn[1], gn[2]);
          R.attentionBackward(q, k, v, out, lse, dout, B, T, H, D, scale, causal, gr[0], gr[1], gr[2]);
          const what = `attentionBackward B=${B} T=${T} H=${H} D=${D} causal=${causal} threads=${nt}`;
          ["dq", "dk", "dv"].forEach((name, i) => close(gn[i], gr[i], { rel: 1e-4, abs: 4e-6 * Math.sqrt(T * D) }, `${what} ${name}`));
        }
      }
    }
  } finally {
    N.setThreads(threads);
  }
});

test("attention: forward 1 vs 2 threads identical (items are independent)", (t) => {
  const N = native(t);
  if (!N) return;
  const rng = new Rng(9);
  const [B, T, H, D] = [2, 300, 3, 32];
  const n = B * T * H * D;
  const q = rng.f32(n),
    k = rng.f32(n),
    v = rng.f32(n);
  const threads = N.getThreads();
  const run = (nt: number) => {
    N.setThreads(nt);
    const out = new Float32Array(n),
      lse = new Float32Array(B * H * T);
    N.attention(q, k, v, B, T, H, D, 0.2, true, null, lse, out);
    return { out, lse };
  };
  try {
    const a = run(1),
      b = run(2);
    assert.deepEqual(a.out, b.out);
    assert.deepEqual(a.lse, b.lse);
  } finally {
    N.setThreads(threads);
  }
});

test("attentionBackward: finite differences of the float64 reference forward (causal and not)", (t) => {
  const N = native(t);
  if (!N) return;
  const rng = new Rng(10);
  for (const [B, T, H, D, causal] of [
    [2, 5, 2, 3, true],
    [1, 70, 1, 16, true],
    [1, 9, 2, 32, false],
  ] as [number, number, number, number, boolean][]) {
    const n = B * T * H * D;
    const q = rng.f32(n),
      k = rng.f32(n),
      v = rng.f32(n);
    const out = new Float32Array(n),
      lse = new Float32Array(B * H * T);
    const scale = 0.7;
    checkAttentionGradients({
      label: `native attention B=${B} T=${T} H=${H} D=${D} causal=${causal}`,
      K: N,
      rng,
      bufs: { q, k, v, out, lse },
      dims: [B, T, H, D],
      scale,
      causal,
      reference: (i) => {
        const o = new Float64Array(n);
        R.attention(
          i.q as unknown as Float32Array,
          i.k as unknown as Float32Array,
          i.v as unknown as Float32Array,
          B,
          T,
          H,
          D,
          scale,
          causal,
          null,
          new Float64Array(B * H * T) as unknown as Float32Array,
          o as unknown as Float32Array,
        );
        return o;
      },
    });
  }
});

test("attention: large scores stay finite; NaN reaches exactly the rows that see it", (t) => {
  const N = native(t);
  if (!N) return;
  const rng = new Rng(11);
  const [B, T, H, D] = [1, 70, 2, 16];
  const n = B * T * H * D;
  const q = rng.f32(n, -30, 30),
    k = rng.f32(n, -30, 30),
    v = rng.f32(n);
  const pn = new Float32Array(B * H * T * T),
    ln = new Float32Array(B * H * T),
    on = new Float32Array(n);
  const pr = new Float32Array(B * H * T * T),
    lr = new Float32Array(B * H * T),
    or = new Float32Array(n);
  N.attention(q, k, v, B, T, H, D, 1, true, pn, ln, on);
  R.attention(q, k, v, B, T, H, D, 1, true, pr, lr, or);
  assert.ok(pn.every(Number.isFinite) && on.every(Number.isFinite) && ln.every(Number.isFinite));
  close(pn, pr, { rel: 1e-4, abs: 1e-5 }, "large scores probs");
  close(ln, lr, { rel: 1e-5, abs: 1e-3 }, "large scores lse");

  // NaN in query 3 of head 0: that row's out, lse and probs are NaN; every other row finite.
  const qn = rng.f32(n),
    kn = rng.f32(n);
  qn[3 * H * D] = Number.NaN;
  N.attention(qn, kn, v, B, T, H, D, 0.25, true, pn, ln, on);
  for (let i = 0; i < T; i++) {
    for (let h = 0; h < H; h++) {
      const bad = i === 3 && h === 0;
      const o = on[(i * H + h) * D];
      assert.equal(Number.isNaN(o), bad, `out row ${i} head ${h}`);
      assert.equal(Number.isNaN(ln[h * T + i]), bad, `lse row ${i} head ${h}`);
    }
  }
  // NaN in key 40 of head 1 (causal): rows ≥ 40 of head 1 are NaN, rows before are not.
  const kk = rng.f32(n);
  kk[(40 * H + 1) * D + 2] = Number.NaN;
  N.attention(rng.f32(n), kk, v, B, T, H, D, 0.25, true, null, ln, on);
  for (let i = 0; i < T; i++) assert.equal(Number.isNaN(on[(i * H + 1) * D]), i >= 40, `out row ${i} head 1 with NaN key 40`);
  // NaN in value 37 of head 0 (causal): masked probabilities are exact zeros that never multiply it.
  const vv = rng.f32(n);
  vv[(37 * H + 0) * D + 5] = Number.NaN;
  N.attention(rng.f32(n), rng.f32(n), vv, B, T, H, D, 0.25, true, null, ln, on);
  for (let i = 0; i < T; i++) assert.equal(Number.isNaN(on[(i * H + 0) * D + 5]), i >= 37, `out row ${i} head 0 with NaN value 37`);
  // Backward: a NaN in dout reaches dq of that row, and dk, dv of the keys that row sees.
  const q2 = rng.f32(n),
    k2 = rng.f32(n),
    dout = rng.f32(n);
  N.attention(q2, k2, v, B, T, H, D, 0.25, true, null, ln, on);
  dout[(5 * H + 0) * D] = Number.NaN;
  const dq = new Float32Array(n),
    dk = new Float32Array(n),
    dv = new Float32Array(n);
  N.attentionBackward(q2, k2, v, on, ln, dout, B, T, H, D, 0.25, true, dq, dk, dv);
  assert.ok(Number.isNaN(dq[5 * H * D]) && Number.isNaN(dk[0]) && Number.isNaN(dv[0]));
  assert.ok(Number.isFinite(dq[6 * H * D]) && Number.isFinite(dq[(5 * H + 1) * D]), "other rows and heads stay finite");
});

test("attention: argument errors", (t) => {
  const N = native(t);
  if (!N) return;
  const f = (n: number) => new Float32Array(n);
  assert.throws(
    () => N.attention(f(8), f(8), f(8), 1, 2, 2, 2, 1, true, f(7), f(4), f(8)),
    /attention: 'probs' has 7 elements, expected at least 8 for \[B, H, T, T\]/,
  );
  assert.throws(
    () => N.attention(f(8), f(8), f(8), 1, 2, 2, 2, 1, true, null, f(3), f(8)),
    /attention: 'lse' has 3 elements, expected at least 4 for \[B, H, T\]/,
  );
  assert.throws(
    () => N.attentionBackward(f(8), f(8), f(8), f(7), f(4), f(8), 1, 2, 2, 2, 1, true, f(8), f(8), f(8)),
    /attentionBackward: 'out' has 7 elements/,
  );
  assert.throws(() => N.attentionBackward(f(8), f(8), f(8), f(8), f(4), f(8), 1, 2, 2, 2, 1, true, f(8), f(8), f(7)), /attentionBackward: 'dv' has 7 elements/);
});

test("attention: the AVX2 code (ICL_LAB_NO_AVX512=1, in a child process) passes this file too", (t) => {
  if (CHILD) {
    // In the child: the forced ISA really is in use.
    const info = nativeInfo();
    if (info !== null) assert.match(info, /attention avx2/);
    return;
  }
  if (!native(t)) return;
  const file = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=dot", file], {
    encoding: "utf8",
    env: { ...process.env, ICL_LAB_NO_AVX512: "1", ICL_LAB_ATTENTION_TEST_CHILD: "1" },
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `child run with ICL_LAB_NO_AVX512=1 failed:\n${r.stdout}\n${r.stderr}`);
});
