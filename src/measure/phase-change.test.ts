/**
 * Phase-change and loss-bump detection: a planted sigmoid drop is found at the right place with
 * the right size, a flat noisy curve is "none", a rising induction score is found, and a planted
 * bump on a convex loss curve is located while a noisy convex curve has none.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../util/random.ts";
import { detectLossBump, lowerHull } from "./loss-bump.ts";
import { detectPhaseChange, iclPhaseChange, inductionPhaseChange, type TrajectoryPoint } from "./phase-change.ts";

/** Checkpoints 8 per decade from 1e6 to 1e10 tokens. */
const xs = Array.from({ length: 33 }, (_, i) => 6 + i / 8);
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

test("a planted sigmoid drop of the ICL score is found: start, end and size at the right place", () => {
  const rng = new Rng(1);
  const x0 = 8.3,
    w = 0.08; // centre at 2e8 tokens; 10% → 90% spans 2·ln(9)·w ≈ 0.35 decades (Olsson's: about a factor of 2)
  const pts: TrajectoryPoint[] = xs.map((x) => ({ tokens: 10 ** x, value: 0.02 - 0.4 * sigmoid((x - x0) / w) + 0.01 * rng.normal() }));
  const r = iclPhaseChange(pts);
  assert.equal(r.status, "found");
  if (r.status !== "found") return;
  const start = Math.log10(r.start),
    end = Math.log10(r.end),
    mid = Math.log10(r.steepest);
  assert.ok(Math.abs(start - (x0 - w * Math.log(9))) < 0.15, `start at 10^${start.toFixed(2)}`);
  assert.ok(Math.abs(end - (x0 + w * Math.log(9))) < 0.15, `end at 10^${end.toFixed(2)}`);
  assert.ok(Math.abs(mid - x0) < 0.15, `steepest at 10^${mid.toFixed(2)}`);
  assert.ok(Math.abs(r.size - 0.4) < 0.05, `size ${r.size}`);
  assert.ok(r.steepestSlope < 0);
  assert.ok(r.shareInWindow! > 0.75);
  assert.ok(Math.abs(r.from - 0.02) < 0.03 && Math.abs(r.to - -0.38) < 0.03);
});

test("a flat noisy ICL-score curve has no phase change, even with an outlier checkpoint", () => {
  const rng = new Rng(2);
  const pts = xs.map((x) => ({ tokens: 10 ** x, value: -0.05 + 0.04 * rng.normal() }));
  pts[15].value = -0.35; // one bad checkpoint
  const r = iclPhaseChange(pts);
  assert.equal(r.status, "none");
  assert.match((r as { reason: string }).reason, /below the threshold|within/);
  // Noise larger than the threshold is not a phase change either.
  const loud = xs.map((x) => ({ tokens: 10 ** x, value: 0.15 * rng.normal() }));
  assert.equal(iclPhaseChange(loud).status, "none");
  assert.equal(detectPhaseChange([{ tokens: 1, value: 0 }]).status, "none");
});

