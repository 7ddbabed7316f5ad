import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempLab } from "../test-helpers.ts";
import { buildTextStore } from "../text-store.ts";
import { dataPaths } from "../paths.ts";
import { brownToText, detokenize } from "./brown.ts";
import { cleanGcide, debianAvailability, dictdEntries, splitFortunes } from "./debian.ts";
import { messageBody } from "./email.ts";
import { DEFAULT_SUITE, getSource, listSources, registerSource } from "./registry.ts";
import { saveUserSource } from "./user.ts";
import { poemText } from "./zh-poetry.ts";
import { skipOrFail } from "../../util/test-env.ts";

const lab = tempLab();

test("detokenize() joins Brown tokens back into prose", () => {
  assert.equal(
    detokenize(["``", "Only", "a", "handful", "''", ",", "the", "jury", "said", "(", "Friday", ")", "."]),
    '"Only a handful", the jury said (Friday).',
  );
  assert.equal(brownToText("\n\n\tThe/at jury/nn said/vbd ./.\n\tIt/pps won't/md* ./.\n\n\n\tNew/jj para/nn ./.\n"), "The jury said. It won't.\n\nNew para.");
});

test("messageBody() keeps the text after the mail headers", () => {
  const raw = new TextEncoder().encode("From: a@b\nSubject: hi\n\nHello\n\nthere\n");
  assert.equal(new TextDecoder().decode(messageBody(raw)), "Hello\n\nthere\n");
});

test("poemText() makes title + verse lines from the collections' record shapes", () => {
  assert.equal(
    poemText({ title: "静夜思", paragraphs: ["床前明月光，疑是地上霜。", "举头望明月，低头思故乡。"] }),
    "静夜思\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
  );
  assert.equal(poemText({ rhythmic: "清平乐", paragraphs: ["一", "二"] }), "清平乐\n一\n二");
  assert.equal(poemText({ title: "x", content: [{ nested: true }] }), null);
});

test("Debian recipe helpers: dictd entries, GCIDE notes, fortunes", () => {
  const data = Buffer.from('00-database-info\nheader\nApple \\Ap"ple\\, n. {Fruit}\n   [1913 Webster]\nPear\n');
  // dictd base64 offsets: "B" = 1... build the index with real offsets.
  const b64 = (n: number) => {
    const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let s = "";
    do {
      s = A[n % 64] + s;
      n = Math.floor(n / 64);
    } while (n > 0);
    return s;
  };
  const apple = data.indexOf("Apple");
  const pear = data.indexOf("Pear");
  const index = `00-database-info\t${b64(0)}\t${b64(apple)}\nApple\t${b64(apple)}\t${b64(pear - apple)}\napple\t${b64(apple)}\t${b64(pear - apple)}\nPear\t${b64(pear)}\t${b64(5)}\n`;
  const entries = [...dictdEntries(index, data)].map((b) => b.toString());
  assert.deepEqual(entries, ['Apple \\Ap"ple\\, n. {Fruit}\n   [1913 Webster]\n', "Pear\n"]);
  assert.equal(cleanGcide(entries[0]).trim(), 'Apple \\Ap"ple\\, n. Fruit');
  assert.deepEqual(splitFortunes("one\n%\n\x1b[1mtwo\x1b[0m\nlines\n%\nb\bbold\n%\n"), ["one", "two\nlines", "bold"]);
});

test("the default suite is npm-only and every default source is available after npm install", async () => {
  const ctx = { paths: dataPaths(lab), log: () => {} };
  for (const id of DEFAULT_SUITE) {
    const s = getSource(id, lab);
    assert.equal(s.origin, "npm");
    assert.equal(s.defaultSuite, true);
    assert.deepEqual(await s.available(ctx), { ok: true });
  }
  assert.ok(listSources(lab).filter((s) => s.origin === "debian").length >= 6);
});

test("a real npm source builds: brown has 500 documents of prose without tags", async () => {
  const store = await buildTextStore("brown", { lab });
  assert.equal(store.manifest.nDocs, 500);
  assert.ok(store.manifest.nBytes > 5_000_000);
  const first = store.doc(0);
  assert.match(first, /^The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election/);
  assert.doesNotMatch(first, /\/(at|nn|vbd)\b/);
});

