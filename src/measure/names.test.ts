import { test } from "node:test";
import assert from "node:assert/strict";
import { ICL_COMMON, ICL_NATURAL, extraIclMeasure, iclAt, iclAtLabel, iclAtSource, stored } from "./names.ts";

test("iclAt() and iclAtSource() are inverse; iclAtSource() rejects other names", () => {
  assert.equal(iclAt("natural"), ICL_NATURAL);
  assert.equal(iclAt("common"), ICL_COMMON);
  assert.equal(iclAtSource("icl@brown"), "brown");
  assert.equal(iclAtLabel("icl@brown"), "brown");
  assert.equal(iclAtSource("icl"), null);
  assert.equal(iclAtSource("icl@Brown"), null);
});

test("extraIclMeasure() names the measure of every stored ICL score but icl.score", () => {
  assert.equal(extraIclMeasure(stored("icl@natural", "score")), "icl@natural");
  assert.equal(extraIclMeasure("icl.score"), null);
  assert.equal(extraIclMeasure("icl@natural.lo"), null);
});
