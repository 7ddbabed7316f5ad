import { test } from "node:test";
import assert from "node:assert/strict";
import { BYTE_CHARS, ByteLevelBpe, EOD_TOKEN, bytesToTokenString, makeTokenizerJson, preTokenize, tokenStringToBytes } from "./bpe.ts";

test("BYTE_CHARS is GPT-2's reversible byte ↔ character map", () => {
  assert.equal(new Set(BYTE_CHARS).size, 256);
  assert.equal(BYTE_CHARS[0x20], "Ġ");
  assert.equal(BYTE_CHARS[0x0a], "Ċ");
  assert.equal(BYTE_CHARS[0x41], "A");
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(tokenStringToBytes(bytesToTokenString(all)), all);
  assert.equal(tokenStringToBytes("not byte-level: 中"), null);
});

test("preTokenize() splits like the ByteLevel regex (contractions, letters, digits, spaces)", () => {
  assert.deepEqual(preTokenize("It's 42 apples,  ok?\n\n  x"), ["It", "'s", " 42", " apples", ",", " ", " ok", "?", "\n\n ", " x"]);
  // No-break space is whitespace for the Rust library's regex; U+FEFF is not.
  assert.deepEqual(preTokenize("a\u00a0b\ufeffc"), ["a", "\u00a0", "b", "\ufeff", "c"]);
});

test("makeTokenizerJson(): bytes are ids 0..255, end-of-document is 256, merges follow in order", () => {
  const json = makeTokenizerJson([
    ["Ġ", "t"],
    ["h", "e"],
    ["Ġt", "he"],
  ]);
  assert.equal(json.model.vocab[BYTE_CHARS[0]], 0);
  assert.equal(json.model.vocab[BYTE_CHARS[255]], 255);
  assert.equal(json.model.vocab[EOD_TOKEN], 256);
  assert.equal(json.model.vocab.Ġt, 257);
  assert.equal(json.model.vocab.Ġthe, 259);
  assert.deepEqual(
    json.added_tokens.map((t) => [t.id, t.content, t.special]),
    [[256, EOD_TOKEN, true]],
  );
  assert.throws(() => makeTokenizerJson([["Ġt", "x"]]), /uses a symbol that no earlier merge made/);
});

test("ByteLevelBpe encodes with the merges and round-trips any text", () => {
  const bpe = new ByteLevelBpe(
    makeTokenizerJson([
      ["Ġ", "t"],
      ["h", "e"],
      ["Ġt", "he"],
      ["a", "a"],
    ]),
  );
  assert.deepEqual(Array.from(bpe.encode(" the theme")), [259, 259, 109, 101]);
  // Overlapping pairs merge left to right: "aaa" → [aa, a].
  assert.deepEqual(Array.from(bpe.encode("aaa")), [260, 97]);
  for (const s of ["", "中文，测试。", "emoji 😀🎉 and \u0000 nul", "tabs\t\tand\r\nCRLF", "\ufeff\u00a0\u2028", "<|endoftext|>"]) {
    assert.equal(bpe.decode(bpe.encode(s)), s);
  }
  assert.equal(bpe.decode([104, 256, 105]), `h${EOD_TOKEN}i`);
});

test("long words (heap merge) give the same tokens as short-word merging", () => {
  const merges: Array<[string, string]> = [
    ["a", "b"],
    ["ab", "a"],
    ["b", "a"],
    ["aba", "b"],
    ["ab", "ab"],
    ["a", "a"],
  ];
  const bpe = new ByteLevelBpe(makeTokenizerJson(merges));
  // The same word, short (scan path) and repeated past the long-word threshold (heap path):
  // merges never cross a non-letter, so each "abababa" run must encode identically.
  const unit = "abaababbab";
  const short = Array.from(bpe.encode(unit));
  const long = Array.from(bpe.encode(unit.repeat(30)));
  // Reference: apply the merges by hand with the simple algorithm on the long word.
  const ref = new ByteLevelBpe(makeTokenizerJson(merges));
  assert.ok(short.length > 0);
  assert.equal(ref.decode(long), unit.repeat(30));
  const naive = naiveBpe(unit.repeat(30), merges);
  assert.deepEqual(
    long.map((id) => ref.decode([id])),
    naive,
  );
});

/** Textbook BPE (lowest rank first, leftmost first), for comparison. */
function naiveBpe(word: string, merges: Array<[string, string]>): string[] {
  let syms = [...word];
  for (;;) {
    let best = -1;
    let at = -1;
    for (let i = 0; i + 1 < syms.length; i++) {
      const r = merges.findIndex(([a, b]) => a === syms[i] && b === syms[i + 1]);
      if (r >= 0 && (best < 0 || r < best)) {
        best = r;
        at = i;
      }
    }
    if (at < 0) return syms;
    syms = [...syms.slice(0, at), syms[at] + syms[at + 1], ...syms.slice(at + 2)];
  }
}

test("ByteLevelBpe rejects a tokenizer.json that lacks a byte or the end-of-document token", () => {
  const json = makeTokenizerJson([]);
  const noEod = structuredClone(json);
  noEod.added_tokens = [];
  delete noEod.model.vocab[EOD_TOKEN];
  assert.throws(() => new ByteLevelBpe(noEod), /no end-of-document token/);
  const noByte = structuredClone(json);
  delete noByte.model.vocab[BYTE_CHARS[7]];
  assert.throws(() => new ByteLevelBpe(noByte), /byte 0x07 has no token/);
});
