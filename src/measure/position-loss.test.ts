/**
 * The evaluation loop: losses at chosen indices equal the cross-entropy of a plain full forward
 * pass, do not depend on the batch size or on tokens after the last index (causality), use index
 * i for predicting token i + 1, and leave nothing on the tape.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as op from "../engine/ops/index.ts";
import { noGrad, releaseGraph, tapeLength } from "../engine/tensor.ts";
import { lossesAt, lossesAtEach, positionLoss } from "./position-loss.ts";
import { randomWindows, tinyModel, useReference } from "./testutil.ts";

useReference();
const L = 33,
  V = 24;

function directLosses(kind: Parameters<typeof tinyModel>[0], windows: Int32Array, n: number): Float32Array {
  const m = tinyModel(kind);
  const T = L - 1;
  const inputs = new Int32Array(n * T),
    targets = new Int32Array(n * T);
  for (let w = 0; w < n; w++) {
    for (let t = 0; t < T; t++) {
      inputs[w * T + t] = windows[w * L + t];
      targets[w * T + t] = windows[w * L + t + 1];
    }
  }
  const out = noGrad(() => Float32Array.from(op.crossEntropy(m.forward(inputs, n).logits, targets, { reduction: "none" }).data));
  releaseGraph();
  return out;
}

test("lossesAt() equals a full forward pass's per-token cross-entropy at index i (predicting token i + 1)", () => {
  const windows = randomWindows(5, L, V, 3);
  for (const kind of ["attn-only", "transformer", "mlp-only", "lstm"] as const) {
    const direct = directLosses(kind, windows, 5);
    const m = tinyModel(kind);
    const idx = [0, 4, 17, 31];
    for (const batchSize of [1, 2, 8]) {
      const r = lossesAt(m, windows, { indices: idx, batchSize });
      assert.equal(r.nWindows, 5);
      for (let w = 0; w < 5; w++) {
        idx.forEach((i, j) => {
          const a = r.values[w * idx.length + j],
            b = direct[w * (L - 1) + i];
          assert.ok(Math.abs(a - b) < 1e-5, `${kind} batch ${batchSize} window ${w} index ${i}: ${a} vs ${b}`);
        });
      }
    }
  }
});

test("lossesAt() leaves the tape empty (every batch is released)", () => {
  const m = tinyModel("attn-only");
  const before = tapeLength();
  lossesAt(m, randomWindows(9, L, V), { indices: [3, 20], batchSize: 4 });
  assert.equal(tapeLength(), before);
});

test("positionLoss() gives nCtx means and agrees with lossesAt() and lossesAtEach()", () => {
  const m = tinyModel("attn-only");
  const windows = randomWindows(6, L, V, 5);
  const p = positionLoss(m, windows, { perWindow: true });
  assert.equal(p.meanLoss.length, 32);
  assert.equal(p.perWindow!.length, 6);
  const r = lossesAt(m, windows, { indices: [10] });
  const mean10 = r.values.reduce((a, b) => a + b, 0) / 6;
  assert.ok(Math.abs(p.meanLoss[10] - mean10) < 1e-5);
  const each = lossesAtEach(m, windows, { indexOf: Int32Array.from([0, 5, 10, 31, 2, 7]) });
  [0, 5, 10, 31, 2, 7].forEach((i, w) => assert.ok(Math.abs(each[w] - p.perWindow![w][i]) < 1e-5));
  assert.ok(p.seLoss.every((s) => s >= 0));
});

test("bad windows and indices are errors that say what was expected", () => {
  const m = tinyModel("attn-only");
  assert.throws(() => lossesAt(m, new Int32Array(40), { indices: [1] }), /not a whole number of windows of 33 tokens/);
  assert.throws(() => lossesAt(m, randomWindows(2, L, V), { indices: [32] }), /needs 34 tokens per window, but windows have 33/);
  assert.throws(() => lossesAt(m, randomWindows(2, 40, V), { indices: [35], windowLength: 40 }), /nCtx is 32/);
  assert.throws(() => lossesAt(m, randomWindows(2, L, V), { indices: [1], nWindows: 3 }), /'nWindows' must be an integer in \[1, 2\]/);
});
