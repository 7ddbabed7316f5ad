import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dataPaths } from "./paths.ts";
import { registerSource } from "./sources/registry.ts";
import { saveUserSource } from "./sources/user.ts";
import { syntheticSource, tempLab } from "./test-helpers.ts";
import { buildTextStore } from "./text-store.ts";
import { buildTokenStore } from "./token-store.ts";
import { byteTokenizer, type Tokenizer } from "./tokenizer.ts";

const lab = tempLab();

test("a token store is uint16 tokens plus a manifest with document offsets, counts and input hashes", async () => {
  syntheticSource("ts_a", 30, 40);
  const store = await buildTokenStore("ts_a", byteTokenizer(), { lab });
  const m = store.manifest;
  assert.equal(m.dtype, "uint16");
  assert.equal(m.nDocs, 30);
  assert.equal(m.docOffsets.length, 31);
  assert.equal(m.nTokens, m.nBytes); // bytes tokenizer: one token per byte
  assert.equal(statSync(join(store.dir, "tokens.bin")).size, 2 * m.nTokens);
  assert.equal(m.inputs.tokenizerId, "byte");
  assert.match(m.inputs.textHash, /^[0-9a-f]{64}$/);
  assert.equal(m.stats.meanDocTokens, m.nTokens / 30);
  const text = await buildTextStore("ts_a", { lab });
  assert.equal(byteTokenizer().decode(store.docTokens(7)), text.doc(7));
});

test("stores are cached: a second build loads the same folder without rebuilding", async () => {
  syntheticSource("ts_b", 10, 20);
  const a = await buildTokenStore("ts_b", byteTokenizer(), { lab });
  const created = a.manifest.createdAt;
  const b = await buildTokenStore("ts_b", byteTokenizer(), { lab });
  assert.equal(b.dir, a.dir);
  assert.equal(b.manifest.createdAt, created);
});

test("a store is rebuilt when its input changed (a user file edited), and the old one is left intact", async () => {
  const dir = join(lab, "edit");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "notes.txt");
  writeFileSync(file, "first version of the notes");
  saveUserSource(dataPaths(lab), { id: "ts_user", path: file, domain: "notes", language: "en", licence: "mine" });
  const a = await buildTokenStore("ts_user", byteTokenizer(), { lab });
  writeFileSync(file, "second, longer version of the notes");
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  const b = await buildTokenStore("ts_user", byteTokenizer(), { lab });
  assert.notEqual(b.dir, a.dir);
  assert.equal(byteTokenizer().decode(b.tokens), "second, longer version of the notes");
  assert.ok(existsSync(join(a.dir, "manifest.json")));
  assert.equal(byteTokenizer().decode(a.tokens), "first version of the notes");
});

test("a build that fails half-way leaves no store and no temporary files", async () => {
  registerSource({
    id: "ts_fail",
    domain: "d",
    language: "en",
    licence: "l",
    origin: "synthetic",
    description: "fails after two documents",
    version: 1,
    available: () => ({ ok: true }),
    fingerprint: () => "x",
    *documents() {
      yield "one";
      yield "two";
      throw new Error("generator broke");
    },
  });
  await assert.rejects(buildTokenStore("ts_fail", byteTokenizer(), { lab }), /generator broke/);
  assert.equal(existsSync(join(dataPaths(lab).text, "ts_fail")), false);

  // A tokenizer that dies mid-way: the text store survives, no token store or temp folder appears.
  syntheticSource("ts_tokfail", 20, 10);
  let calls = 0;
  const flaky: Tokenizer = {
    ...byteTokenizer(),
    id: "flaky",
    vocabSize: 257,
    eodId: 256,
    kind: "byte",
    encode(text: string) {
      if (++calls > 5) throw new Error("tokenizer crashed");
      return byteTokenizer().encode(text);
    },
    decode: (ids) => byteTokenizer().decode(ids),
    tokenBytes: (id) => byteTokenizer().tokenBytes(id),
    toJSON: () => byteTokenizer().toJSON(),
    save: () => {},
  };
  await assert.rejects(buildTokenStore("ts_tokfail", flaky, { lab }), /tokenizer crashed/);
  const storeRoot = join(dataPaths(lab).stores, "ts_tokfail");
  assert.deepEqual(existsSync(storeRoot) ? readdirSync(storeRoot) : [], []);
  assert.ok(readdirSync(join(dataPaths(lab).text, "ts_tokfail")).every((n) => !n.includes(".tmp-")));
});

test("leftovers of a killed build (a temp folder of a dead process) are removed by the next build", async () => {
  syntheticSource("ts_killed", 5, 5);
  const root = join(dataPaths(lab).stores, "ts_killed");
  mkdirSync(root, { recursive: true });
  // pid 2^22 + 1 is above Linux's pid_max default, so no live process has it.
  const stale = join(root, "byte-0000.tmp-4194305-deadbeef");
  mkdirSync(stale);
  writeFileSync(join(stale, "tokens.bin"), "torn");
  const store = await buildTokenStore("ts_killed", byteTokenizer(), { lab });
  assert.equal(existsSync(stale), false);
  assert.ok(JSON.parse(readFileSync(join(store.dir, "manifest.json"), "utf8")).nTokens > 0);
});

test("a build killed with SIGKILL leaves the old store or none, never a torn one", async () => {
  const here = new URL(".", import.meta.url).pathname;
  // The child builds a large source slowly; we kill it in the middle of writing.
  const script = `
    import { registerSource } from "${here}sources/registry.ts";
    import { buildTokenStore } from "${here}token-store.ts";
    import { byteTokenizer } from "${here}tokenizer.ts";
    registerSource({ id: "ts_big", domain: "d", language: "en", licence: "l", origin: "synthetic", description: "big",
      version: 1, available: () => ({ ok: true }), fingerprint: () => "big",
      *documents() { for (let d = 0; d < 4000; d++) { if (d === 100) process.stdout.write("started\\n"); yield "x".repeat(20000) + d; } } });
    await buildTokenStore("ts_big", byteTokenizer(), { lab: ${JSON.stringify(lab)} });
    process.stdout.write("finished\\n");
  `;
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const output = await new Promise<string>((resolve) => {
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("started")) child.kill("SIGKILL");
    });
    child.on("close", () => resolve(out));
  });
  assert.equal(output.includes("finished"), false, "the child finished before it could be killed");
  for (const kind of ["text", "stores"] as const) {
    const root = join(dataPaths(lab)[kind], "ts_big");
    for (const name of existsSync(root) ? readdirSync(root) : []) {
      // Anything not a temp folder must be a complete store.
      if (!name.includes(".tmp-")) assert.ok(existsSync(join(root, name, "manifest.json")), `${kind}/${name} is torn`);
    }
  }
});
