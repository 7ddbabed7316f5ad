import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./test-helpers.ts";

const lab = mkdtempSync(join(tmpdir(), "icl-lab-cli-"));
process.on("exit", () => rmSync(lab, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(args, { lab });

test("corpus list --json: every source with domain, language, availability; the default suite", () => {
  const r = cli("corpus", "list", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { defaultSuite: string[]; sources: Array<{ id: string; domain: string; available: boolean; origin: string }> };
  assert.deepEqual(out.defaultSuite, ["brown", "legal", "email", "zh_poetry"]);
  for (const id of out.defaultSuite) assert.equal(out.sources.find((s) => s.id === id)?.available, true);
  const domains = new Set(out.sources.map((s) => s.domain));
  assert.ok(domains.size >= 9, `${domains.size} domains`);
});

test("corpus add / build / info on the user's folder, and tokenizer train on it", () => {
  const dir = join(lab, "notes");
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 30; i++) writeFileSync(join(dir, `n${i}.md`), `Note ${i}: the quick brown fox jumps over the lazy dog ${i} times.\n`.repeat(20));
  const add = cli("corpus", "add", "notes", dir, "--domain", "lab notes", "--json", "-q");
  assert.equal(add.code, 0, add.stderr);
  assert.equal(JSON.parse(add.stdout).documents, 30);

  const build = cli("corpus", "build", "notes", "--tokenizer", "byte", "--json", "-q");
  assert.equal(build.code, 0, build.stderr);
  const b = JSON.parse(build.stdout);
  assert.equal(b.tokenizer.id, "byte");
  assert.equal(b.sources[0].tokens, b.sources[0].bytes);

  const info = cli("corpus", "info", "notes", "--json");
  assert.equal(info.code, 0, info.stderr);
  const i = JSON.parse(info.stdout);
  assert.deepEqual([i.origin, i.domain, i.text.documents, i.tokenStores[0].tokenizer], ["user", "lab notes", 30, "byte"]);

  const train = cli("tokenizer", "train", "--sources", "notes", "--vocab", "300", "--json", "-q");
  assert.equal(train.code, 0, train.stderr);
  const t = JSON.parse(train.stdout);
  assert.equal(t.cached, false);
  assert.ok(existsSync(t.path));
  assert.ok(t.heldOutCompression[0].bytesPerToken > 1);
  const again = JSON.parse(cli("tokenizer", "train", "--sources", "notes", "--vocab", "300", "--json", "-q").stdout);
  assert.deepEqual([again.cached, again.id], [true, t.id]);
});

test("bad input: one clear line naming the source and file, exit code 1, nothing damaged", () => {
  const before = readFileSync(join(lab, "data", "user-sources.json"), "utf8");
  const missing = cli("corpus", "add", "ghost", join(lab, "nope.txt"), "--domain", "x");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^icl-lab: source 'ghost': .*nope\.txt does not exist/);

  const latin1 = join(lab, "latin1.txt");
  writeFileSync(latin1, Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  const bad = cli("corpus", "add", "latin", latin1, "--domain", "x", "-q");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /source 'latin': .*latin1\.txt is not valid UTF-8 \(byte offset 3: 0xe9\)/);
  assert.equal(bad.stderr.trim().split("\n").length, 1, "one line, no stack trace");
  assert.equal(readFileSync(join(lab, "data", "user-sources.json"), "utf8"), before, "a failed add must not change the lab");

  const jsonl = join(lab, "bad.jsonl");
  writeFileSync(jsonl, '{"text": "fine"}\n{"title": "no text"}\n');
  const nt = cli("corpus", "add", "nt", jsonl, "--domain", "x");
  assert.equal(nt.code, 1);
  assert.match(nt.stderr, /bad\.jsonl line 2: expected a JSON object with a string field "text"/);

  const unknown = cli("corpus", "info", "nope");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown source 'nope'/);
  const builtin = cli("corpus", "add", "brown", latin1, "--domain", "x");
  assert.match(builtin.stderr, /'brown' is a built-in source/);
  const tok = cli("corpus", "build", "notes", "--tokenizer", "wordpiece");
  assert.equal(tok.code, 1);
  assert.match(tok.stderr, /--tokenizer must be 'byte', 'bpe' or the path of a tokenizer.json, found 'wordpiece'/);
  // The earlier source still builds from its cache.
  assert.equal(cli("corpus", "build", "notes", "--tokenizer", "byte", "-q").code, 0);
});
