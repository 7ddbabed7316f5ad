/**
 * The windows file: .npy int32 round trip, a header NumPy accepts (checked with NumPy itself when
 * python3 has it), other integer dtypes read back, atomic replacement, and clear errors.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeWindowsNpy, encodeWindowsNpy, readWindowsNpy, writeWindowsNpy } from "./windows-file.ts";
import { skipOrFail } from "../util/test-env.ts";

const dir = mkdtempSync(join(tmpdir(), "icl-lab-windows-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const windows = Int32Array.from({ length: 3 * 513 }, (_, i) => (i * 7919) % 4096);

test("writeWindowsNpy() and readWindowsNpy() round-trip int32 windows [N, L]", () => {
  const path = join(dir, "w.npy");
  writeWindowsNpy(path, windows, { length: 513 });
  const r = readWindowsNpy(path);
  assert.equal(r.n, 3);
  assert.equal(r.length, 513);
  assert.deepEqual(r.windows, windows);
  const bytes = readFileSync(path);
  const headerLen = bytes.readUInt16LE(8);
  assert.equal((10 + headerLen) % 64, 0, "data starts on a 64-byte boundary");
  assert.match(bytes.subarray(10, 10 + headerLen).toString("latin1"), /^\{'descr': '<i4', 'fortran_order': False, 'shape': \(3, 513\), \} *\n$/);
});

test("NumPy reads the file as the same int32 array (when python3 with NumPy is available)", (t) => {
  const path = join(dir, "np.npy");
  writeWindowsNpy(path, windows, { length: 513 });
  const py = spawnSync("python3", ["-c", "import sys, numpy as np; a = np.load(sys.argv[1]); print(a.dtype, a.shape, int(a.sum()), int(a[2, 512]))", path], {
    encoding: "utf8",
  });
  if (py.status !== 0 && /No module named|not found|ENOENT/.test(`${py.stderr}${py.error?.message ?? ""}`)) {
    skipOrFail(t, "python3 with NumPy is not available");
    return;
  }
  const sum = windows.reduce((a, b) => a + b, 0);
  assert.equal(py.stdout.trim(), `int32 (3, 513) ${sum} ${windows[2 * 513 + 512]}`);
  // And the other way: an int64 array saved by NumPy reads back.
  const from = join(dir, "from-numpy.npy");
  const w = spawnSync("python3", ["-c", "import sys, numpy as np; np.save(sys.argv[1], np.arange(12, dtype=np.int64).reshape(3, 4))", from], {
    encoding: "utf8",
  });
  assert.equal(w.status, 0, w.stderr);
  const r = readWindowsNpy(from);
  assert.deepEqual([r.n, r.length, Array.from(r.windows)], [3, 4, Array.from({ length: 12 }, (_, i) => i)]);
});

test("decodeWindowsNpy() reads uint16 big-endian data and rejects what is not a 2-D integer array", () => {
  const enc = encodeWindowsNpy(Int32Array.from([1, 2, 3, 4]), 2);
  const header = `${`{'descr': '>u2', 'fortran_order': False, 'shape': (2, 2), }`.padEnd(117, " ")}\n`;
  const bytes = new Uint8Array(10 + header.length + 8);
  bytes.set(enc.subarray(0, 8));
  new DataView(bytes.buffer).setUint16(8, header.length, true);
  bytes.set(new TextEncoder().encode(header), 10);
  const dv = new DataView(bytes.buffer, 10 + header.length);
  [5, 6, 7, 65535].forEach((v, i) => dv.setUint16(2 * i, v, false));
  assert.deepEqual(Array.from(decodeWindowsNpy(bytes).windows), [5, 6, 7, 65535]);
  assert.throws(() => decodeWindowsNpy(new Uint8Array(20)), /not a \.npy file/);
  const bad = (text: string) => {
    const h = `${text.padEnd(117, " ")}\n`;
    const b = new Uint8Array(10 + h.length + 64);
    b.set(enc.subarray(0, 8));
    new DataView(b.buffer).setUint16(8, h.length, true);
    b.set(new TextEncoder().encode(h), 10);
    return b;
  };
  assert.throws(
    () => decodeWindowsNpy(bad(`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }`), "x.npy"),
    /x\.npy: dtype '<f4' is not an integer type/,
  );
  assert.throws(() => decodeWindowsNpy(bad(`{'descr': '<i4', 'fortran_order': False, 'shape': (8,), }`)), /expected a 2-D array/);
  assert.throws(() => decodeWindowsNpy(bad(`{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2), }`)), /Fortran-ordered/);
  assert.throws(() => decodeWindowsNpy(bad(`{'descr': '<i4', 'fortran_order': False, 'shape': (20, 20), }`)), /needs 1600/);
  assert.throws(
    () => decodeWindowsNpy(bad(`{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1), }`).fill(255, 128)),
    /token id -1 at window 0, position 0/,
  );
});

test("writeWindowsNpy() replaces a file atomically and leaves no temporary file", () => {
  const sub = mkdtempSync(join(dir, "atomic-"));
  const path = join(sub, "w.npy");
  writeFileSync(path, "old");
  writeWindowsNpy(path, Int32Array.from([1, 2]), { length: 2 });
  assert.deepEqual(readdirSync(sub), ["w.npy"]);
  assert.deepEqual(Array.from(readWindowsNpy(path).windows), [1, 2]);
  // A failed write (missing folder) says where and leaves nothing behind.
  assert.throws(() => writeWindowsNpy(join(sub, "no", "w.npy"), Int32Array.from([1, 2]), { length: 2 }), /cannot write '.*no\/w\.npy'/);
  assert.throws(() => writeWindowsNpy(path, Int32Array.from([1, 2, 3]), { length: 2 }), /3 tokens are not a whole number of windows of length 2/);
  assert.deepEqual(readdirSync(sub), ["w.npy"]);
  assert.throws(() => readWindowsNpy(join(sub, "missing.npy")), /cannot read '.*missing\.npy'/);
});