test("legal: licence texts repeat, cleaning removes the exact duplicates", async () => {
  const store = await buildTextStore("legal", { lab });
  assert.ok(store.manifest.clean.duplicatesDropped > 0);
  assert.equal(store.manifest.nDocs, store.manifest.clean.docsIn - store.manifest.clean.duplicatesDropped - store.manifest.clean.emptyDropped);
});

test("Debian sources without apt: unavailable with a reason, and building says apt is missing", async () => {
  const env = { PATH: join(lab, "no-such-bin") };
  const ctx = { paths: dataPaths(lab), log: () => {}, env };
  const a = debianAvailability(ctx, { packages: ["bible-kjv-text"] });
  assert.equal(a.ok, false);
  assert.match(a.reason ?? "", /apt-get/);
  await assert.rejects(
    buildTextStore("bible_kjv", { lab, env }),
    /source 'bible_kjv' needs the Debian package\(s\) bible-kjv-text, bible-kjv.*apt-get and dpkg-deb are not on this machine's PATH/,
  );
});

test("user sources: a file, a folder of .txt/.md (one document per file), JSONL with a text field", async () => {
  const dir = join(lab, "user");
  mkdirSync(join(dir, "notes", "sub"), { recursive: true });
  writeFileSync(join(dir, "one.txt"), "A single file is one document.\n");
  writeFileSync(join(dir, "notes", "a.md"), "# Note A\ntext");
  writeFileSync(join(dir, "notes", "sub", "b.txt"), "note b");
  writeFileSync(join(dir, "notes", "ignored.json"), "{}");
  writeFileSync(join(dir, "docs.jsonl"), '{"text": "first"}\n\n{"text": "second", "id": 2}\n');
  const paths = dataPaths(lab);
  saveUserSource(paths, { id: "u_file", path: join(dir, "one.txt"), domain: "d", language: "en", licence: "mine" });
  saveUserSource(paths, { id: "u_folder", path: join(dir, "notes"), domain: "d", language: "en", licence: "mine" });
  saveUserSource(paths, { id: "u_jsonl", path: join(dir, "docs.jsonl"), domain: "d", language: "en", licence: "mine" });
  assert.equal(getSource("u_folder", lab).origin, "user");
  const file = await buildTextStore("u_file", { lab });
  assert.deepEqual([file.manifest.nDocs, file.doc(0)], [1, "A single file is one document."]);
  const folder = await buildTextStore("u_folder", { lab });
  assert.deepEqual([folder.doc(0), folder.doc(1)], ["# Note A\ntext", "note b"]);
  const jsonl = await buildTextStore("u_jsonl", { lab });
  assert.deepEqual([jsonl.manifest.nDocs, jsonl.doc(0), jsonl.doc(1)], [2, "first", "second"]);
});

test("bad user input: missing file, non-UTF-8 file, JSONL line without text, invalid JSON, empty corpus", async () => {
  const dir = join(lab, "bad");
  mkdirSync(join(dir, "empty-folder"), { recursive: true });
  mkdirSync(join(dir, "blank-folder"), { recursive: true });
  writeFileSync(join(dir, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])); // "café" in Latin-1
  writeFileSync(join(dir, "notext.jsonl"), '{"text": "ok"}\n{"body": "no text field"}\n');
  writeFileSync(join(dir, "broken.jsonl"), '{"text": "ok"}\n{"text": \n');
  writeFileSync(join(dir, "blank-folder", "a.txt"), "  \n\n");
  const paths = dataPaths(lab);
  const add = (id: string, path: string) => saveUserSource(paths, { id, path, domain: "d", language: "en", licence: "x" });
  add("b_missing", join(dir, "nope.txt"));
  add("b_latin1", join(dir, "latin1.txt"));
  add("b_notext", join(dir, "notext.jsonl"));
  add("b_broken", join(dir, "broken.jsonl"));
  add("b_emptyfolder", join(dir, "empty-folder"));
  add("b_blank", join(dir, "blank-folder"));
  await assert.rejects(buildTextStore("b_missing", { lab }), /source 'b_missing': file .*nope\.txt does not exist \(expected a text file\)/);
  await assert.rejects(buildTextStore("b_latin1", { lab }), /source 'b_latin1': .*latin1\.txt is not valid UTF-8 \(byte offset 3: 0xe9\); expected UTF-8 text/);
  await assert.rejects(
    buildTextStore("b_notext", { lab }),
    /source 'b_notext': .*notext\.jsonl line 2: expected a JSON object with a string field "text", found \{"body":"no text field"\}/,
  );
  await assert.rejects(buildTextStore("b_broken", { lab }), /source 'b_broken': .*broken\.jsonl line 2 is not valid JSON/);
  await assert.rejects(buildTextStore("b_emptyfolder", { lab }), /source 'b_emptyfolder': folder .*empty-folder has no \.txt or \.md files/);
  await assert.rejects(buildTextStore("b_blank", { lab }), /source 'b_blank' has no documents after cleaning \(1 offered: 1 empty, 0 duplicates\)/);
  await assert.rejects(buildTextStore("no_such_source", { lab }), /unknown source 'no_such_source'; known sources: brown, /);
});

