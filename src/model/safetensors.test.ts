import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CheckpointCorruptError, loadTensors, saveTensors, type FileTensor } from "./safetensors.ts";
import { assertSameTensors, tempDir } from "./test-helpers.ts";
import { removeStaleTemps } from "../util/fs.ts";
import { skipOrFail } from "../util/test-env.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const repoRoot = join(here, "..", "..");
const moduleUrl = new URL("./safetensors.ts", import.meta.url).href;

/** A file built by hand from the spec: 8-byte LE length, JSON header, then the data bytes. */
function handMade(header: object | string, data: number[], pad = 0): Buffer {
  const json = Buffer.from((typeof header === "string" ? header : JSON.stringify(header)) + " ".repeat(pad), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.from(data)]);
}

const allDtypes: Record<string, FileTensor> = {
  f64: { data: new Float64Array([1.5, -0, NaN, Infinity, 1e300, 5e-324]), shape: [2, 3] },
  f32: { data: new Float32Array([1, -2.5, NaN, -Infinity]), shape: [2, 2] },
  f16: { data: new Uint16Array([0x3c00, 0xc000, 0x7e00]), shape: [3], dtype: "F16" },
  bf16: { data: new Uint16Array([0x3f80, 0xc000]), shape: [1, 2], dtype: "BF16" },
  i64: { data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n]), shape: [3] },
  u64: { data: new BigUint64Array([2n ** 64n - 1n]), shape: [1] },
  i32: { data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]), shape: [2] },
  u32: { data: new Uint32Array([2 ** 32 - 1, 0, 7]), shape: [1, 3, 1] },
  i16: { data: new Int16Array([-32768, 32767]), shape: [2] },
  u16: { data: new Uint16Array([65535]), shape: [] },
  i8: { data: new Int8Array([-128, 127, 0]), shape: [3] },
  u8: { data: new Uint8Array([255, 0]), shape: [2] },
  bool: { data: new Uint8Array([0, 1, 1]), shape: [3], dtype: "BOOL" },
  f8e4m3: { data: new Uint8Array([0x38]), shape: [1], dtype: "F8_E4M3" },
  f8e5m2: { data: new Uint8Array([0x3c]), shape: [1], dtype: "F8_E5M2" },
  empty: { data: new Float32Array(0), shape: [0, 4] },
  "blocks.0.attn.W_Q": { data: new Float32Array([0.25]), shape: [1, 1, 1] },
};

test("saveTensors() then loadTensors() returns every dtype bit for bit, with metadata", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "all.safetensors");
  const saved = saveTensors(path, allDtypes, { metadata: { note: "héllo", empty: "" } });
  assert.equal(saved.bytes, statSync(path).size);
  const loaded = loadTensors(path, { requireChecksum: true });
  assertSameTensors(loaded.tensors, allDtypes);
  assert.equal(loaded.tensors.f64.dtype, "F64");
  assert.equal(loaded.tensors.bool.dtype, "BOOL");
  assert.equal(loaded.metadata.note, "héllo");
  assert.equal(loaded.metadata.empty, "");
  assert.equal(loaded.sha256, saved.sha256);
  assert.deepEqual(readdirSync(dir), ["all.safetensors"], "no temporary file left behind");
});

test("saveTensors() accepts arrays that view part of a larger buffer", (t) => {
  const path = join(tempDir(t), "view.safetensors");
  const big = new Float32Array([9, 1, 2, 3, 9]);
  saveTensors(path, { x: { data: big.subarray(1, 4), shape: [3] } });
  assert.deepEqual([...(loadTensors(path).tensors.x.data as Float32Array)], [1, 2, 3]);
});

