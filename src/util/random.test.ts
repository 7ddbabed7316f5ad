import { test } from "node:test";
import assert from "node:assert/strict";
import { hashString, mix32, Mulberry32, permutation, Rng, uniform, Xoshiro128 } from "./random.ts";

// Golden values recorded from the generators before they were brought into this module: every
// initialisation, data order and stored result depends on them, so they must never change.

test("Xoshiro128 gives its recorded stream for a number and a string seed, and resumes from its state", () => {
  const r = new Xoshiro128(42);
  assert.deepEqual([r.nextU32(), r.nextU32(), r.normal(), r.normal(), r.int(1000)], [2837322924, 544945897, 0.8308018983638238, -1.9218767357296727, 79]);
  assert.deepEqual(r.state(), { s: [1824647166, 603999424, 1022928101, 1623123832], spare: null });
  assert.equal(new Xoshiro128("seed-string").nextU32(), 612672045);
  const a = new Xoshiro128(7);
  a.normal(); // leaves a spare deviate in the state
  const b = Xoshiro128.fromState(a.state());
  assert.deepEqual([b.normal(), b.nextU32(), b.uniform()], [a.normal(), a.nextU32(), a.uniform()]);
});

test("Rng is the lab's name for Xoshiro128", () => {
  assert.equal(Rng, Xoshiro128);
});

test("Mulberry32, mix32, uniform and permutation give their recorded values", () => {
  const d = new Mulberry32(7, "x");
  assert.deepEqual([d.nextU32(), d.nextU32(), d.int(1000)], [3295972150, 252530750, 669]);
  assert.equal(mix32(1, "a", 2 ** 33 + 5), 2162538958);
  assert.equal(uniform(3, "b"), 0.9587582950480282);
  assert.deepEqual(Array.from(permutation(10, 5, "p")), [9, 7, 6, 0, 1, 8, 5, 3, 2, 4]);
});

test("hashString() is 32-bit FNV-1a of UTF-16 code units", () => {
  assert.equal(hashString(""), 0x811c9dc5);
  assert.equal(hashString("a"), 0xe40c292c); // the FNV-1a test vector for "a"
  assert.equal(hashString("héllo→"), 2573811383);
});
