/**
 * The bootstrap: intervals are reproducible for a seed, cover the true mean at the stated rate on
 * synthetic data, and shrink like 1/√n; the sample-size rule and the normal quantile.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../util/random.ts";
import { bootstrapMean, normalQuantile, samplesForHalfWidth, sd } from "./stats.ts";

test("bootstrapMean() is deterministic for a seed and brackets the sample mean", () => {
  const rng = new Rng(1);
  const xs = Array.from({ length: 200 }, () => rng.normal());
  const a = bootstrapMean(xs, { seed: 7 }),
    b = bootstrapMean(xs, { seed: 7 });
  assert.deepEqual(a, b);
  assert.ok(a.lo < a.estimate && a.estimate < a.hi);
  // For a normal sample the percentile interval is close to ± 1.96 · sd / √n.
  const expected = (1.96 * sd(xs)) / Math.sqrt(xs.length);
  assert.ok(Math.abs(a.halfWidth - expected) / expected < 0.15, `half-width ${a.halfWidth} vs ${expected}`);
});

test("bootstrapMean() 95% intervals cover the true mean of skewed synthetic data about 95% of the time", () => {
  // Per-token losses are skewed (a long right tail): exponential(1) has mean 1. 400 data sets of
  // 200 values; the coverage of a 95% percentile interval should be 0.95 ± binomial noise
  // (sd √(0.95·0.05/400) ≈ 0.011) minus the percentile method's small-sample under-coverage.
  const rng = new Rng(42);
  let covered = 0;
  const trials = 400;
  for (let t = 0; t < trials; t++) {
    const xs = Float64Array.from({ length: 200 }, () => -Math.log(1 - rng.uniform()));
    const ci = bootstrapMean(xs, { seed: t, resamples: 500 });
    if (ci.lo <= 1 && 1 <= ci.hi) covered++;
  }
  const rate = covered / trials;
  assert.ok(rate >= 0.91 && rate <= 0.98, `coverage ${rate}`);
});

test("samplesForHalfWidth() follows n = (z·sd/h)² and normalQuantile() matches known values", () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
  assert.ok(Math.abs(normalQuantile(0.5)) < 1e-12);
  assert.ok(Math.abs(normalQuantile(0.001) + 3.090232) < 1e-5);
  assert.equal(samplesForHalfWidth(3.5, 0.05), Math.ceil(((1.959964 * 3.5) / 0.05) ** 2));
});

test("bootstrapMean() rejects empty input and bad options with a clear message", () => {
  assert.throws(() => bootstrapMean([]), /'values' is empty/);
  assert.throws(() => bootstrapMean([1, 2], { confidence: 1.5 }), /'confidence' must be in \(0, 1\)/);
});
