import { test } from "node:test";
import assert from "node:assert/strict";
import { meanSd, meanSdByKey } from "./summary.ts";

test("meanSd() gives the sample standard deviation, and null (not 0) below two values", () => {
  assert.deepEqual(meanSd([2, 4, 6]), { mean: 4, sd: 2 });
  assert.deepEqual(meanSd([5]), { mean: 5, sd: null });
});

test("meanSdByKey() leaves out null and non-finite values and gives null for a key with none", () => {
  const r = meanSdByKey([{ a: 1, b: null }, { a: 3, b: NaN }, { a: null }], ["a", "b"]);
  assert.deepEqual(r.values, { a: 2, b: null });
  assert.equal(r.sd.a, Math.SQRT2);
  assert.equal(r.sd.b, null);
});
