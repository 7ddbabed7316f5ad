/**
 * `icl-lab export`: a run trained through the library (no tokenizer in its run folder: the one its
 * config names is found in the lab), a chosen checkpoint, and clear one-line errors (unknown run,
 * checkpoint or format) with exit code 1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBackend } from "../engine/backend.ts";
import { referenceKernels } from "../engine/reference/index.ts";
import { noGrad } from "../engine/tensor.ts";
import { loadExported } from "../model/export.ts";
import { syntheticData } from "../train/fixtures/synthetic-data.ts";
import { train } from "../train/train.ts";
import { runCli } from "./test-helpers.ts";

useBackend(referenceKernels);

const lab = mkdtempSync(join(tmpdir(), "icl-lab-cli-export-"));
process.on("exit", () => rmSync(lab, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(args, { lab });

test("export RUN writes the last checkpoint; --checkpoint picks another; errors are one line, exit 1", async () => {
  const r = await train(
    {
      name: "lstm",
      seed: 4,
      model: { kind: "lstm", nLayers: 1, dModel: 8, dHidden: 6, nCtx: 8 },
      data: { tokenizer: { kind: "byte" } },
      batch: 2,
      tokens: 16 * 5,
      checkpoints: { perDecade: 2 },
      measures: [],
    },
    // Synthetic tokens stand in for the corpus; the config's byte tokenizer is what export ships.
    { lab, progress: "none", measures: {}, data: async (c) => syntheticData({ vocab: 257, nCtx: c.model.nCtx, evalWindows: 2, seed: c.seed }) },
  );
  const ok = cli("export", r.runId, "--json", "-q");
  assert.equal(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout);
  assert.deepEqual([out.tokens, out.layout, out.dir], [80, "torch_lstm", join(lab, "exports", `${r.runId}-80`)]);
  assert.ok(existsSync(join(out.dir, "tokenizer.json")), "the byte tokenizer is shipped");
  assert.equal(JSON.parse(readFileSync(join(out.dir, "tokenizer.json"), "utf8")).model.vocab["<|endoftext|>"], 256);
  const back = loadExported(out.dir);
  const tokens = Int32Array.from({ length: 8 }, (_, i) => i * 31);
  assert.deepEqual(
    noGrad(() => Array.from(back.forward(tokens, 1).logits.data)),
    noGrad(() => Array.from(r.model.forward(tokens, 1).logits.data)),
  );

  const first = cli("export", r.runId, "--checkpoint", "16", "--out", join(lab, "first"));
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /at 16 tokens: 7 tensors \(torch_lstm layout\)/);

  for (const [args, want] of [
    [["export", "nope-0123456789"], /^icl-lab: run 'nope-0123456789' does not exist in the lab /],
    [["export", r.runId, "--checkpoint", "17"], /^icl-lab: run '.*' has no checkpoint at 17 tokens; it has 16, .*80\n$/],
    [["export", r.runId, "--checkpoint", "1e3"], /^icl-lab: --checkpoint must be a token count/],
    [["export", r.runId, "--format", "onnx"], /^icl-lab: --format must be 'safetensors', found 'onnx'\n$/],
  ] as const) {
    const e = cli(...args);
    assert.equal(e.code, 1, `${args.join(" ")}: ${e.stderr}`);
    assert.match(e.stderr, want);
  }
});
