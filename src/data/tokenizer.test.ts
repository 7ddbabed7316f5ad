import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EOD_TOKEN } from "./bpe.ts";
import { isHeldOut } from "./split.ts";
import { syntheticSource, tempLab } from "./test-helpers.ts";
import { buildTextStore } from "./text-store.ts";
import { byteTokenizer, getBpeTokenizer, getTokenizer, loadTokenizer, trainingSample, type TokenizerSpec } from "./tokenizer.ts";
import { skipOrFail } from "../util/test-env.ts";

const lab = tempLab();
const SOURCES = ["brown", "legal", "email", "zh_poetry"];
// Small training samples keep the test fast; the real default uses 4 MB per source.
const SPEC: TokenizerSpec = { kind: "bpe", vocab: 700, sources: SOURCES, trainBytesPerSource: 150_000 };

function hf(): { Tokenizer: { fromFile(p: string): { encode(t: string, p: null, o: object): Promise<{ getIds(): number[] }> } } } | null {
  try {
    return createRequire(import.meta.url)("tokenizers");
  } catch {
    return null;
  }
}

test("the byte tokenizer: ids are UTF-8 bytes, 256 is end-of-document, vocab 257", async () => {
  const t = await getTokenizer({ kind: "byte" });
  assert.equal(t, byteTokenizer());
  assert.deepEqual([t.id, t.kind, t.vocabSize, t.eodId], ["byte", "byte", 257, 256]);
  assert.deepEqual(Array.from(t.encode("hé")), [104, 0xc3, 0xa9]);
  for (const s of ["中文诗歌，床前明月光。", "😀 mixed\r\n\ttext", ""]) assert.equal(t.decode(t.encode(s)), s);
  assert.equal(t.decode([104, 256, 105]), `h${EOD_TOKEN}i`);
  assert.equal(t.toJSON().model.merges.length, 0);
});

test("BPE: trained on the sources' training splits, cached by content, standard tokenizer.json", async () => {
  const first = await getBpeTokenizer(SPEC as Extract<TokenizerSpec, { kind: "bpe" }>, { lab });
  const t = first.tokenizer;
  assert.equal(first.cached, false);
  assert.equal(t.vocabSize, 700);
  assert.equal(t.eodId, 256);
  assert.match(t.id, /^bpe700-[0-9a-f]{12}$/);
  for (let b = 0; b < 256; b++) assert.deepEqual(Array.from(t.tokenBytes(b)), [b]);
  const again = await getBpeTokenizer(SPEC as Extract<TokenizerSpec, { kind: "bpe" }>, { lab });
  assert.equal(again.cached, true);
  assert.equal(again.tokenizer.id, t.id);
  // The saved file reloads to the same tokenizer, and is a standard Hugging Face tokenizer.json.
  const path = join(first.dir, "tokenizer.json");
  assert.equal(loadTokenizer(path).id, t.id);
  const json = JSON.parse(readFileSync(path, "utf8"));
  assert.equal(json.model.type, "BPE");
  assert.equal(json.pre_tokenizer.type, "ByteLevel");
  assert.deepEqual(json.added_tokens[0], { id: 256, content: EOD_TOKEN, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  assert.ok(existsSync(join(first.dir, "meta.json")));
});

test("decode(encode(x)) = x on every default source (Chinese included), for BPE and bytes", async () => {
  const bpe = await getTokenizer(SPEC, { lab });
  for (const id of SOURCES) {
    const store = await buildTextStore(id, { lab });
    const step = Math.ceil(store.manifest.nDocs / 40);
    for (let d = 0; d < store.manifest.nDocs; d += step) {
      const text = store.doc(d);
      assert.equal(bpe.decode(bpe.encode(text)), text, `${id} document ${d}`);
      assert.equal(byteTokenizer().decode(byteTokenizer().encode(text)), text);
    }
  }
});

test("our encoder gives exactly the Hugging Face library's ids for our tokenizer.json", async (t) => {
  const lib = hf();
  if (lib === null) return skipOrFail(t, "the tokenizers package does not load on this platform");
  const { dir } = await getBpeTokenizer(SPEC as Extract<TokenizerSpec, { kind: "bpe" }>, { lab });
  const ours = loadTokenizer(join(dir, "tokenizer.json"));
  const theirs = lib.Tokenizer.fromFile(join(dir, "tokenizer.json"));
  const samples = ["It's 42 apples,  ok?\n\n  x", "中文，测试。English 123 4567", "a\u00a0\u00a0b\u0085c\ufeffd", `${" ".repeat(70)}x`, "ÿþ\u0001\u0002"];
  for (const id of SOURCES) {
    const store = await buildTextStore(id, { lab });
    for (let d = 0; d < store.manifest.nDocs; d += Math.ceil(store.manifest.nDocs / 10)) samples.push(store.doc(d));
  }
  for (const s of samples) {
    const expected = (await theirs.encode(s, null, { addSpecialTokens: false })).getIds();
    assert.deepEqual(Array.from(ours.encode(s)), expected, JSON.stringify(s.slice(0, 60)));
  }
});

test("tokenizer training never sees held-out documents", async () => {
  syntheticSource("tok_split", 200, 30);
  const store = await buildTextStore("tok_split", { lab });
  const sample = trainingSample(store, 1e9).toString("utf8");
  let held = 0;
  for (let d = 0; d < store.manifest.nDocs; d++) {
    const inSample = sample.includes(`<doc ${d} of tok_split>`);
    if (isHeldOut(store.manifest.docHashes[d])) {
      held++;
      assert.equal(inSample, false, `held-out document ${d} is in the training sample`);
    } else assert.equal(inSample, true);
  }
  assert.ok(held > 5 && held < 40, `${held} held out of 200`);
});

test("bad tokenizer specs are clear errors", async () => {
  await assert.rejects(getTokenizer({ kind: "bpe", vocab: 100, sources: ["brown"] }, { lab }), /vocab must be an integer from 258 to 30000.*found 100/);
  await assert.rejects(getTokenizer({ kind: "bpe", vocab: 500, sources: [] }, { lab }), /sources is empty/);
  await assert.rejects(getTokenizer({ kind: "bpe", vocab: 500, sources: ["nope"] }, { lab }), /unknown source 'nope'/);
  await assert.rejects(getTokenizer({ kind: "file", path: join(lab, "missing.json") }), /tokenizer file .*missing\.json does not exist/);
  await assert.rejects(getTokenizer({ kind: "wordpiece" } as unknown as TokenizerSpec), /unknown kind 'wordpiece'/);
});
