/**
 * The ICL score: the statistic on known losses, the model path agreeing with the per-position
 * curve, and a model without attention (MLP-only: each position sees its own token only) scoring
 * ≈ 0 within its interval.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ICL_EARLY_INDEX, ICL_LATE_INDEX, iclScore, iclScoreFromLosses, iclScoreOfCurve } from "./icl-score.ts";
import { positionLoss } from "./position-loss.ts";
import { randomWindows, tinyModel, useReference } from "./testutil.ts";

useReference();

test("iclScoreOfCurve() of a known loss vector is loss[499] − loss[49] (the 500th and 50th tokens)", () => {
  const curve = Array.from({ length: 512 }, (_, i) => 5 - i / 1000);
  const r = iclScoreOfCurve(curve);
  assert.equal(ICL_EARLY_INDEX, 49);
  assert.equal(ICL_LATE_INDEX, 499);
  assert.equal(r.loss50, 5 - 49 / 1000);
  assert.equal(r.loss500, 5 - 499 / 1000);
  assert.ok(Math.abs(r.score - -0.45) < 1e-12);
  assert.throws(() => iclScoreOfCurve(curve.slice(0, 400)), /at least 500 losses/);
});

test("iclScoreFromLosses() averages per-window differences and brackets them with its interval", () => {
  const early = [4, 5, 6, 5],
    late = [3.5, 4.8, 5.1, 4.6];
  const r = iclScoreFromLosses(early, late, { seed: 1 });
  assert.ok(Math.abs(r.score - (-0.5 - 0.2 - 0.9 - 0.4) / 4) < 1e-12);
  assert.equal(r.loss50, 5);
  assert.ok(Math.abs(r.loss500 - 4.5) < 1e-12);
  assert.ok(r.lo <= r.score && r.score <= r.hi);
  assert.ok(r.hi <= -0.2 + 1e-12 && r.lo >= -0.9 - 1e-12, "the interval lies inside the range of the differences");
  assert.equal(r.nWindows, 4);
  // A constant difference has no uncertainty.
  const c = iclScoreFromLosses([1, 2, 3], [0.5, 1.5, 2.5]);
  assert.equal(c.halfWidth, 0);
  assert.equal(c.score, -0.5);
});

test("iclScore() on a model equals the per-position curve's difference at the same indices", () => {
  const m = tinyModel("attn-only");
  const windows = randomWindows(12, 33, 24, 2);
  const r = iclScore(m, windows, { early: 4, late: 30, batchSize: 5 });
  const curve = positionLoss(m, windows).meanLoss;
  assert.ok(Math.abs(r.score - (curve[30] - curve[4])) < 1e-5);
  assert.ok(Math.abs(r.loss50 - curve[4]) < 1e-5);
  assert.equal(r.nWindows, 12);
  assert.ok(Number.isFinite(r.sdDiff) && r.windowsForTarget >= 1);
  const again = iclScore(m, windows, { early: 4, late: 30, batchSize: 3 });
  assert.deepEqual(again, r, "deterministic and independent of the batch size");
});

test("a model with no attention (MLP-only) has ICL score ≈ 0 within its interval at indices 49 and 499", () => {
  // i.i.d. tokens: an MLP-only model's loss at index i depends on tokens i and i + 1 only, so the
  // two indices have the same loss distribution and the true score is 0.
  const m = tinyModel("mlp-only", { nCtx: 512, dVocab: 16, dModel: 8, dMlp: 16 }, 3);
  const windows = randomWindows(300, 513, 16, 11);
  const r = iclScore(m, windows, { seed: 5, batchSize: 16 });
  assert.equal(r.nWindows, 300);
  assert.ok(r.lo <= 0 && 0 <= r.hi, `score ${r.score} interval [${r.lo}, ${r.hi}]`);
  assert.ok(Math.abs(r.score) < 0.2, `score ${r.score}`);
  assert.ok(r.halfWidth > 0 && r.halfWidth < 0.2, `half-width ${r.halfWidth}`);
});

test("iclScore() rejects indices in the wrong order and windows too short", () => {
  const m = tinyModel("attn-only");
  assert.throws(() => iclScore(m, randomWindows(2, 33, 24), { early: 10, late: 5 }), /'early' \(10\) must be an integer index before 'late' \(5\)/);
  assert.throws(
    () => iclScore(m, randomWindows(2, 33, 24)),
    /loss indices 49 and 499 \(tokens 50 and 500\) need nCtx ≥ 500, but the model's nCtx is 32; pass \{ early, late \}/,
  );
  const big = tinyModel("mlp-only", { nCtx: 512 });
  assert.throws(() => iclScore(big, randomWindows(2, 300, 24), { windowLength: 300 }), /loss index 499 needs 501 tokens per window, but windows have 300/);
});
