/**
 * Fetching Debian packages without root, and whether that can work here. `apt-get download PKG`
 * writes into `<lab>/data/debian/debs/`, then `dpkg-deb -x` unpacks each .deb into
 * `<lab>/data/debian/root/<deb>/`; both steps are atomic (a killed fetch leaves no half file) and
 * each runs once: a fetched package is reused offline, so apt is needed only for the first fetch.
 * `packageAvailability` answers cheaply (never downloads) from the cache, the PATH and
 * `apt-cache policy`; on a machine without apt-get / dpkg-deb the messages say so.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildDirAtomic, removeStaleTemps } from "../../util.ts";
import type { Availability, SourceContext } from "../types.ts";
import { missingTools, run, which } from "./process.ts";

const APT_TOOLS = ["apt-get", "dpkg-deb"];

const candidateCache = new Map<string, boolean>();

/**
 * Which of `packages` apt knows (has a candidate version for). When one is not yet known, one
 * `apt-cache policy` call asks about it and every package of `askAlso` at once (each call costs
 * ~0.4 s, mostly reading apt's lists), so the callers pass every recipe's packages.
 */
function aptKnows(packages: string[], env: NodeJS.ProcessEnv, askAlso: string[]): Map<string, boolean> {
  const unknown = packages.some((p) => !candidateCache.has(p)) ? [...new Set([...packages, ...askAlso])].filter((p) => !candidateCache.has(p)) : [];
  if (unknown.length > 0) {
    const r = spawnSync("apt-cache", ["policy", ...unknown], { env, encoding: "utf8", timeout: 30_000 });
    const out = r.stdout ?? "";
    for (const p of unknown) {
      const section = out.split(/\n(?=\S)/).find((s) => s.startsWith(`${p}:`));
      const m = section?.match(/Candidate:\s*(\S+)/);
      candidateCache.set(p, m !== undefined && m !== null && m[1] !== "(none)");
    }
  }
  return new Map(packages.map((p) => [p, candidateCache.get(p) === true]));
}

/** The newest cached .deb of `pkg` in `debsDir`, or null. */
function cachedDeb(debsDir: string, pkg: string): string | null {
  if (!existsSync(debsDir)) return null;
  const found = readdirSync(debsDir)
    .filter((f) => f.endsWith(".deb") && f.slice(0, f.indexOf("_")) === pkg)
    .sort();
  return found.length > 0 ? join(debsDir, found[found.length - 1]) : null;
}

function aptMissingMessage(sourceId: string, packages: string[], missing: string[]): string {
  return (
    `source '${sourceId}' needs the Debian package(s) ${packages.join(", ")}, fetched with \`apt-get download\` ` +
    `and unpacked with \`dpkg-deb -x\`, but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not on this machine's PATH. ` +
    `Debian sources work only where apt is installed (Debian, Ubuntu); use the embedded npm sources or your own files ` +
    `(\`icl-lab corpus add NAME PATH --domain D\`) instead`
  );
}

/**
 * Availability of a set of Debian packages: apt tools, extra tools, and packages cached or known to
 * apt. `options.askAlso`: packages to ask apt about in the same call (see `aptKnows`).
 */
export function packageAvailability(ctx: SourceContext, need: { packages: string[]; tools?: string[] }, options: { askAlso?: string[] } = {}): Availability {
  const { packages } = need;
  const tools = need.tools ?? [];
  const env = ctx.env ?? process.env;
  const cached = packages.every((p) => cachedDeb(ctx.paths.debianDebs, p) !== null);
  const missing = missingTools(cached ? ["dpkg-deb"] : APT_TOOLS, env);
  if (missing.length > 0) return { ok: false, reason: `${missing.join(", ")} not found (needs apt)` };
  const missingExtra = missingTools(tools, env);
  if (missingExtra.length > 0) return { ok: false, reason: `needs ${missingExtra.join(", ")} on PATH` };
  if (cached) return { ok: true, reason: "fetched" };
  const known = aptKnows(packages, env, options.askAlso ?? []);
  const unknown = packages.filter((p) => !known.get(p) && cachedDeb(ctx.paths.debianDebs, p) === null);
  if (unknown.length > 0) return { ok: false, reason: `apt does not know ${unknown.join(", ")} (run apt-get update?)` };
  return { ok: true, reason: "apt-get download on first build" };
}

/** `apt-get download` of `toFetch` into a private folder, then the finished .debs moved into `debsDir`. */
async function downloadDebs(sourceId: string, toFetch: string[], debsDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  // Download into a private folder, then move the finished files: never a half .deb in the cache.
  await buildDirAtomic(join(debsDir, `.download-${toFetch.join("+")}`), async (tmp) => {
    try {
      await run("apt-get", ["download", ...toFetch], { cwd: tmp, env, timeoutMs: 600_000 });
    } catch (e) {
      const msg = (e as Error).message;
      const hint = /Unable to locate|has no installation candidate|No packages found/.test(msg)
        ? " (the package is unknown to apt: run `apt-get update` as root, or the release lacks it)"
        : /Could not resolve|Failed to fetch|Temporary failure/.test(msg)
          ? " (no network? a fetched package is reused offline, but the first fetch needs the Debian mirror)"
          : "";
      throw new Error(`source '${sourceId}': fetching Debian package(s) ${toFetch.join(", ")} failed${hint}: ${msg}`);
    }
    for (const f of readdirSync(tmp)) if (f.endsWith(".deb")) renameSync(join(tmp, f), join(debsDir, f));
  });
  rmSync(join(debsDir, `.download-${toFetch.join("+")}`), { recursive: true, force: true });
}

/**
 * Fetches (once) and unpacks (once) Debian packages without root. Returns each package's unpacked
 * root folder and the .deb file names (their versions feed the source's fingerprint).
 */
export async function fetchDebianPackages(
  sourceId: string,
  packages: string[],
  ctx: SourceContext,
): Promise<{ roots: Record<string, string>; debs: string[] }> {
  const env = ctx.env ?? process.env;
  const { debianDebs, debianRoot } = ctx.paths;
  mkdirSync(debianDebs, { recursive: true });
  removeStaleTemps(debianDebs);
  const toFetch = packages.filter((p) => cachedDeb(debianDebs, p) === null);
  if (toFetch.length > 0) {
    const missing = missingTools(APT_TOOLS, env);
    if (missing.length > 0) throw new Error(aptMissingMessage(sourceId, packages, missing));
    ctx.log(`${sourceId}: apt-get download ${toFetch.join(" ")}`);
    await downloadDebs(sourceId, toFetch, debianDebs, env);
  }
  const roots: Record<string, string> = {};
  const debs: string[] = [];
  for (const p of packages) {
    const deb = cachedDeb(debianDebs, p);
    if (deb === null) throw new Error(`source '${sourceId}': apt-get download did not produce a .deb for '${p}'`);
    const name = deb.slice(deb.lastIndexOf("/") + 1, -".deb".length);
    const root = join(debianRoot, name);
    if (!existsSync(root)) {
      if (which("dpkg-deb", env) === null) throw new Error(aptMissingMessage(sourceId, packages, ["dpkg-deb"]));
      ctx.log(`${sourceId}: dpkg-deb -x ${name}.deb`);
      await buildDirAtomic(root, (tmp) => run("dpkg-deb", ["-x", deb, tmp], { env, timeoutMs: 600_000 }));
    }
    roots[p] = root;
    debs.push(`${name}.deb`);
  }
  return { roots, debs };
}
