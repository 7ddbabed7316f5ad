/**
 * A run's measurement inputs: derived pools reproduce what the measures compute from the token
 * frequencies (so a run trained before they were stored gets the same numbers from derived ones),
 * a given pool is what the measures draw from, the stored form reads back exactly, and a malformed
 * one or a pool that does not fit the model is an error that says why.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { headScores } from "./heads.ts";
import { deriveMeasureInputs, inputsDiffer, measureInputsFromJson, measureInputsToJson } from "./inputs.ts";
import { MEASURES } from "./index.ts";
import { taskAccuracy, type TaskName } from "./tasks.ts";
import { tinyModel, useReference } from "./testutil.ts";

useReference();

const V = 24,
  BOS = 0;
// Skewed counts with two unseen tokens: the pools leave out BOS, the unseen and the extremes.
const frequencies = Float64Array.from({ length: V }, (_, i) => (i === 7 || i === 9 ? 0 : (V - i) ** 2));
const options = { heads: { nSequences: 2 }, tasks: { tasks: ["induction", "classification"] as TaskName[], nPrompts: 4, shots: [0, 2] } };

test("derived pools reproduce the measures' own pools: the same head scores and task accuracies", () => {
  const model = tinyModel("attn-only");
  const inputs = deriveMeasureInputs(model.config, { seed: 4, bos: BOS, frequencies, options });
  for (const pool of [inputs.pools.heads, inputs.pools.tasks]) {
    assert.ok(!pool.includes(BOS) && !pool.includes(7) && !pool.includes(9) && !pool.includes(1), "BOS, unseen and most frequent left out");
  }
  const fromFrequencies = headScores(model, { seed: 4, vocab: { bos: BOS, frequencies }, nSequences: 2 });
  assert.deepEqual(headScores(model, { seed: 4, vocab: { bos: BOS }, pool: inputs.pools.heads, nSequences: 2 }), fromFrequencies);
  // The registry with the inputs alone (no data): the trainer's and the CLI's path.
  assert.deepEqual(MEASURES.heads(model, { inputs }), fromFrequencies);
  assert.deepEqual(MEASURES.tasks(model, { inputs }), taskAccuracy(model, { seed: 4, vocab: { bos: BOS, frequencies }, ...options.tasks }));
  // Without the pool (every token but BOS) the numbers differ: the pool matters.
  assert.notDeepEqual(headScores(model, { seed: 4, vocab: { bos: BOS }, nSequences: 2 }).heads, fromFrequencies.heads);
});

test("the stored form reads back exactly; malformed ones and misfit pools are errors that say why", () => {
  const inputs = deriveMeasureInputs({ dVocab: V, nCtx: 32 }, { seed: 1, bos: BOS, frequencies, options });
  const back = measureInputsFromJson(JSON.parse(JSON.stringify(measureInputsToJson(inputs))));
  assert.deepEqual(back, inputs);
  assert.equal(inputsDiffer(back, inputs), "");
  assert.equal(
    inputsDiffer({ ...back, seed: 2, pools: { ...back.pools, heads: back.pools.heads.subarray(1) } }, inputs),
    `seed 2 vs 1, heads pool of ${inputs.pools.heads.length - 1} vs ${inputs.pools.heads.length} tokens`,
  );
  assert.throws(() => measureInputsFromJson({ version: 2 }), /expected an object with version 1/);
  assert.throws(() => measureInputsFromJson({ ...measureInputsToJson(inputs), bos: "x" }), /'bos' must be a token id or null/);
  assert.throws(() => measureInputsFromJson({ ...measureInputsToJson(inputs), pools: { heads: [1, -2], tasks: [] } }), /'pools' must hold/);
  const model = tinyModel("attn-only");
  assert.throws(
    () => headScores(model, { vocab: { bos: BOS }, pool: Int32Array.of(1, 2, 99) }),
    /headScores: the token pool holds 99, expected ids in \[0, 24\)/,
  );
  assert.throws(() => headScores(model, { vocab: { bos: BOS }, pool: Int32Array.of(1, 0, 2) }), /holds the BOS token 0/);
});