test("registerSource() rejects bad ids and built-in ids", () => {
  const base = {
    domain: "d",
    language: "en",
    licence: "l",
    origin: "synthetic" as const,
    description: "",
    version: 1,
    available: () => ({ ok: true }),
    fingerprint: () => "",
    documents: () => [],
  };
  assert.throws(() => registerSource({ ...base, id: "Bad-Id" }), /must be lowercase letters/);
  assert.throws(() => registerSource({ ...base, id: "brown" }), /'brown' is a built-in source id/);
});

test("a real Debian source: fortunes_en fetched with apt-get download + dpkg-deb -x into the lab", async (t) => {
  const { which } = await import("./debian.ts");
  if (which("apt-get") === null || which("dpkg-deb") === null) return skipOrFail(t, "no apt on this machine");
  let store;
  try {
    store = await buildTextStore("fortunes_en", { lab });
  } catch (e) {
    if (/Failed to fetch|Could not resolve|Temporary failure|Unable to locate/.test((e as Error).message))
      return skipOrFail(t, `apt cannot fetch here: ${(e as Error).message}`);
    throw e;
  }
  assert.ok(store.manifest.nDocs > 10_000, `${store.manifest.nDocs} fortunes`);
  assert.ok(store.manifest.nBytes / store.manifest.nDocs < 400, "fortunes are short documents");
  assert.match(store.manifest.fingerprint, /fortunes_1%3a[\d.]+-[\d.]+_all\.deb/);
  assert.ok(store.manifest.clean.duplicatesDropped > 0);
});

test("repeats: each document is one span repeated, from the printable alphabet, short or long spans in about equal shares", async () => {
  const { repeatsDocuments, REPEATS_ALPHABET, REPEATS_DEFAULTS } = await import("./repeats.ts");
  const p = { ...REPEATS_DEFAULTS, documents: 400 };
  const docs = [...repeatsDocuments(p)];
  assert.deepEqual([...repeatsDocuments(p)], docs, "deterministic for the parameters");
  assert.notDeepEqual([...repeatsDocuments({ ...p, seed: p.seed + 1 })], docs, "another seed, other documents");
  assert.equal(REPEATS_ALPHABET.length, 94);
  assert.ok(!REPEATS_ALPHABET.includes(" "));
  let long = 0;
  for (const d of docs) {
    // The smallest period of the document is the span length.
    let n = 1;
    while (n < d.length && d.slice(n) !== d.slice(0, d.length - n)) n++;
    const inShort = n >= p.short.min && n <= p.short.max,
      inLong = n >= p.long.min && n <= p.long.max;
    assert.ok(inShort || inLong, `period ${n} outside both ranges`);
    if (inLong) long++;
    assert.ok(d.length >= p.docChars && d.length < p.docChars + n, `length ${d.length} for span ${n}`);
    for (const ch of d) assert.ok(REPEATS_ALPHABET.includes(ch), `character ${JSON.stringify(ch)} outside the alphabet`);
  }
  // 400 documents, share 0.5: the count is Binomial(400, 0.5), sd 10.
  assert.ok(long > 160 && long < 240, `${long} long-span documents of 400`);
});
