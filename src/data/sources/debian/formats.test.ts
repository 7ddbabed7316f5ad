import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { skipOrFail } from "../../../util/test-env.ts";
import { dataPaths } from "../../paths.ts";
import { tempLab } from "../../test-helpers.ts";
import type { RawDocument, SourceContext } from "../types.ts";
import { bibleChapters, fileDocs, fortuneDocs, manDocs, podDocs } from "./formats.ts";
import { which } from "./process.ts";

/** Writes `files` (relative path → content) under a fresh folder and returns it. */
function tree(files: Record<string, string | Buffer>): string {
  const dir = tempLab("icl-lab-debian-formats-");
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

function context(logs: string[] = []): SourceContext {
  return { paths: dataPaths(tempLab()), log: (m) => logs.push(m) };
}

/** Documents as { text, origin } with text decoded and origin relative to `dir`. */
async function collect(
  docs: AsyncIterable<RawDocument> | Iterable<RawDocument>,
  dir = "",
): Promise<Array<{ text: string; origin?: string; invalidBytes?: number }>> {
  const out = [];
  for await (const d of docs) {
    assert.ok(typeof d === "object" && !(d instanceof Uint8Array), "documents carry their origin");
    const text = typeof d.text === "string" ? d.text : Buffer.from(d.text).toString("utf8");
    out.push({ ...d, text, origin: dir !== "" && d.origin?.startsWith(`${dir}/`) ? d.origin.slice(dir.length + 1) : d.origin });
  }
  return out;
}

test("bibleChapters() gives one document per chapter, verse references stripped and wrapped lines joined", async () => {
  const text = [
    "Ge1:1 In the beginning God created the heaven and the earth.",
    "Ge1:2 And the earth was without form,",
    "   and void.",
    "",
    "Ge2:1 Thus the heavens and the earth were finished.",
    "Re22:21 The grace of our Lord Jesus Christ be with you all. Amen.",
    "",
  ].join("\n");
  assert.deepEqual(await collect(bibleChapters(text)), [
    { text: "In the beginning God created the heaven and the earth.\nAnd the earth was without form, and void.", origin: "Ge1" },
    { text: "Thus the heavens and the earth were finished.", origin: "Ge2" },
    { text: "The grace of our Lord Jesus Christ be with you all. Amen.", origin: "Re22" },
  ]);
  assert.deepEqual(await collect(bibleChapters("no verses here\n")), []);
});

test("fortuneDocs() splits each fortune file, skips .dat/.u8 and off/, and counts a file's invalid bytes once", async () => {
  const dir = tree({
    b: Buffer.concat([Buffer.from("bad \xff byte\n%\nsecond\n", "latin1")]),
    a: "first\n%\n\x1b[1mbold\x1b[0m\n%\n",
    "a.dat": "binary index",
    "a.u8": "link",
    "off/rude": "hidden\n%\n",
    "sub/deep": "nested\n%\n",
  });
  assert.deepEqual(await collect(fortuneDocs([dir], false), dir), [
    { text: "first", origin: "a", invalidBytes: 0 },
    { text: "bold", origin: "a", invalidBytes: 0 },
    { text: "bad  byte", origin: "b", invalidBytes: 1 },
    { text: "second", origin: "b", invalidBytes: 0 },
  ]);
  const recursive = await collect(fortuneDocs([dir], true), dir);
  assert.deepEqual(
    recursive.map((d) => d.text),
    ["first", "bold", "bad  byte", "second", "nested"],
  );
});

test("fileDocs() gives one document per accepted file in sorted order, gunzipping .gz", async () => {
  const dir = tree({ "b/two.rst": "two", "a.rst.gz": gzipSync("one"), "c.txt": "skipped" });
  assert.deepEqual(
    await collect(
      fileDocs(dir, (p) => /\.rst(\.gz)?$/.test(p)),
      dir,
    ),
    [
      { text: "one", origin: "a.rst.gz" },
      { text: "two", origin: "b/two.rst" },
    ],
  );
});

const MAN_PAGE = [
  ".TH HELLO 1 2024 icl-lab",
  ".SH NAME",
  "hello \\- print a greeting",
  ".SH DESCRIPTION",
  ".B hello",
  "prints a greeting to",
  ".IR name ,",
  "or to the world.",
  "",
].join("\n");

test("manDocs() renders man pages to plain text with groff, skipping .so redirects and non-section folders", async (t) => {
  if (which("groff") === null) return skipOrFail(t, "groff is not installed (Debian package groff-base)");
  const dir = tree({
    "man1/hello.1": MAN_PAGE,
    "man8/hello8.8.gz": gzipSync(MAN_PAGE.replace("HELLO 1", "HELLO8 8")),
    "man1/hi.1": ".so man1/hello.1\n",
    "man1/deeper/ignored.1": MAN_PAGE,
    README: MAN_PAGE,
  });
  const docs = await collect(manDocs([dir], context()), dir);
  assert.deepEqual(
    docs.map((d) => d.origin),
    ["man1/hello.1", "man8/hello8.8.gz"],
  );
  const page = docs[0].text;
  assert.match(page, /^HELLO\(1\)/);
  assert.match(page, /\nNAME\n +hello - print a greeting\n/);
  // Bold and italic come out as plain words: no overstrikes (\b) and no terminal escapes.
  assert.match(page, /\n +hello prints a greeting to name, or to the world\.\n/);
  assert.doesNotMatch(page, /[\x08\x1b]/);
  assert.match(docs[1].text, /^HELLO8\(8\)/);
});

test("podDocs() renders each .pod of a folder with Pod::Text, in order, one document each", async (t) => {
  if (which("perl") === null) return skipOrFail(t, "perl is not installed");
  const dir = tree({
    "perlb.pod": "=head1 NAME\n\nperlb - second\n\n=cut\n",
    "perla.pod": "=head1 NAME\n\nperla - a greeting\n\n=head1 DESCRIPTION\n\nSay B<hello> to C<perl>.\n\n=cut\n",
    "notes.txt": "=head1 NOT POD\n",
    "sub/perlc.pod": "=head1 NAME\n\nnested\n",
  });
  const docs = await collect(podDocs(dir, context()), dir);
  assert.deepEqual(
    docs.map((d) => d.origin),
    ["perla.pod", "perlb.pod"],
  );
  assert.equal(docs[0].text, 'NAME\n    perla - a greeting\n\nDESCRIPTION\n    Say hello to "perl".\n\n');
  assert.equal(docs[1].text, "NAME\n    perlb - second\n\n");
});
