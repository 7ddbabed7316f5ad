/**
 * The phase-change analysis of stored series: the ICL drop is judged against the median bootstrap
 * standard error when stored (else an estimate from the scores), unusable points are left out the
 * same way for every caller, and the induction rise and loss bump come with it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { phaseAnalysis } from "./phase-analysis.ts";
import { detectLossBump } from "./loss-bump.ts";
import { iclPhaseChange, inductionPhaseChange } from "./phase-change.ts";

const tokens = Array.from({ length: 25 }, (_, i) => Math.round(10 ** (4 + i / 8)));
const drop = (t: number) => -0.05 - 0.4 / (1 + Math.exp(-(Math.log10(t) - 5.5) / 0.1));
const icl = tokens.map((t, i) => ({ tokens: t, value: drop(t) + 0.01 * Math.sin(i * 2.3), se: 0.02 + 0.001 * i }));
const heads = tokens.map((t) => ({
  tokens: t,
  heads: [
    { layer: 0, head: 0, induction: 0.01 },
    { layer: 1, head: 0, induction: 0.01 - drop(t) },
  ],
}));
const loss = tokens.map((t) => ({ tokens: t, value: 3 / Math.log10(t) }));

test("phaseAnalysis() judges the ICL drop against the median bootstrap se and finds the induction rise", () => {
  const a = phaseAnalysis({ icl, heads, loss });
  assert.equal(a.iclNoise, 0.032, "median of 0.020 … 0.044");
  assert.deepEqual(a.icl, iclPhaseChange(icl, { noise: 0.032 }));
  assert.notDeepEqual(a.icl, iclPhaseChange(icl), "the estimate from the scores is another noise");
  assert.equal(a.icl.status, "found");
  assert.deepEqual(a.induction, inductionPhaseChange(heads));
  assert.deepEqual([a.induction.status, a.induction.layer, a.induction.head], ["found", 1, 0]);
  assert.deepEqual(a.lossBump, detectLossBump(loss));
});

test("phaseAnalysis() leaves out what the detectors cannot use: tokens 0, NaN, lists that are not heads", () => {
  const clean = phaseAnalysis({ icl, heads, loss });
  const dirty = phaseAnalysis({
    icl: [{ tokens: 0, value: 5, se: 9 }, ...icl, { tokens: 2e7, value: NaN, se: 9 }],
    heads: [{ tokens: 0, heads: [{ layer: 9, head: 9, induction: 1 }] }, ...heads, { tokens: 3e7, heads: "corrupt" }],
    loss: [{ tokens: 0, value: 9 }, ...loss],
  });
  assert.deepEqual(dirty, clean);
  const bare = phaseAnalysis({ icl: icl.map(({ tokens, value }) => ({ tokens, value })), heads: [], loss: [] });
  assert.equal(bare.iclNoise, null);
  assert.deepEqual(bare.icl, iclPhaseChange(icl));
  assert.equal(bare.induction.status, "none");
});
