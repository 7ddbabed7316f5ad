/**
 * Few-shot tasks: a prompt never holds the answer where the model must not see it (never in the
 * slot being predicted; nowhere at all with 0 shots), the evaluator feeds exactly the prompts and
 * reads their last position, an oracle that copies from context solves every task with shots and
 * sits at chance without, and prompts that do not fit the context are reported as null.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tensor } from "../engine/tensor.ts";
import { parseModelConfig } from "../model/config.ts";
import type { ForwardOptions, LanguageModel } from "../model/model.ts";
import { Rng } from "../util/random.ts";
import { tokenPool } from "./heads.ts";
import { DEFAULT_SHOTS, TASK_NAMES, buildPrompts, evaluatePrompts, taskAccuracy, taskChance } from "./tasks.ts";
import { tinyModel, useReference } from "./testutil.ts";

useReference();
const V = 200,
  BOS = 0;
const pool = tokenPool(V, { bos: BOS });

test("a task prompt's answer is never in the slot the model predicts, and with 0 shots nowhere in the prompt", () => {
  for (const task of TASK_NAMES) {
    for (const shots of DEFAULT_SHOTS) {
      for (const p of buildPrompts(task, { n: 50, shots, pool, rng: new Rng(shots), bos: BOS })) {
        assert.equal(p.tokens[0], BOS);
        assert.ok(p.candidates.includes(p.answer), `${task}: the answer is a candidate`);
        assert.notEqual(p.tokens[p.tokens.length - 1], p.answer, `${task} ${shots} shots: the prompt ends with the answer`);
        if (shots === 0) assert.ok(!p.tokens.includes(p.answer), `${task}: 0-shot prompt contains its answer`);
        if (task === "kv-recall" && shots > 0) {
          // The answer appears once: as the value right after the queried key's shown pair.
          const at = p.tokens.indexOf(p.answer);
          assert.equal(p.tokens.lastIndexOf(p.answer), at);
          assert.equal(p.tokens[at - 1], p.tokens[p.tokens.length - 1]);
        }
      }
    }
  }
});

/** A model that returns, at each asked position, a logit of 1 for the token that followed the last earlier occurrence of the current token: perfect copying from context. */
function oracle(spy?: Array<{ tokens: Int32Array; B: number; positions: Int32Array }>): LanguageModel {
  const config = parseModelConfig({ kind: "attn-only", nLayers: 1, dModel: 4, nHeads: 1, dHead: 4, nCtx: 256, dVocab: V });
  return {
    config,
    params: new Map(),
    forward(tokens: Int32Array, B: number, opts: ForwardOptions = {}) {
      const T = tokens.length / B;
      const positions = opts.positions!;
      spy?.push({ tokens: Int32Array.from(tokens), B, positions: Int32Array.from(positions) });
      const logits = new Float32Array(positions.length * V);
      positions.forEach((flat, r) => {
        const b = Math.floor(flat / T),
          t = flat % T;
        const row = tokens.subarray(b * T, b * T + t + 1);
        for (let j = t - 1; j >= 0; j--) {
          if (row[j] === row[t]) {
            logits[r * V + row[j + 1]] = 1;
            break;
          }
        }
      });
      return { logits: tensor(logits, [positions.length, V]), cache: new Map() };
    },
  };
}

test("evaluatePrompts() feeds exactly the prompts (never the answer) and reads their last position", () => {
  const spy: Array<{ tokens: Int32Array; B: number; positions: Int32Array }> = [];
  const prompts = buildPrompts("induction", { n: 40, shots: 2, pool, rng: new Rng(1), bos: BOS });
  evaluatePrompts(oracle(spy), prompts, { batchSize: 7 });
  const seen: string[] = [];
  for (const call of spy) {
    const T = call.tokens.length / call.B;
    assert.deepEqual(
      Array.from(call.positions),
      Array.from({ length: call.B }, (_, b) => b * T + T - 1),
    );
    for (let b = 0; b < call.B; b++) seen.push(Array.from(call.tokens.subarray(b * T, (b + 1) * T)).join(","));
  }
  assert.deepEqual(seen.sort(), prompts.map((p) => Array.from(p.tokens).join(",")).sort());
});

test("an oracle that copies from context solves every task with shots and is at chance with none", () => {
  const r = taskAccuracy(oracle(), { nPrompts: 300, seed: 2, vocab: { bos: BOS } });
  for (const t of r.tasks) {
    assert.equal(t.chance, taskChance(t.name));
    assert.deepEqual(t.shots, [...DEFAULT_SHOTS]);
    t.shots.forEach((k, i) => {
      const acc = t.accuracy[i]!;
      // With 0 shots the oracle has nothing to copy: ties go to the lowest candidate id, right about 1/candidates of the time.
      if (k === 0) assert.ok(Math.abs(acc - t.chance) < 0.1, `${t.name} 0 shots: ${acc} vs chance ${t.chance}`);
      else assert.equal(acc, 1, `${t.name} ${k} shots`);
    });
  }
  assert.deepEqual(TASK_NAMES.map(taskChance), [1 / 10, 1 / 16, 1 / 2]);
});

test("taskAccuracy() reports null where a prompt does not fit the context, and is deterministic", () => {
  const m = tinyModel("attn-only", { dVocab: 64 }); // nCtx 32
  const a = taskAccuracy(m, { nPrompts: 20, seed: 1 });
  const induction = a.tasks.find((t) => t.name === "induction")!;
  assert.deepEqual(
    induction.accuracy.map((x) => x === null),
    [false, false, false, true, true, true],
  ); // 4 shots: 49 tokens
  const kv = a.tasks.find((t) => t.name === "kv-recall")!;
  assert.deepEqual(
    kv.accuracy.map((x) => x === null),
    [false, false, false, false, false, true],
  ); // 16 shots: 33 tokens
  for (const t of a.tasks) for (const x of t.accuracy) if (x !== null) assert.ok(x >= 0 && x <= 1);
  assert.deepEqual(taskAccuracy(m, { nPrompts: 20, seed: 1 }), a);
  assert.throws(
    () => taskAccuracy(tinyModel("attn-only"), { tasks: ["kv-recall"] }),
    /task 'kv-recall' needs 32 distinct tokens per prompt, but the token pool has 24/,
  );
});
