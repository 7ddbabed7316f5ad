/**
 * Small helpers shared by the data pipeline: content hashes, canonical JSON, file listing. The
 * seeded random numbers that depend only on their inputs (so every data order is reproducible from a
 * seed) live in src/util/random.ts and the atomic writers (a killed build leaves the old file or
 * folder or none, never a torn one) in src/util/fs.ts; both are re-exported here for the pipeline.
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "../util/json.ts";

export { mix32, Mulberry32, permutation, uniform } from "../util/random.ts";
export { buildDirAtomic, removeStaleTemps, writeFileAtomic } from "../util/fs.ts";

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

/** 32-bit FNV-1a of bytes. */
export function hashBytes32(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
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
