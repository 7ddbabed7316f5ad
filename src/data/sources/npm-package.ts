/**
 * Locating the npm packages that ship the embedded corpora (declared as dependencies of icl-lab, so
 * `npm install` alone provides them).
 */
import { fileURLToPath } from "node:url";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { SourceDef } from "./types.ts";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The installed package's folder and version, or null when it is not installed. Looks in the
 * node_modules folders above this file (as Node's resolver does), then above the working
 * directory; reads package.json directly, so packages with an "exports" map are found too.
 */
export function findPackage(name: string): { dir: string; version: string } | null {
  for (const start of [here, process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const pj = join(dir, "node_modules", name, "package.json");
      if (existsSync(pj)) {
        const version = String((JSON.parse(readFileSync(pj, "utf8")) as { version?: string }).version ?? "0");
        return { dir: dirname(pj), version };
      }
      if (dirname(dir) === dir) break;
    }
  }
  return null;
}

/** Like findPackage, but throws an error that names the source and says how to fix it. */
export function requirePackage(sourceId: string, name: string): { dir: string; version: string } {
  const p = findPackage(name);
  if (p === null) {
    throw new Error(`source '${sourceId}' needs the npm package '${name}', which is not installed; run \`npm install\` in the icl-lab folder`);
  }
  return p;
}

/** Availability of an npm-backed source. */
export function npmAvailability(name: string): { ok: boolean; reason?: string } {
  const p = findPackage(name);
  return p ? { ok: true } : { ok: false, reason: `npm package '${name}' is not installed (run \`npm install\`)` };
}

/**
 * The fields every npm-embedded source shares: origin "npm", available when the package is
 * installed, and a fingerprint of the installed version (with `extra` appended: what else the
 * documents depend on).
 */
export function npmSource(sourceId: string, name: string, extra = ""): Pick<SourceDef, "origin" | "available" | "fingerprint"> {
  return {
    origin: "npm",
    available: () => npmAvailability(name),
    fingerprint: () => `${name}@${requirePackage(sourceId, name).version}${extra}`,
  };
}
