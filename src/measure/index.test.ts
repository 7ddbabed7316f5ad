/**
 * The registry: every measure runs by name on every model kind with one context, and returns plain
 * JSON (what a trainer stores at a checkpoint); an unknown name is an error listing the known ones.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tapeLength } from "../engine/tensor.ts";
import { MEASURES, MEASURE_NAMES, runMeasures, type MeasureContext } from "./index.ts";
import { TINY, randomWindows, tinyModel, useReference } from "./testutil.ts";

useReference();

const ctx: MeasureContext = {
  windows: randomWindows(6, 33, 64, 1),
  seed: 3,
  vocab: { bos: 0 },
  options: {
    icl: { early: 3, late: 30, resamples: 200 },
    ablation: { early: 3, late: 30, resamples: 200 },
    tasks: { nPrompts: 8, shots: [0, 1, 2] },
  },
};

test("every measure runs by name on every model kind and returns plain JSON", () => {
  assert.deepEqual(MEASURE_NAMES, ["icl", "positionLoss", "heads", "ablation", "tasks", "tokenLoss"]);
  const before = tapeLength();
  for (const kind of Object.keys(TINY) as Array<keyof typeof TINY>) {
    const m = tinyModel(kind, { dVocab: 64 });
    const r = runMeasures(m, MEASURE_NAMES, ctx);
    assert.deepEqual(Object.keys(r), MEASURE_NAMES);
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r, `${kind}: results survive JSON unchanged`);
    const heads = (r.heads as { heads: unknown[] }).heads;
    assert.equal(heads.length, kind === "attn-only" ? 4 : kind === "transformer" ? 2 : 0);
    assert.equal((r.positionLoss as { meanLoss: number[] }).meanLoss.length, 32);
    assert.deepEqual(MEASURES.icl(m, ctx), r.icl, "deterministic for the context's seed");
  }
  assert.equal(tapeLength(), before, "nothing left on the tape");
});

test("runMeasures() rejects an unknown measure name and lists the known ones", () => {
  assert.throws(
    () => runMeasures(tinyModel("attn-only"), ["icl", "induction"], ctx),
    /unknown measure 'induction'; expected one of icl, positionLoss, heads, ablation, tasks, tokenLoss/,
  );
});

test("the registry also takes the trainer's context: windows, token counts and end-of-document id from data", () => {
  const m = tinyModel("attn-only", { dVocab: 64 });
  const counts = Float64Array.from({ length: 64 }, (_, i) => i + 1);
  const trainerCtx: MeasureContext = {
    data: { eval: { windows: ctx.windows!, length: 33 }, tokenCounts: counts, eodId: 0 },
    tokens: 1000,
    seed: 3,
    options: ctx.options,
  };
  const a = runMeasures(m, ["icl", "heads", "tokenLoss"], trainerCtx);
  const b = runMeasures(m, ["icl", "heads", "tokenLoss"], { ...ctx, vocab: { bos: 0, frequencies: counts } });
  assert.deepEqual(a, b);
  assert.equal((a.heads as { bos: number | null }).bos, 0);
  assert.throws(() => MEASURES.icl(m, { seed: 1 }), /no evaluation windows \(expected ctx\.windows or ctx\.data\.eval\.windows\)/);
  assert.ok(Array.isArray((MEASURES.heads(m, { seed: 1 }) as { heads: unknown[] }).heads), "head scores need no windows");
});
