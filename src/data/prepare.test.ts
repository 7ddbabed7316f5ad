import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_SUITE } from "./sources/registry.ts";
import { markers, syntheticSource, tempLab } from "./test-helpers.ts";
import { prepareData, resolvePrepareOptions } from "./prepare.ts";
import { prepareTrainData } from "./train-data.ts";
import { DEFAULT_TOKENIZER, byteTokenizer } from "./tokenizer.ts";

const lab = tempLab();
syntheticSource("p_long", 300, 120); // ~700-byte documents
syntheticSource("p_short", 400, 8); // ~50-byte documents
const byte = { kind: "byte" } as const;

test("with no options prepareData means the embedded default", () => {
  const r = resolvePrepareOptions();
  assert.equal(r.tokenizer, DEFAULT_TOKENIZER);
  assert.deepEqual(
    r.mixture.map((m) => m.id),
    [...DEFAULT_SUITE],
  );
  assert.ok(r.mixture.every((m) => m.weight === 1 / DEFAULT_SUITE.length));
  assert.deepEqual([r.nCtx, r.evalWindows, r.evalPolicy, r.seed, r.evalSeed, r.uniqueTokens], [512, 2000, "packed", 0, 0, undefined]);
  assert.throws(() => resolvePrepareOptions({ nCtx: 0 }), /nCtx must be a positive integer, found 0/);
  assert.throws(() => resolvePrepareOptions({ evalPolicy: "random" as "packed" }), /evalPolicy must be "document" or "packed"/);
});

test("prepareData(): training batches and evaluation windows of nCtx + 1 tokens, with statistics", async () => {
  const d = await prepareData({ lab, tokenizer: byte, mixture: { sources: { p_long: 0.5, p_short: 0.5 } }, nCtx: 64, evalWindows: 30 });
  assert.equal(d.tokenizer.id, "byte");
  assert.equal(d.train.nextBatch(4).length, 4 * 65);
  const all = d.evalWindows();
  assert.deepEqual([all.n, all.length, all.tokens.length], [30, 65, 30 * 65]);
  assert.deepEqual([all.sources.filter((s) => s === "p_long").length, all.sources.filter((s) => s === "p_short").length], [15, 15]);
  const one = d.evalWindows("p_long");
  assert.equal(one.n, 30);
  // The mixture's windows of a source are a prefix of that source's own windows.
  assert.deepEqual(all.tokens.subarray(0, 15 * 65), one.tokens.subarray(0, 15 * 65));
  const s = d.stats.sources.find((x) => x.id === "p_long")!;
  assert.equal(s.documents, 300);
  assert.equal(s.trainDocs + s.heldOutDocs, 300);
  assert.equal(s.tokens, s.trainTokens + s.heldOutTokens);
  assert.equal(s.poolTokens, s.trainTokens);
  assert.ok(s.meanDocTokens > 300 && s.bytesPerToken === 1, `mean ${s.meanDocTokens} tokens per document`);
  assert.equal(d.tokenCounts().length, 257);
  assert.throws(() => d.evalWindows("brown"), /source 'brown' is not in this mixture \(p_long, p_short\)/);
});

test("held-out documents never appear in training batches", async () => {
  const d = await prepareData({ lab, tokenizer: byte, mixture: { sources: ["p_long", "p_short"] }, nCtx: 128, evalWindows: 200 });
  const t = byteTokenizer();
  const trained = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const b = d.train.nextBatch(32);
    for (let r = 0; r < 32; r++) for (const m of markers(t.decode(b.subarray(r * 129, (r + 1) * 129)))) trained.add(m);
  }
  const held = new Set<string>();
  const ev = d.evalWindows();
  for (let k = 0; k < ev.n; k++) for (const m of markers(t.decode(ev.tokens.subarray(k * 129, (k + 1) * 129)))) held.add(m);
  assert.ok(trained.size > 300 && held.size > 30, `${trained.size} trained, ${held.size} held-out documents seen`);
  for (const m of held) assert.equal(trained.has(m), false, `${m} is both held out and trained on`);
});

