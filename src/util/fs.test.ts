import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDirAtomic, copyFileAtomic, removeStaleTemps, writeFileAtomic } from "./fs.ts";

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "icl-fs-test-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("writeFileAtomic() replaces a file with a string, bytes or pieces and leaves no temporary file", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "sub", "f.txt");
  writeFileAtomic(path, "old");
  writeFileAtomic(path, "héllo");
  assert.equal(readFileSync(path, "utf8"), "héllo");
  writeFileAtomic(path, [Uint8Array.from([1, 2]), Uint8Array.from([3])]);
  assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  assert.deepEqual(readdirSync(join(dir, "sub")), ["f.txt"]);
});

test("writeFileAtomic() with mkdir: false fails on a missing folder and leaves nothing", (t) => {
  const dir = tempDir(t);
  assert.throws(() => writeFileAtomic(join(dir, "no", "f.txt"), "x", { mkdir: false }), /ENOENT/);
  assert.deepEqual(readdirSync(dir), []);
});

test("copyFileAtomic() replaces the destination with a complete copy", (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "a"), "new");
  writeFileSync(join(dir, "b"), "old");
  copyFileAtomic(join(dir, "a"), join(dir, "b"));
  assert.equal(readFileSync(join(dir, "b"), "utf8"), "new");
  assert.throws(() => copyFileAtomic(join(dir, "missing"), join(dir, "b")), /ENOENT/);
  assert.deepEqual(readdirSync(dir).sort(), ["a", "b"]);
});

test("removeStaleTemps() removes the temporaries of dead processes only, files and folders", (t) => {
  const dir = tempDir(t);
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
  writeFileSync(join(dir, `x.bin.tmp-${dead}-abc123`), "partial");
  mkdirSync(join(dir, `store.tmp-${dead}-00ff`));
  writeFileSync(join(dir, `mine.tmp-${process.pid}-abc`), "in progress");
  writeFileSync(join(dir, "keep.txt"), "");
  const removed = removeStaleTemps(dir);
  assert.deepEqual(removed.sort(), [join(dir, `store.tmp-${dead}-00ff`), join(dir, `x.bin.tmp-${dead}-abc123`)]);
  assert.deepEqual(readdirSync(dir).sort(), ["keep.txt", `mine.tmp-${process.pid}-abc`]);
  assert.deepEqual(removeStaleTemps(join(dir, "missing")), []);
});

test("buildDirAtomic() publishes a complete folder, keeps the first of two builds, and leaves nothing on error", async (t) => {
  const dir = tempDir(t);
  const target = join(dir, "built");
  assert.equal(await buildDirAtomic(target, (tmp) => (writeFileSync(join(tmp, "a"), "1"), 7)), 7);
  await buildDirAtomic(target, (tmp) => writeFileSync(join(tmp, "a"), "2"));
  assert.equal(readFileSync(join(target, "a"), "utf8"), "1");
  await assert.rejects(
    buildDirAtomic(join(dir, "failed"), () => Promise.reject(new Error("boom"))),
    /boom/,
  );
  assert.equal(existsSync(join(dir, "failed")), false);
  assert.deepEqual(readdirSync(dir), ["built"]);
});
