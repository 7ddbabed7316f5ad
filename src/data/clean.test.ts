import { test } from "node:test";
import assert from "node:assert/strict";
import { DocumentCleaner, decodeUtf8Dropping, dropLoneSurrogates, firstInvalidUtf8, normalizeText } from "./clean.ts";

const enc = (s: string) => new TextEncoder().encode(s);

test("decodeUtf8Dropping() drops and counts every invalid byte, keeps valid text", () => {
  // 0xff is never valid; 0xc3 without a continuation byte; an overlong "/" (0xc0 0xaf); a surrogate (0xed 0xa0 0x80).
  const bytes = Uint8Array.from([0x61, 0xff, 0x62, 0xc3, 0x63, 0xc0, 0xaf, 0xed, 0xa0, 0x80, ...enc("中")]);
  const r = decodeUtf8Dropping(bytes);
  assert.equal(r.text, "abc中");
  assert.equal(r.invalid, 7);
  assert.deepEqual(decodeUtf8Dropping(enc("héllo 😀")), { text: "héllo 😀", invalid: 0 });
});

test("firstInvalidUtf8() names the offset of the first bad byte, -1 for valid UTF-8", () => {
  assert.equal(firstInvalidUtf8(enc("plain ascii and 中文")), -1);
  assert.equal(firstInvalidUtf8(Uint8Array.from([0x61, 0x62, 0xe9, 0x63])), 2); // Latin-1 "é"
  assert.equal(firstInvalidUtf8(Uint8Array.from([0xe4, 0xb8])), 0); // truncated sequence
});

test("dropLoneSurrogates() removes unpaired UTF-16 surrogates only", () => {
  assert.deepEqual(dropLoneSurrogates("a\ud800b\udc00c😀"), { text: "abc😀", invalid: 2 });
  assert.deepEqual(dropLoneSurrogates("fine"), { text: "fine", invalid: 0 });
});

test("normalizeText() unifies newlines, drops controls, trims lines and blank runs", () => {
  const r = normalizeText("\n\n\ufeffTitle  \r\nline\rnext\u0007\t \n\n\n\n\nend\f\u0000x   \n\n");
  assert.equal(r.text, "Title\nline\nnext\n\nend\nx");
  assert.equal(r.controls, 3); // BOM, BEL, NUL
  assert.equal(normalizeText("  indented code\n\tkept").text, "  indented code\n\tkept");
});

test("DocumentCleaner drops empty documents and exact duplicates (after cleaning) and counts them", () => {
  const c = new DocumentCleaner();
  assert.ok(c.add("same text\n"));
  assert.equal(c.add("same text  \r\n"), null); // identical once cleaned
  assert.equal(c.add("   \n\n"), null);
  assert.ok(c.add(Uint8Array.from([0x61, 0xff, 0x62])));
  assert.equal(c.stats.docsIn, 4);
  assert.equal(c.stats.docsOut, 2);
  assert.equal(c.stats.duplicatesDropped, 1);
  assert.equal(c.stats.emptyDropped, 1);
  assert.equal(c.stats.invalidBytesDropped, 1);
  assert.equal(c.stats.bytesOut, "same text".length + 2);
});

test("DocumentCleaner with dedupe off keeps duplicates", () => {
  const c = new DocumentCleaner({ dedupe: false });
  c.add("x");
  c.add("x");
  assert.equal(c.stats.docsOut, 2);
});