test("evaluation windows are identical whatever the training settings (seed, weights, budget)", async () => {
  const base = { lab, tokenizer: byte, nCtx: 64, evalWindows: 40 } as const;
  const a = await prepareData({ ...base, mixture: { sources: { p_long: 1, p_short: 1 } }, seed: 1 });
  const b = await prepareData({ ...base, mixture: { sources: { p_long: 5, p_short: 1 }, uniqueTokens: 20_000 }, seed: 9 });
  for (const id of ["p_long", "p_short"]) assert.deepEqual(b.evalWindows(id).tokens, a.evalWindows(id).tokens);
  const c = await prepareData({ ...base, mixture: { sources: ["p_long"] }, evalSeed: 3 });
  assert.notDeepEqual(c.evalWindows("p_long").tokens, a.evalWindows("p_long").tokens);
});

test("mixtures are deterministic for a seed; the unique-token budget is exact and repeats epochs", async () => {
  const opts = { lab, tokenizer: byte, nCtx: 32, evalWindows: 5, mixture: { sources: { p_long: 0.75, p_short: 0.25 }, uniqueTokens: 4000 } } as const;
  const a = await prepareData({ ...opts, seed: 4 });
  const b = await prepareData({ ...opts, seed: 4 });
  const c = await prepareData({ ...opts, seed: 5 });
  const first = a.train.nextBatch(16);
  assert.deepEqual(b.train.nextBatch(16), first);
  assert.notDeepEqual(c.train.nextBatch(16), first);
  assert.deepEqual(
    a.stats.sources.map((s) => s.poolTokens),
    [3000, 1000],
  );
  assert.equal(a.stats.uniqueTokens, 4000);
  for (let i = 0; i < 30; i++) a.train.nextBatch(16); // 16 × 31 windows × 32 tokens ≫ 4000
  assert.ok(a.train.epochsStarted().p_long > 2);
});

test("a budget or window count a source cannot supply is a clear error naming the source", async () => {
  await assert.rejects(
    prepareData({ lab, tokenizer: byte, nCtx: 32, evalWindows: 5, mixture: { sources: { p_long: 1, p_short: 1 }, uniqueTokens: 1_000_000 } }),
    /source 'p_long' has [\d,]+ training tokens \(after holding out 10%\), but the mixture asks it for 500,000 unique tokens \(weight 0\.500 × uniqueTokens 1,000,000\)/,
  );
  await assert.rejects(
    prepareData({ lab, tokenizer: byte, nCtx: 128, evalWindows: 5, evalPolicy: "document", mixture: { sources: ["p_short"] } }),
    /source 'p_short' has no held-out document of nCtx \+ 1 = 129 tokens/,
  );
  await assert.rejects(prepareData({ lab, tokenizer: byte, mixture: { sources: ["p_long", "nope"] } }), /unknown source 'nope'/);
});

test("prepareTrainData() gives the trainer its TrainData (sampler, eval windows, vocab, token counts)", async () => {
  const d = await prepareTrainData(
    { seed: 0, model: { nCtx: 32 }, data: { sources: { p_long: 1 }, tokenizer: byte, evalWindows: 8, evalPolicy: "packed" } },
    lab,
  );
  assert.equal(d.vocabSize, 257);
  assert.deepEqual([d.eval.n, d.eval.length, d.eval.windows.length], [8, 33, 8 * 33]);
  assert.equal(d.sampler.nextBatch(2).length, 66);
  assert.ok(d.tokenizerPath.endsWith("tokenizer.json"));
  await assert.rejects(
    prepareTrainData({ seed: 0, model: { nCtx: 32 }, data: { tokenizer: byte, evalWindows: 8, evalPolicy: "packed", options: { shuffle: true } } }, lab),
    /data.options: unknown key 'shuffle'/,
  );
});

test("a synthetic ingredient registered in code mixes with other sources by id", async () => {
  const { registerSyntheticSource } = await import("./sources/registry.ts");
  registerSyntheticSource({
    id: "p_repeat",
    domain: "repeated spans",
    params: { n: 120 },
    *documents() {
      for (let d = 0; d < 120; d++) {
        const span = `<doc ${d} of p_repeat> ${"xyz".repeat((d % 7) + 1)} `;
        yield span.repeat(4);
      }
    },
  });
  const d = await prepareData({ lab, tokenizer: byte, nCtx: 32, evalWindows: 10, mixture: { sources: { p_long: 1, p_repeat: 1 } } });
  const s = d.stats.sources.find((x) => x.id === "p_repeat")!;
  assert.deepEqual([s.documents, s.domain], [120, "repeated spans"]);
  assert.equal(d.evalWindows("p_repeat").n, 10);
});
