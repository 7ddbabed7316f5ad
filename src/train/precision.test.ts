/**
 * How the precision is chosen (src/engine/precision.ts) and kept with a run (src/train/config.ts):
 * ICL_LAB_PRECISION over the CPU's default, a clear error for a bad value, the config key over both,
 * and run ids: an fp32 run keeps the id it had before the key existed, a bf16 run gets its own.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultPrecision, usePrecision, withPrecision } from "../engine/precision.ts";
import { kernels } from "../engine/backend.ts";
import { parseTrainConfig, resolveModel, runIdFor, type TrainConfig } from "./config.ts";

function withEnv<T>(value: string | undefined, f: () => T): T {
  const prev = process.env.ICL_LAB_PRECISION;
  if (value === undefined) delete process.env.ICL_LAB_PRECISION;
  else process.env.ICL_LAB_PRECISION = value;
  try {
    return f();
  } finally {
    if (prev === undefined) delete process.env.ICL_LAB_PRECISION;
    else process.env.ICL_LAB_PRECISION = prev;
  }
}

test("default precision: ICL_LAB_PRECISION, else bf16 exactly where the CPU has bf16 products", () => {
  assert.equal(
    withEnv("bf16", () => defaultPrecision()),
    "bf16",
  );
  assert.equal(
    withEnv("fp32", () => defaultPrecision()),
    "fp32",
  );
  const hw = kernels().bf16Hardware();
  assert.equal(
    withEnv(undefined, () => defaultPrecision()),
    hw === "none" ? "fp32" : "bf16",
  );
  assert.throws(() => withEnv("half", () => defaultPrecision()), /ICL_LAB_PRECISION must be 'fp32' or 'bf16', found 'half'/);
});

test("usePrecision and withPrecision set the kernels' precision (undefined: fp32) and restore it", () => {
  const K = kernels();
  const prev = K.getPrecision();
  try {
    assert.equal(usePrecision("bf16"), "bf16");
    assert.equal(K.getPrecision(), "bf16");
    assert.equal(
      withPrecision("fp32", () => K.getPrecision()),
      "fp32",
    );
    assert.equal(K.getPrecision(), "bf16");
    assert.equal(usePrecision(undefined), "fp32");
    assert.equal(K.getPrecision(), "fp32");
  } finally {
    K.setPrecision(prev);
  }
});

const MODEL = { kind: "attn-only", nLayers: 1, dModel: 16, nHeads: 2, dHead: 8, nCtx: 32 };

function resolved(input: Record<string, unknown>): TrainConfig {
  const p = parseTrainConfig({ name: "golden", model: MODEL, tokens: 1000, ...input });
  return { ...p, model: resolveModel(p.model, 257) } as TrainConfig;
}

test("a run's config records its precision: the key over ICL_LAB_PRECISION, the env over the CPU", () => {
  assert.equal(withEnv("bf16", () => resolved({ precision: "fp32" })).precision, "fp32");
  assert.equal(withEnv("fp32", () => resolved({ precision: "bf16" })).precision, "bf16");
  assert.equal(withEnv("bf16", () => resolved({})).precision, "bf16");
  assert.equal(withEnv("fp32", () => resolved({})).precision, "fp32");
  assert.throws(() => parseTrainConfig({ model: MODEL, tokens: 1000, precision: "fp16" }), /precision/);
});

test("run ids: fp32 keeps the id of a run from before the key existed (golden), bf16 differs", () => {
  // golden-d1e146134a: runIdFor of this config as computed by icl-lab before `precision` (c4ed0d5).
  assert.equal(runIdFor(withEnv("fp32", () => resolved({}))), "golden-d1e146134a");
  assert.equal(runIdFor(resolved({ precision: "fp32" })), "golden-d1e146134a");
  const bf = runIdFor(resolved({ precision: "bf16" }));
  assert.notEqual(bf, "golden-d1e146134a");
  assert.match(bf, /^golden-[0-9a-f]{10}$/);
});