test("a gradual drift is not a phase change: the window must be narrow (≤ maxWidthDecades)", () => {
  // 0.4 nats lost at an even pace over 2 decades (as a 1-layer model drifts), little noise.
  const rng = new Rng(3);
  const pts = xs.map((x) => ({ tokens: 10 ** x, value: -0.4 * Math.min(1, Math.max(0, (x - 7) / 2)) + 0.005 * rng.normal() }));
  const r = iclPhaseChange(pts);
  assert.equal(r.status, "none");
  assert.match((r as { reason: string }).reason, /^gradual: the change of 0\.[34]\d* spreads over 1\.[5-7]\d decades/);
  assert.ok(r.size > 0.35, `the size of the drift is still reported: ${r.size}`);
  // The same drop within a quarter of a decade is abrupt; a wider limit accepts the drift.
  const abrupt = xs.map((x) => ({ tokens: 10 ** x, value: -0.4 * Math.min(1, Math.max(0, (x - 8) / 0.25)) + 0.005 * rng.normal() }));
  assert.equal(iclPhaseChange(abrupt).status, "found");
  assert.equal(detectPhaseChange(pts, { maxWidthDecades: 2 }).status, "found");
  // An abrupt step followed by a slow tail (smeared keys in one layer): 0.8 nats between two
  // checkpoints, then 0.7 more over 1.5 decades: the window is wide, but most of the change
  // happens within a doubling of tokens (checkpoints 10 per decade, as the demo's: the smoothing
  // spreads a step over three intervals, which must fit in the doubling).
  const xs10 = Array.from({ length: 41 }, (_, i) => 6 + i / 10);
  const tail = xs10.map((x) => ({ tokens: 10 ** x, value: (x >= 7.5 ? -0.8 : 0) - 0.7 * Math.min(1, Math.max(0, (x - 7.5) / 1.5)) + 0.005 * rng.normal() }));
  const t = iclPhaseChange(tail);
  assert.equal(t.status, "found");
  if (t.status === "found") assert.ok(t.widthDecades > 0.6, `window ${t.widthDecades} decades`);
  assert.equal(detectPhaseChange(tail, { minShareInDoubling: 0.9 }).status, "none");
});

test("the best head's induction score rising is found (direction up)", () => {
  const x0 = 8.0;
  const checkpoints = xs.map((x) => ({
    tokens: 10 ** x,
    heads: [
      { layer: 0, head: 0, induction: 0.02 },
      { layer: 1, head: 3, induction: 0.01 + 0.74 * sigmoid((x - x0) / 0.1) },
    ],
  }));
  const r = inductionPhaseChange(checkpoints);
  assert.equal(r.status, "found");
  assert.deepEqual([r.layer, r.head], [1, 3]);
  if (r.status === "found") {
    assert.ok(Math.abs(Math.log10(r.steepest) - x0) < 0.15);
    assert.ok(Math.abs(r.size - 0.74) < 0.05);
    assert.ok(r.to > r.from);
  }
  assert.equal(inductionPhaseChange(xs.map((x) => ({ tokens: 10 ** x, heads: [] }))).status, "none");
});

test("lowerHull() keeps the convex minorant's vertices", () => {
  assert.deepEqual(lowerHull([0, 1, 2, 3, 4], [4, 1, 2, 0, 3]), [0, 1, 3, 4]);
});

/**
 * A training-loss curve logged every step: flat at ln(4096) ≈ 8.3 untrained, falling around 1.6e5
 * tokens, then a power law in tokens (5.8 / (1 + (tokens/1.6e5)^0.8): convex in log tokens after
 * its inflection), plus noise and an optional bump at 2e7 tokens.
 */
function lossCurve(seed: number, bump: number): TrajectoryPoint[] {
  const rng = new Rng(seed);
  const pts: TrajectoryPoint[] = [];
  for (let step = 1; step <= 20000; step++) {
    const tokens = step * 4096;
    const x = Math.log10(tokens);
    const base = 2.5 + 5.8 / (1 + 10 ** (0.8 * (x - 5.2)));
    const b = bump * Math.exp(-(((x - 7.3) / 0.12) ** 2));
    pts.push({ tokens, value: base + b + 0.05 * rng.normal() });
  }
  return pts;
}

test("a planted loss bump is located; a noisy convex loss curve has none", () => {
  const found = detectLossBump(lossCurve(3, 0.08));
  assert.equal(found.status, "found");
  if (found.status === "found") {
    assert.ok(Math.abs(Math.log10(found.peak) - 7.3) < 0.15, `peak at 10^${Math.log10(found.peak).toFixed(2)}`);
    assert.ok(found.start < found.peak && found.peak < found.end);
    assert.ok(found.height > 0.04 && found.height < 0.12, `height ${found.height}`);
  }
  const none = detectLossBump(lossCurve(4, 0));
  assert.equal(none.status, "none", JSON.stringify(none));
});
