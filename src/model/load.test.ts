/**
 * Loading checkpoints into models: the shortformer convention changed with checkpoint format 2
 * (positions added after ln1, as TransformerLens does); a format-1 file of a `shortformer` model
 * is refused with a message naming the convention, and loads as `shortformer-pre-ln`, whose
 * forward pass is icl-lab 0.1's `ln1(resid + pos)`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as op from "../engine/ops/index.ts";
import { noGrad } from "../engine/tensor.ts";
import { saveCheckpoint } from "./checkpoint.ts";
import { saveTensors, type FileTensor } from "./safetensors.ts";
import { parseModelConfig } from "./config.ts";
import { modelFromCheckpoint } from "./load.ts";
import { buildModel, type LanguageModel } from "./model.ts";

const base = { kind: "attn-only", nLayers: 1, dModel: 8, nHeads: 2, dHead: 4, nCtx: 6, dVocab: 7 } as const;

function params(m: LanguageModel): Record<string, FileTensor> {
  return Object.fromEntries([...m.params].map(([k, t]) => [k, { data: Float32Array.from(t.data), shape: [...t.shape] }]));
}

/** A format-1 checkpoint as icl-lab 0.1 wrote it (same layout, format_version "1"). */
function saveVersion1(path: string, m: LanguageModel): void {
  const tensors = Object.fromEntries(Object.entries(params(m)).map(([k, t]) => [`params.${k}`, t]));
  saveTensors(path, tensors, { metadata: { format: "icl-lab-checkpoint", format_version: "1", tokens: "12" } });
}

test("a format-1 shortformer checkpoint is refused as 'shortformer' and loads as 'shortformer-pre-ln'", () => {
  const dir = mkdtempSync(join(tmpdir(), "icl-load-"));
  try {
    const old = buildModel(parseModelConfig({ ...base, positions: "shortformer-pre-ln" }), 3);
    const path = join(dir, "ckpt-000000000012.safetensors");
    saveVersion1(path, old);
    assert.throws(
      () => modelFromCheckpoint({ ...base, positions: "shortformer" }, path),
      /format 1\) was trained with icl-lab 0\.1's shortformer convention, positions added before ln1.*"shortformer-pre-ln"/,
    );
    const { model, checkpoint } = modelFromCheckpoint({ ...base, positions: "shortformer-pre-ln" }, path);
    assert.equal(checkpoint.formatVersion, 1);
    const x = Int32Array.from([1, 2, 3, 4, 5, 6]);
    noGrad(() => assert.deepEqual(Array.from(model.forward(x, 1).logits.data), Array.from(old.forward(x, 1).logits.data)));
    // Other position kinds did not change meaning: format 1 loads as before.
    const learned = buildModel(parseModelConfig({ ...base, positions: "learned" }), 3);
    saveVersion1(path, learned);
    assert.equal(modelFromCheckpoint({ ...base, positions: "learned" }, path).checkpoint.formatVersion, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("checkpoints are written as format 2 and a shortformer model loads from them", () => {
  const dir = mkdtempSync(join(tmpdir(), "icl-load-"));
  try {
    const m = buildModel(parseModelConfig({ ...base, positions: "shortformer" }), 5);
    const { path } = saveCheckpoint(dir, 12, { params: params(m) });
    const { checkpoint } = modelFromCheckpoint({ ...base, positions: "shortformer" }, path);
    assert.equal(checkpoint.formatVersion, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("shortformer adds W_pos after ln1 to the query and key inputs (TransformerLens); pre-ln adds it before", () => {
  // One layer, one head, d_head = d_model, identity W_Q = W_K = W_V = W_O: the attention pattern
  // depends on where W_pos enters, which the two conventions place differently.
  const x = Int32Array.from([0, 1, 2, 3, 4, 5]);
  const outs: number[][] = [];
  for (const positions of ["shortformer", "shortformer-pre-ln"] as const) {
    const m = buildModel(parseModelConfig({ ...base, nHeads: 1, dHead: 8, positions }), 9);
    const expected = noGrad(() => {
      const resid = op.embedding(m.params.get("embed.W_E")!, x, [1, 6]);
      const pos = op.slice(m.params.get("pos_embed.W_pos")!, 0, 0, 6);
      const ln1 = (t: typeof resid) => op.layerNorm(t, m.params.get("blocks.0.ln1.w")!, m.params.get("blocks.0.ln1.b")!);
      const qk = positions === "shortformer" ? op.add(ln1(resid), pos) : ln1(op.add(resid, pos));
      const proj = (t: typeof resid, w: string) => op.add(op.matmul(t, m.params.get(`blocks.0.attn.W_${w}`)!), m.params.get(`blocks.0.attn.b_${w}`)!);
      return Array.from(op.attention(proj(qk, "Q"), proj(qk, "K"), proj(ln1(resid), "V"), { nHeads: 1, pattern: true }).pattern!.data);
    });
    const got = noGrad(() => Array.from(m.forward(x, 1, { hooks: { capture: ["blocks.0.attn.hook_pattern"] } }).cache.get("blocks.0.attn.hook_pattern")!.data));
    assert.deepEqual(got, expected, positions);
    outs.push(got);
  }
  assert.notDeepEqual(outs[0], outs[1]);
});