test("saveTensors() writes the spec's byte layout exactly (golden bytes built by hand)", (t) => {
  const path = join(tempDir(t), "golden.safetensors");
  saveTensors(path, { b: { data: new Uint8Array([7]), shape: [] }, a: { data: new Float32Array([1, -2]), shape: [2] } });
  // Sums computed independently with Python's hashlib: sha256 of the 9 data bytes, and of
  // json.dumps([[], [["a","F32",[2],0,8],["b","U8",[],8,9]]], separators=(",", ":")).
  const dataSha = "e9a17dc6aa3290ec7e8613e3123a08efe6440a7b81891b08447924287ef01822";
  const headerSha = "19f506d1ddde590cfc9a6a0382f90e4199816639a61e51791c65dbdcecf52adb";
  const header =
    `{"__metadata__":{"icl_lab_sha256":"${dataSha}","icl_lab_header_sha256":"${headerSha}"},` +
    `"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[],"data_offsets":[8,9]}}`;
  // 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0 (little-endian), then the byte 7. The header is padded
  // with spaces so that the data section starts at a multiple of 8.
  const pad = (8 - ((8 + header.length) % 8)) % 8;
  const expected = handMade(header, [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x07], pad);
  const actual = readFileSync(path);
  assert.equal((8 + actual.readUInt32LE(0)) % 8, 0, "data section is 8-byte aligned");
  assert.equal(actual.toString("hex"), expected.toString("hex"));
});

