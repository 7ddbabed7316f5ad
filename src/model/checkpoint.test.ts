import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkpointFileName, latestValidCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint, type TrainingState } from "./checkpoint.ts";
import type { FileTensor } from "./safetensors.ts";
import { assertSameTensors, tempDir } from "./test-helpers.ts";

function trainingState(seed: number): TrainingState {
  const p = (n: number, k: number): FileTensor => ({ data: Float32Array.from({ length: n }, (_, i) => seed + i * k), shape: [n] });
  return {
    params: { "embed.W_E": p(6, 0.5), "blocks.0.attn.W_Q": p(4, -1) },
    optimizer: {
      m: { "embed.W_E": p(6, 0.1), "blocks.0.attn.W_Q": p(4, 0.2) },
      v: { "embed.W_E": p(6, 0.01), "blocks.0.attn.W_Q": p(4, 0.02) },
      step: 7 * seed,
    },
    rng: { s: ["12345678901234567890", "42"], spare: null },
    data: { position: 1000 * seed, epoch: 0 },
    extra: { lr: 0.001, note: "ünïcode" },
  };
}

test("saveCheckpoint() then loadCheckpoint() restores params, optimizer, rng, data and extra", (t) => {
  const dir = tempDir(t);
  const state = trainingState(3);
  const saved = saveCheckpoint(dir, 12_345, state);
  assert.equal(saved.path, join(dir, "ckpt-000000012345.safetensors"));
  const ck = loadCheckpoint(saved.path);
  assert.equal(ck.tokens, 12_345);
  assert.equal(ck.sha256, saved.sha256);
  assertSameTensors(ck.params, state.params);
  assertSameTensors(ck.optimizer!.m, state.optimizer!.m);
  assertSameTensors(ck.optimizer!.v, state.optimizer!.v);
  assert.equal(ck.optimizer!.step, 21);
  assert.deepEqual(ck.rng, state.rng);
  assert.deepEqual(ck.data, state.data);
  assert.deepEqual(ck.extra, state.extra);
  const paramsOnly = loadCheckpoint(saveCheckpoint(join(dir, "new", "folder"), 5, { params: state.params }).path);
  assert.equal(paramsOnly.optimizer, undefined);
  assert.equal(paramsOnly.rng, undefined);
});

test("saveCheckpoint() refuses JSON state that would not survive a round trip", (t) => {
  const dir = tempDir(t);
  const params = trainingState(1).params;
  assert.throws(() => saveCheckpoint(dir, 1, { params, rng: { s: 1n } as never }), /state\.rng: value\.s is a bigint/);
  assert.throws(() => saveCheckpoint(dir, 1, { params, extra: { lr: NaN } }), /state\.extra: value\.lr is NaN/);
  assert.throws(() => saveCheckpoint(dir, 1, { params, data: { pos: new Uint32Array(2) } as never }), /value\.pos is a Uint32Array/);
  assert.throws(() => saveCheckpoint(dir, -1, { params }), /tokens must be a non-negative integer/);
  assert.deepEqual(readdirSync(dir), []);
});

test("listCheckpoints() sorts by tokens and ignores temporary and foreign files", (t) => {
  const dir = tempDir(t);
  for (const tokens of [1_000_000, 50, 2_000]) saveCheckpoint(dir, tokens, { params: trainingState(1).params });
  writeFileSync(join(dir, `${checkpointFileName(9_999_999)}.tmp-123-abc`), "partial");
  writeFileSync(join(dir, "notes.txt"), "");
  assert.deepEqual(
    listCheckpoints(dir).map((c) => c.tokens),
    [50, 2_000, 1_000_000],
  );
  assert.deepEqual(listCheckpoints(join(dir, "missing")), []);
});

test("latestValidCheckpoint() skips and reports a corrupt latest file and falls back to the previous one", (t) => {
  const dir = tempDir(t);
  saveCheckpoint(dir, 100, trainingState(1));
  saveCheckpoint(dir, 200, trainingState(2));
  const newest = saveCheckpoint(dir, 300, trainingState(3)).path;
  const bytes = readFileSync(newest);
  writeFileSync(newest, bytes.subarray(0, bytes.length - 100)); // torn write on a filesystem without atomic rename
  const { found, skipped } = latestValidCheckpoint(dir);
  assert.equal(found?.tokens, 200);
  assert.equal(found?.optimizer?.step, 14);
  assert.equal(skipped.length, 1);
  assert.equal(skipped[0].tokens, 300);
  assert.match(skipped[0].reason, /ckpt-000000000300\.safetensors is corrupt: .*truncated/);

  saveCheckpoint(dir, 400, { params: trainingState(4).params });
  assert.equal(latestValidCheckpoint(dir).found?.tokens, 400);
  const resumable = latestValidCheckpoint(dir, { resumable: true });
  assert.equal(resumable.found?.tokens, 200);
  assert.deepEqual(
    resumable.skipped.map((s) => s.tokens),
    [400, 300],
  );

  const empty = tempDir(t);
  assert.deepEqual(latestValidCheckpoint(empty), { found: null, skipped: [] });
});

test("loadCheckpoint() rejects a file renamed to another token count", (t) => {
  const dir = tempDir(t);
  const { path } = saveCheckpoint(dir, 100, trainingState(1));
  const renamed = join(dir, checkpointFileName(999));
  renameSync(path, renamed);
  assert.throws(() => loadCheckpoint(renamed), /file name says 999 tokens but the metadata says 100/);
});
