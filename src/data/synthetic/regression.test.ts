/**
 * The in-context regression generator: layout of both formats, y = ⟨w, x⟩ for every example and the
 * query, fresh w per sequence, Var y ≈ 1, determinism, option checks, and the least-squares
 * reference (exact once k ≥ D examples are given).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../util/random.ts";
import {
  contextPositions,
  leastSquaresPrediction,
  predictionPositions,
  queryPosition,
  queryToken,
  sampleRegression,
  sequenceLength,
  sequenceOf,
} from "./regression.ts";

const D = 3,
  N = 5;

for (const format of ["interleaved", "paired"] as const) {
  test(`sampleRegression() lays out x and y tokens with y = ⟨w, x⟩ (${format})`, () => {
    const b = sampleRegression({ dim: D, context: N, format }, 4, new Rng(1));
    const T = format === "paired" ? N + 1 : 2 * N + 1;
    assert.equal(b.T, T);
    assert.equal(sequenceLength({ dim: D, context: N, format }), T);
    assert.equal(b.dIn, D + 1);
    assert.equal(b.inputs.length, 4 * T * (D + 1));
    for (let s = 0; s < 4; s++) {
      const tok = (p: number) => Array.from(b.inputs.subarray((s * T + p) * (D + 1), (s * T + p + 1) * (D + 1)));
      for (let k = 0; k <= N; k++) {
        const x = Array.from(b.xs.subarray((s * (N + 1) + k) * D, (s * (N + 1) + k + 1) * D));
        const y = x.reduce((a, v, e) => a + v * b.w[s * D + e], 0);
        assert.ok(Math.abs(b.targets[s * (N + 1) + k] - y) < 1e-5, `y_${k + 1} = ⟨w, x⟩`);
        const isQuery = k === N;
        const xp = isQuery ? queryPosition(format, N) : format === "paired" ? k : 2 * k;
        const t = tok(xp);
        x.forEach((v, e) => assert.ok(Math.abs(t[e] - v) < 1e-6, `x_${k + 1}[${e}] at position ${xp}`));
        if (isQuery) assert.equal(t[D], 0, "the query carries no target");
        else if (format === "paired") assert.ok(Math.abs(t[D] - y) < 1e-5, "the paired token carries y");
        else {
          assert.equal(t[D], 0, "an x token carries no target");
          const yt = tok(2 * k + 1);
          assert.deepEqual(yt.slice(0, D), [0, 0, 0]);
          assert.ok(Math.abs(yt[D] - y) < 1e-5, "the y token carries y");
        }
        assert.deepEqual(Array.from(queryToken(b, k + 1, s)).slice(0, D), x, "queryToken() is (x_k, 0)");
      }
    }
    assert.deepEqual(predictionPositions({ dim: D, context: N, format }), format === "paired" ? [N] : [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(contextPositions(format, 2), format === "paired" ? [0, 1] : [0, 1, 2, 3]);
  });
}

test("sampleRegression() draws a fresh w per sequence with Var y ≈ 1, deterministically for a generator state", () => {
  const b = sampleRegression({ dim: 4, context: 20 }, 400, new Rng(3));
  const ys = Array.from(b.targets);
  const v = ys.reduce((a, y) => a + y * y, 0) / ys.length;
  assert.ok(v > 0.85 && v < 1.15, `Var y = ${v}`);
  assert.notDeepEqual(Array.from(b.w.subarray(0, 4)), Array.from(b.w.subarray(4, 8)));
  const again = sampleRegression({ dim: 4, context: 20 }, 400, new Rng(3));
  assert.deepEqual(again.inputs, b.inputs);
  const other = sampleRegression({ dim: 4, context: 20 }, 400, new Rng(4));
  assert.notDeepEqual(other.inputs, b.inputs);
});

test("sampleRegression() names the bad option", () => {
  assert.throws(() => sampleRegression({ dim: 0, context: 3 }, 1, new Rng(0)), /'dim' must be a positive integer, found 0/);
  assert.throws(() => sampleRegression({ dim: 2, context: 1.5 }, 1, new Rng(0)), /'context' must be a positive integer/);
  assert.throws(() => sampleRegression({ dim: 2, context: 3, format: "x" as never }, 1, new Rng(0)), /'format' must be 'interleaved' or 'paired', found 'x'/);
  assert.throws(() => sampleRegression({ dim: 2, context: 3 }, 0, new Rng(0)), /'batch' must be a positive integer/);
});

test("leastSquaresPrediction() is 0 without examples and recovers y_q once k ≥ D", () => {
  const b = sampleRegression({ dim: D, context: N, format: "paired" }, 3, new Rng(5));
  for (let s = 0; s < 3; s++) {
    const q = sequenceOf(b, s);
    const yq = q.targets[N];
    assert.equal(leastSquaresPrediction(q, 0), 0);
    for (let k = D; k <= N; k++) assert.ok(Math.abs(leastSquaresPrediction(q, k) - yq) < 1e-4, `k=${k}: ${leastSquaresPrediction(q, k)} vs ${yq}`);
    assert.ok(Math.abs(leastSquaresPrediction(q, 1) - yq) > 1e-6, "one example in 3 dimensions does not determine w");
  }
});