test("loadTensors() reads a file from another writer: spaces in the JSON, no metadata, unaligned, any order", (t) => {
  const path = join(tempDir(t), "other.safetensors");
  const header = '{"w": {"dtype": "I64", "shape": [1], "data_offsets": [2, 10]}, "h": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}}';
  writeFileSync(path, handMade(header, [0x00, 0x3c, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  const { tensors, metadata, sha256 } = loadTensors(path);
  assert.deepEqual(metadata, {});
  assert.equal(sha256, undefined);
  assert.equal(tensors.h.dtype, "F16");
  assert.deepEqual([...tensors.h.data], [0x3c00]);
  assert.deepEqual([...tensors.w.data], [-3n]);
  assert.throws(() => loadTensors(path, { requireChecksum: true }), /no checksum/);
});

const hasTorch = spawnSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" }).status === 0;

// torch 1.13 has no safetensors module, so the script parses the format by hand, as the spec describes it.
const PYTHON_CHECK = String.raw`
import json, struct, sys, torch
src, dst = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n].decode("utf-8"))
data = raw[8 + n:]
DT = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64,
      "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
out = {"aligned": (8 + n) % 8 == 0, "metadata": header.get("__metadata__"), "tensors": {}}
for name, e in header.items():
    if name == "__metadata__" or e["dtype"] not in DT:
        continue
    b, end = e["data_offsets"]
    t = torch.frombuffer(bytearray(data[b:end]), dtype=DT[e["dtype"]]) if end > b else torch.empty(0, dtype=DT[e["dtype"]])
    t = t.reshape(e["shape"])
    vals = t.flatten().tolist()
    out["tensors"][name] = {"shape": list(t.shape), "values": [repr(int(v) if isinstance(v, bool) else v) for v in vals]}
print(json.dumps(out))
# And the other way: a file written from torch tensors, in the layout the Rust implementation uses.
ts = {"x": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4, "ids": torch.tensor([-5, 2**40], dtype=torch.int64),
      "half": torch.tensor([1.5, -2.0], dtype=torch.float16)}
names = sorted(ts, key=lambda k: (-ts[k].element_size(), k))
hdr, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
for k in names:
    b = ts[k].numpy().tobytes()
    hdr[k] = {"dtype": {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16"}[ts[k].dtype], "shape": list(ts[k].shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(hdr, separators=(",", ":")).encode()
h += b" " * ((8 - (8 + len(h)) % 8) % 8)
open(dst, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
`;

test("PyTorch reads our files and we read PyTorch's (header parsed by hand in Python)", (t) => {
  if (!hasTorch) return skipOrFail(t, "/usr/bin/python3 cannot import torch (Debian package python3-torch)");
  const dir = tempDir(t);
  const ours = join(dir, "ours.safetensors");
  const theirs = join(dir, "theirs.safetensors");
  saveTensors(ours, allDtypes, { metadata: { note: "x" } });
  const r = spawnSync("/usr/bin/python3", ["-c", PYTHON_CHECK, ours, theirs], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as {
    aligned: boolean;
    metadata: Record<string, string>;
    tensors: Record<string, { shape: number[]; values: string[] }>;
  };
  assert.equal(seen.aligned, true);
  assert.equal(seen.metadata.note, "x");
  const f16 = { 15360: 1, 49152: -2, 32256: NaN } as Record<number, number>;
  const bf16 = { 16256: 1, 49152: -2 } as Record<number, number>;
  // U16/U32/U64 and the F8 types have no torch 1.13 dtype, so Python skips them.
  const checked = Object.keys(allDtypes).filter((k) => !["u16", "u32", "u64", "f8e4m3", "f8e5m2"].includes(k));
  assert.deepEqual(Object.keys(seen.tensors).sort(), checked.sort());
  for (const name of checked) {
    const { data, shape } = allDtypes[name];
    const got = seen.tensors[name];
    assert.deepEqual(got.shape, shape, `${name}: shape`);
    const expected = [...data].map((v) => (typeof v === "bigint" ? String(v) : name === "f16" ? f16[v] : name === "bf16" ? bf16[v] : v));
    const actual = got.values.map((s) => (name === "i64" ? s : s === "nan" ? NaN : s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s)));
    assert.deepEqual(actual, expected, `${name}: values`);
  }
  const back = loadTensors(theirs);
  assert.deepEqual(back.metadata, { format: "pt" });
  assert.deepEqual([...back.tensors.x.data], [0, 0.25, 0.5, 0.75, 1, 1.25]);
  assert.deepEqual(back.tensors.x.shape, [2, 3]);
  assert.deepEqual([...back.tensors.ids.data], [-5n, 2n ** 40n]);
  assert.deepEqual([...back.tensors.half.data], [0x3e00, 0xc000]); // 1.5 and -2 in half precision
});

test("loadTensors() detects a flipped bit in every byte of a checksummed file", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "small.safetensors");
  saveTensors(
    path,
    { w: { data: new Float32Array([1, 2, 3]), shape: [3] }, n: { data: new Int32Array([4]), shape: [1] } },
    {
      metadata: { rng: '{"s":[1,2]}' },
    },
  );
  const good = readFileSync(path);
  const flipped = join(dir, "flipped.safetensors");
  let undetected = 0;
  for (let i = 0; i < good.length; i++) {
    for (const bit of [0, 3, 7]) {
      const bad = Buffer.from(good);
      bad[i] ^= 1 << bit;
      writeFileSync(flipped, bad);
      try {
        loadTensors(flipped);
        undetected++;
      } catch (e) {
        assert.ok(e instanceof CheckpointCorruptError, `byte ${i} bit ${bit}: ${e}`);
        assert.ok(e.message.startsWith(`checkpoint ${flipped} is corrupt: `), e.message);
      }
    }
  }
  assert.equal(undetected, 0);
  const dataByte = Buffer.from(good);
  dataByte[dataByte.length - 1] ^= 0x10;
  writeFileSync(flipped, dataByte);
  assert.throws(() => loadTensors(flipped), { message: `checkpoint ${flipped} is corrupt: checksum mismatch` });
});

test("loadTensors() rejects truncated files at every length with a clear reason", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "t.safetensors");
  saveTensors(path, { w: { data: new Float32Array(16), shape: [4, 4] } });
  const good = readFileSync(path);
  const cut = join(dir, "cut.safetensors");
  for (let len = 0; len < good.length; len++) {
    writeFileSync(cut, good.subarray(0, len));
    assert.throws(() => loadTensors(cut), CheckpointCorruptError, `cut at ${len}`);
  }
  writeFileSync(cut, good.subarray(0, 4));
  assert.throws(() => loadTensors(cut), /is corrupt: file is 4 bytes, shorter than the 8-byte header length/);
  writeFileSync(cut, good.subarray(0, 40));
  assert.throws(() => loadTensors(cut), /runs past the end of the 40-byte file \(truncated\?\)/);
  writeFileSync(cut, good.subarray(0, good.length - 1));
  assert.throws(() => loadTensors(cut), /tensor 'w' ends at byte 64 of the data section, which has only 63 bytes \(truncated\?\)/);
});

