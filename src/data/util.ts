/**
 * Small helpers shared by the data pipeline: content hashes, canonical JSON, seeded random numbers
 * that depend only on their inputs (so every data order is reproducible from a seed), and atomic
 * writes (a killed build leaves the old file or folder or none, never a torn one).
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { canonicalJson } from "../util/json.ts";

/** sha256 of strings / bytes, as lowercase hex. */
export function sha256(...parts: Array<string | Uint8Array>): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** JSON with object keys sorted at every level, so equal values give equal hashes. */
export const stableStringify = canonicalJson;

/** Hash of a JSON-able value (canonical form), hex. */
export function hashValue(value: unknown): string {
  return sha256(stableStringify(value));
}

/** 32-bit FNV-1a of a string's UTF-16 code units (fast, stable; not for security). */
export function hashString32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** 32-bit FNV-1a of bytes. */
export function hashBytes32(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: a good 32-bit mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Mixes integers (and strings, hashed) into one 32-bit value. A pure function: the same inputs
 * always give the same output, which is what makes samplers resumable from a small state.
 */
export function mix32(...parts: Array<number | string>): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    const x = typeof p === "string" ? hashString32(p) : p >>> 0;
    // Fold in values above 2^32 too (row counters can exceed it in long runs).
    const hi = typeof p === "number" && p > 0xffffffff ? Math.floor(p / 4294967296) >>> 0 : 0;
    h = fmix32(h ^ x) + 0x6d2b79f5;
    if (hi !== 0) h = fmix32(h ^ hi) + 0x6d2b79f5;
  }
  return fmix32(h);
}

/** Uniform in [0, 1) from mixed inputs. */
export function uniform(...parts: Array<number | string>): number {
  return mix32(...parts) / 4294967296;
}

/** A small seeded generator (mulberry32) for shuffles. */
export class Rng {
  private s: number;
  constructor(...seed: Array<number | string>) {
    this.s = mix32(...seed);
  }
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** A seeded Fisher–Yates permutation of 0..n-1. */
export function permutation(n: number, ...seed: Array<number | string>): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rng = new Rng(...seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const TMP_MARK = ".tmp-";

/** Removes `<name>.tmp-<pid>-…` leftovers of builds whose process is gone. */
export function removeStaleTemps(parent: string): void {
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent)) {
    const i = name.indexOf(TMP_MARK);
    if (i < 0) continue;
    const pid = Number(name.slice(i + TMP_MARK.length).split("-")[0]);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) {
      rmSync(join(parent, name), { recursive: true, force: true });
    }
  }
}

function tempSibling(path: string): string {
  return join(dirname(path), `${basename(path)}${TMP_MARK}${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Writes a file atomically: a temporary sibling, then one rename. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Builds a folder atomically: `fill` writes into a fresh temporary sibling, which is then renamed
 * to `dir` in one step. If `dir` already exists when the build ends (a concurrent build of the
 * same content-addressed key won), the new copy is discarded. On error nothing is left behind.
 */
export async function buildDirAtomic<T>(dir: string, fill: (tmpDir: string) => Promise<T> | T): Promise<T> {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  removeStaleTemps(parent);
  const tmp = tempSibling(dir);
  mkdirSync(tmp);
  try {
    const result = await fill(tmp);
    if (existsSync(dir)) {
      rmSync(tmp, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
    return result;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Human-readable byte count. */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** Regular files under `dir` (recursively unless `recursive` is false), sorted, symlinks skipped. */
export function listFiles(dir: string, accept: (relPath: string) => boolean, options: { recursive?: boolean } = {}): string[] {
  const recursive = options.recursive ?? true;
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const r = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) {
        if (recursive) walk(p, r);
      } else if (st.isFile() && accept(r)) out.push(p);
    }
  };
  walk(dir, "");
  return out;
}
