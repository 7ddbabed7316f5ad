/**
 * Head ablation: zero-ablation matches a hand-made ablated forward pass, the two variants coincide
 * in the last layer (no later pattern can change) and differ in an earlier one, and shares follow
 * from the scores.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { allHeads, headAblation } from "./ablation.ts";
import { iclScore } from "./icl-score.ts";
import { randomWindows, tinyModel, useReference } from "./testutil.ts";

useReference();
const idx = { early: 3, late: 29 };

test("zero-ablating a head gives the ICL score of the forward pass with that head ablated", () => {
  const m = tinyModel("attn-only", {}, 5);
  const windows = randomWindows(10, 33, 24, 1);
  const r = headAblation(m, windows, { ...idx, seed: 2, variants: ["zero"] });
  assert.equal(r.heads.length, 4);
  const clean = iclScore(m, windows, { ...idx, seed: 2 });
  assert.ok(Math.abs(r.clean.score - clean.score) < 1e-9);
  for (const h of r.heads) {
    const direct = iclScore(m, windows, { ...idx, seed: 2, hooks: { ablate: [{ layer: h.layer, head: h.head }] } });
    assert.ok(Math.abs(h.zero!.score - direct.score) < 1e-6, `head ${h.layer}.${h.head}: ${h.zero!.score} vs ${direct.score}`);
    assert.ok(Math.abs(h.zero!.delta - (direct.score - clean.score)) < 1e-6);
    assert.ok(h.zero!.deltaLo <= h.zero!.delta && h.zero!.delta <= h.zero!.deltaHi);
    assert.ok(Math.abs(h.zero!.share! - (clean.score - direct.score) / clean.score) < 1e-6);
    assert.equal(h.pattern, undefined);
  }
});

test("pattern-preserving ablation equals zero-ablation in the last layer and differs in the first", () => {
  const m = tinyModel("attn-only", {}, 6);
  const windows = randomWindows(6, 33, 24, 2);
  const r = headAblation(m, windows, { ...idx, batchSize: 4 });
  let firstDiffers = false;
  for (const h of r.heads) {
    if (h.layer === 1) assert.ok(Math.abs(h.zero!.score - h.pattern!.score) < 1e-6, `last-layer head ${h.head}`);
    else if (Math.abs(h.zero!.score - h.pattern!.score) > 1e-6) firstDiffers = true;
  }
  assert.ok(firstDiffers, "freezing the second layer's patterns changes a first-layer ablation");
});

test("models without attention have no heads to ablate, only the clean score", () => {
  const m = tinyModel("mlp-only");
  assert.deepEqual(allHeads(m), []);
  const r = headAblation(m, randomWindows(4, 33, 24), idx);
  assert.deepEqual(r.heads, []);
  assert.ok(Number.isFinite(r.clean.score));
});