test("loadTensors() names the fault in a malformed header", (t) => {
  const path = join(tempDir(t), "bad.safetensors");
  const cases: Array<[Buffer, RegExp]> = [
    [
      handMade({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, Array(8).fill(0)),
      /tensor 'b' at \[4, 8\) overlaps tensor 'a', which ends at 8/,
    ],
    [handMade({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, Array(8).fill(0)), /hole at \[0, 4\) before tensor 'a'/],
    [handMade({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, Array(8).fill(0)), /4 unused bytes after the last tensor/],
    [handMade({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, Array(8).fill(0)), /tensor 'a' \(F32 \[3\]\) needs 12 bytes but data_offsets span 8/],
    [handMade({ a: { dtype: "F31", shape: [1], data_offsets: [0, 4] } }, Array(4).fill(0)), /tensor 'a' has unknown dtype "F31"/],
    [handMade({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, Array(4).fill(0)), /shape must hold non-negative integers/],
    [handMade({ a: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, Array(4).fill(0)), /invalid data_offsets \[4,0\]/],
    [handMade({ __metadata__: { k: 1 } }, []), /__metadata__.k must be a string/],
    [handMade("[1]", []), /header must start with '\{'/],
    [handMade("{not json", []), /header is not valid JSON/],
    [Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), Buffer.from("{}")]), /exceeds the 100000000-byte limit/],
  ];
  for (const [bytes, message] of cases) {
    writeFileSync(path, bytes);
    assert.throws(
      () => loadTensors(path),
      (e: Error) => e instanceof CheckpointCorruptError && message.test(e.message) && e.message.includes(path),
      String(message),
    );
  }
});

test("saveTensors() rejects a shape that does not match the data, naming the tensor", (t) => {
  const path = join(tempDir(t), "x.safetensors");
  assert.throws(() => saveTensors(path, { w: { data: new Float32Array(5), shape: [2, 3] } }), /tensor 'w' .*shape \[2, 3\] holds 6 elements but data has 5/);
  assert.throws(() => saveTensors(path, { w: { data: new Float32Array(2), shape: [2], dtype: "F16" } }), /dtype F16 needs a Uint16Array, found Float32Array/);
  assert.throws(() => saveTensors(path, { w: { data: new Float32Array(1), shape: [1] } }, { metadata: { icl_lab_sha256: "x" } }), /reserved/);
  assert.equal(existsSync(path), false);
});

test("a writer killed mid-write leaves the old checkpoint intact, and removeStaleTemps() clears its leftover", async (t) => {
  const dir = tempDir(t);
  const dest = join(dir, "model.safetensors");
  const old = { w: { data: new Float32Array([1, 2, 3]), shape: [3] } };
  saveTensors(dest, old);
  // The child rewrites `dest` with 32 MiB of new data in a loop; we SIGKILL it as soon as a
  // temporary file has appeared, i.e. between opening it and renaming it over `dest`.
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { saveTensors } = await import(${JSON.stringify(moduleUrl)});
       const w = new Float32Array(8 << 20).fill(7);
       for (;;) saveTensors(${JSON.stringify(dest)}, { w: { data: w, shape: [w.length] } });`,
    ],
    { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  let tmpSeen = "";
  const deadline = Date.now() + 15_000;
  while (!tmpSeen && Date.now() < deadline && child.exitCode === null) {
    tmpSeen = readdirSync(dir).find((n) => n.includes(".tmp-")) ?? "";
    if (!tmpSeen) await new Promise((r) => setTimeout(r, 1));
  }
  child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL", `child died on its own: ${stderr}`);
  assert.ok(tmpSeen, "the child never started writing");

  const loaded = loadTensors(dest, { requireChecksum: true });
  const w = loaded.tensors.w.data as Float32Array;
  const isOld = w.length === 3 && w[0] === 1;
  const isNew = w.length === 8 << 20 && w.every((x) => x === 7);
  assert.ok(isOld || isNew, "destination is either the old file or a complete new one");

  const leftovers = readdirSync(dir).filter((n) => n.includes(".tmp-"));
  for (const name of leftovers) {
    // A torn temporary file is itself detected as corrupt; one killed just before its rename is complete.
    try {
      const tmp = loadTensors(join(dir, name)).tensors.w.data as Float32Array;
      assert.ok(tmp.length === 8 << 20 && tmp.every((x) => x === 7), "a temporary file that loads is complete");
    } catch (e) {
      assert.ok(e instanceof CheckpointCorruptError, String(e));
    }
  }
  assert.deepEqual(removeStaleTemps(dir).sort(), leftovers.map((n) => join(dir, n)).sort());
  assert.deepEqual(readdirSync(dir), ["model.safetensors"]);
});
