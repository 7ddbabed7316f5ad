import { test } from "node:test";
import assert from "node:assert/strict";
import { formatTokens } from "./format.ts";

test("formatTokens() prints counts with k, M and B and a dash when missing", () => {
  assert.equal(formatTokens(950), "950");
  assert.equal(formatTokens(12_345), "12.3k");
  assert.equal(formatTokens(24_000_000), "24.00M");
  assert.equal(formatTokens(1.63e9), "1.63B");
  assert.equal(formatTokens(null), "—");
  assert.equal(formatTokens(undefined), "—");
  assert.equal(formatTokens(Number.NaN), "—");
});

test("formatTokens({ compact }) drops trailing zeros for prose", () => {
  assert.equal(formatTokens(24_000_000, { compact: true }), "24M");
  assert.equal(formatTokens(1_500_000, { compact: true }), "1.5M");
  assert.equal(formatTokens(200_000, { compact: true }), "200k");
  assert.equal(formatTokens(20_480, { compact: true }), "20.5k");
  assert.equal(formatTokens(512, { compact: true }), "512");
});
