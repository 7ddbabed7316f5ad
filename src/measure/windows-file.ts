/**
 * Evaluation windows as a file other tools can read: NumPy's `.npy` format, version 1.0, dtype
 * little-endian int32 ('<i4'), C order, shape (N, L) — L = nCtx + 1 tokens per window (the window
 * and the token that the last position predicts). `numpy.load(path)` gives the same token ids, so
 * PyTorch or TransformerLens can score exactly the windows icl-lab scored:
 *
 *     w = torch.from_numpy(np.load("windows.npy")).long()          # (N, 513)
 *     logits = model(w[:, :-1]); loss = F.cross_entropy(logits.transpose(1, 2), w[:, 1:], reduction="none")
 *     icl = loss[:, 499].mean() - loss[:, 49].mean()
 *
 * Writing is atomic: a temporary file in the same folder is written, flushed to disk and renamed
 * over the target, so a killed write leaves the old file or none, never a torn one. Reading
 * accepts versions 1.0–3.0 and the integer dtypes NumPy users are likely to save (int8–int64,
 * uint8–uint32, either byte order), converted to int32 with a range check.
 */
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/fs.ts";

const MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** The bytes of an .npy v1.0 file holding int32 windows [n, length]. */
export function encodeWindowsNpy(windows: Int32Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || windows.length % length !== 0) {
    throw new Error(`encodeWindowsNpy: ${windows.length} tokens are not a whole number of windows of length ${length}`);
  }
  const n = windows.length / length;
  let header = `{'descr': '<i4', 'fortran_order': False, 'shape': (${n}, ${length}), }`;
  // Pad with spaces and end with a newline so the data starts on a 64-byte boundary (NumPy does).
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += `${" ".repeat((64 - (unpadded % 64)) % 64)}\n`;
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(MAGIC.length + 4 + headerBytes.length + windows.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, headerBytes.length, true);
  out.set(headerBytes, 10);
  const dv = new DataView(out.buffer, 10 + headerBytes.length);
  for (let i = 0; i < windows.length; i++) dv.setInt32(i * 4, windows[i], true);
  return out;
}

export interface WindowsFile {
  windows: Int32Array;
  n: number;
  length: number;
}

const INT_TYPES: Record<string, { bytes: number; read: (dv: DataView, off: number, le: boolean) => number }> = {
  i1: { bytes: 1, read: (dv, o) => dv.getInt8(o) },
  u1: { bytes: 1, read: (dv, o) => dv.getUint8(o) },
  i2: { bytes: 2, read: (dv, o, le) => dv.getInt16(o, le) },
  u2: { bytes: 2, read: (dv, o, le) => dv.getUint16(o, le) },
  i4: { bytes: 4, read: (dv, o, le) => dv.getInt32(o, le) },
  u4: { bytes: 4, read: (dv, o, le) => dv.getUint32(o, le) },
  i8: { bytes: 8, read: (dv, o, le) => Number(dv.getBigInt64(o, le)) },
  u8: { bytes: 8, read: (dv, o, le) => Number(dv.getBigUint64(o, le)) },
};

/** Parses .npy bytes holding a 2-D integer array into int32 windows. `source` names it in errors. */
export function decodeWindowsNpy(bytes: Uint8Array, source = "windows file"): WindowsFile {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error(`${source}: not a .npy file (expected the magic string \\x93NUMPY)`);
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number, start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else throw new Error(`${source}: .npy version ${major}.${bytes[7]} is not supported (expected 1.0, 2.0 or 3.0)`);
  if (start + headerLen > bytes.length) throw new Error(`${source}: the header is truncated`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${source}: cannot parse the .npy header '${header.trim()}'`);
  if (fortran === "True") throw new Error(`${source}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  if (shape.length !== 2 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${source}: expected a 2-D array (N windows, L tokens), found shape (${shapeText})`);
  }
  const order = descr[0],
    kind = descr.slice(1);
  const type = INT_TYPES[kind];
  if (type === undefined || !"<>|=".includes(order)) throw new Error(`${source}: dtype '${descr}' is not an integer type (expected '<i4')`);
  const le = order !== ">";
  const [n, length] = shape;
  const count = n * length;
  const dataStart = start + headerLen;
  if (bytes.length < dataStart + count * type.bytes) {
    throw new Error(`${source}: holds ${bytes.length - dataStart} data bytes, the shape (${n}, ${length}) of ${descr} needs ${count * type.bytes}`);
  }
  const data = new DataView(bytes.buffer, bytes.byteOffset + dataStart, count * type.bytes);
  const windows = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = type.read(data, i * type.bytes, le);
    if (v < 0 || v > 0x7fffffff)
      throw new Error(`${source}: token id ${v} at window ${Math.floor(i / length)}, position ${i % length} is not a valid int32 id ≥ 0`);
    windows[i] = v;
  }
  return { windows, n, length };
}

/** Writes windows [n, length] to `path` as .npy int32, atomically. */
export function writeWindowsNpy(path: string, windows: Int32Array, opts: { length: number }): void {
  const bytes = encodeWindowsNpy(windows, opts.length);
  try {
    writeFileAtomic(path, bytes, { mkdir: false });
  } catch (e) {
    throw new Error(`writeWindowsNpy: cannot write '${path}': ${(e as Error).message}`);
  }
}

/** Reads windows from an .npy file (see decodeWindowsNpy for the accepted dtypes). */
export function readWindowsNpy(path: string): WindowsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`readWindowsNpy: cannot read '${path}': ${(e as Error).message}`);
  }
  return decodeWindowsNpy(bytes, path);
}
