/**
 * Per-token-loss PCA: the eigen-solver on a known matrix, PCA recovering planted directions (both
 * the n ≤ d and n > d paths), trajectories per run, and the fixed per-window loss indices.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../util/random.ts";
import { fixedLossIndices, lossPcaTrajectories, pca, symmetricEigen, tokenLossVector } from "./pca.ts";
import { lossesAtEach } from "./position-loss.ts";
import { randomWindows, tinyModel, useReference } from "./testutil.ts";

useReference();

test("symmetricEigen() finds the eigenvalues and eigenvectors of a known matrix", () => {
  // [[2, 1], [1, 2]]: eigenvalues 3 (1, 1)/√2 and 1 (1, −1)/√2.
  const e = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
  assert.ok(Math.abs(e.values[0] - 3) < 1e-12 && Math.abs(e.values[1] - 1) < 1e-12);
  assert.ok(Math.abs(Math.abs(e.vectors[0]) - Math.SQRT1_2) < 1e-12 && Math.abs(e.vectors[0] - e.vectors[1]) < 1e-12);
});

function unit(d: number, rng: Rng): Float64Array {
  const v = Float64Array.from({ length: d }, () => rng.normal());
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

test("pca() recovers two planted directions and their variance shares (n < d and n > d)", () => {
  for (const [n, d] of [
    [40, 200],
    [300, 12],
  ]) {
    const rng = new Rng(n);
    const u1 = unit(d, rng);
    let u2 = unit(d, rng);
    const dot = u1.reduce((s, v, i) => s + v * u2[i], 0);
    u2 = u2.map((v, i) => v - dot * u1[i]);
    const n2 = Math.hypot(...u2);
    u2 = u2.map((v) => v / n2);
    const base = Float64Array.from({ length: d }, () => 3 + rng.normal());
    const rows = Array.from({ length: n }, () => {
      const a = 5 * rng.normal(),
        b = 2 * rng.normal();
      return base.map((v, i) => v + a * u1[i] + b * u2[i] + 0.05 * rng.normal());
    });
    const p = pca(rows, 2);
    const cos = (c: number[], u: Float64Array) => Math.abs(c.reduce((s, v, i) => s + v * u[i], 0));
    assert.ok(cos(p.components[0], u1) > 0.99, `n=${n} d=${d}: component 1 · u1 = ${cos(p.components[0], u1)}`);
    assert.ok(cos(p.components[1], u2) > 0.98, `n=${n} d=${d}: component 2 · u2 = ${cos(p.components[1], u2)}`);
    assert.ok(p.explained[0] > 0.75 && p.explained[0] + p.explained[1] > 0.95, `explained ${p.explained}`);
    assert.equal(p.projections.length, n);
    assert.ok(Math.abs(p.mean[0] - rows.reduce((s, r) => s + r[0], 0) / n) < 1e-9);
    // Sign convention: the largest-magnitude loading is positive.
    const big = p.components[0].reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m), 0);
    assert.ok(big > 0);
  }
});

test("lossPcaTrajectories() gives each run's checkpoints in order in the first two components", () => {
  const rng = new Rng(9);
  const runs = ["a", "b"].map((run, r) => ({
    run,
    checkpoints: [4, 1, 3, 2].map((k) => ({
      tokens: k * 1000,
      losses: Array.from({ length: 30 }, (_, i) => 5 - k * (i % 3) * (r + 1) * 0.1 + 0.01 * rng.normal()),
    })),
  }));
  const t = lossPcaTrajectories(runs);
  assert.deepEqual(
    t.trajectories.map((x) => x.run),
    ["a", "b"],
  );
  assert.deepEqual(
    t.trajectories[0].points.map((p) => p.tokens),
    [1000, 2000, 3000, 4000],
  );
  assert.ok(t.explained[0] > 0.9);
  // The planted structure is one direction: pc1 moves monotonically with training in each run.
  for (const tr of t.trajectories) {
    const pc = tr.points.map((p) => p.pc1);
    const diffs = pc.slice(1).map((v, i) => v - pc[i]);
    assert.ok(diffs.every((d) => d > 0) || diffs.every((d) => d < 0), `pc1 ${pc}`);
  }
});

test("tokenLossVector() uses the same seeded index per window at every call", () => {
  const m = tinyModel("attn-only");
  const windows = randomWindows(7, 33, 24, 4);
  const a = tokenLossVector(m, windows, { seed: 3 }),
    b = tokenLossVector(m, windows, { seed: 3 });
  assert.deepEqual(a, b);
  assert.deepEqual(a.indices, Array.from(fixedLossIndices(7, { nPositions: 32, seed: 3 })));
  assert.ok(a.indices.every((i) => i >= 0 && i < 32));
  const direct = lossesAtEach(m, windows, { indexOf: Int32Array.from(a.indices) });
  a.losses.forEach((l, w) => assert.ok(Math.abs(l - direct[w]) < 1e-6));
});
