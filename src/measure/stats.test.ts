/**
 * The bootstrap: intervals are reproducible for a seed, cover the true mean at the stated rate on
 * synthetic data, and shrink like 1/√n; the sample-size rule and the normal quantile.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../util/random.ts";
import { bootstrapMean, normalQuantile, samplesForHalfWidth, sd, tInterval95, tQuantile975 } from "./stats.ts";

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

test("tQuantile975() matches Student's t tables, and tInterval95() covers the mean of 3 normal draws 95% of the time", () => {
  // Published t(0.975, df) (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2), inside and beyond the table.
  const known: Array<[number, number]> = [
    [1, 12.706],
    [2, 4.303],
    [10, 2.228],
    [30, 2.042],
    [40, 2.021],
    [60, 2.0],
    [100, 1.984],
  ];
  for (const [df, t] of known) assert.ok(Math.abs(tQuantile975(df) - t) < 1.5e-3, `df ${df}: ${tQuantile975(df)} vs ${t}`);
  assert.throws(() => tQuantile975(0), /df must be a positive integer, found 0/);
  assert.equal(tInterval95([1]), null);
  const [lo, hi] = tInterval95([1, 3])!;
  assert.ok(Math.abs(lo - (2 - 12.706)) < 1e-9 && Math.abs(hi - (2 + 12.706)) < 1e-9, `${lo}, ${hi}`);
  // Coverage with three seeds (df 2): 2,000 trials, sd of the rate √(0.95·0.05/2000) ≈ 0.005.
  const rng = new Rng(7);
  let covered = 0;
  for (let t = 0; t < 2000; t++) {
    const ci = tInterval95([rng.normal(), rng.normal(), rng.normal()])!;
    if (ci[0] <= 0 && 0 <= ci[1]) covered++;
  }
  assert.ok(Math.abs(covered / 2000 - 0.95) < 0.016, `coverage ${covered / 2000}`);
});
