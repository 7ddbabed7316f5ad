/**
 * Sources from Debian packages (recipes of ../shared/docs/corpora.md). Packages are fetched
 * without root: `apt-get download PKG` into `<lab>/data/debian/debs/`, then `dpkg-deb -x` into
 * `<lab>/data/debian/root/<deb>/` (both steps atomic, so a killed fetch leaves no half file).
 * A fetched package is reused offline; apt is needed only for the first fetch.
 *
 * On a machine without apt-get / dpkg-deb, these sources report themselves unavailable, and
 * building one fails with a message that says so.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { delimiter, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { decodeUtf8Dropping } from "../clean.ts";
import { buildDirAtomic, listFiles, removeStaleTemps } from "../util.ts";
import type { Availability, RawDocument, SourceContext, SourceDef } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Tools and apt

/** Full path of an executable on the PATH of `env`, or null. */
export function which(cmd: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (cmd.includes("/")) return existsSync(cmd) ? cmd : null;
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const p = join(dir, cmd);
    try {
      if (lstatSync(p).isFile() || lstatSync(p).isSymbolicLink()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

const APT_TOOLS = ["apt-get", "dpkg-deb"];

function missingTools(tools: string[], env: NodeJS.ProcessEnv): string[] {
  return tools.filter((t) => which(t, env) === null);
}

const candidateCache = new Map<string, boolean>();

/**
 * Which of `packages` apt knows (has a candidate version for). One `apt-cache policy` call asks
 * about every recipe's packages at once (each call costs ~0.4 s, mostly reading apt's lists).
 */
function aptKnows(packages: string[], env: NodeJS.ProcessEnv): Map<string, boolean> {
  const unknown = packages.some((p) => !candidateCache.has(p))
    ? [...new Set([...packages, ...recipes.flatMap((r) => r.packages)])].filter((p) => !candidateCache.has(p))
    : [];
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

/** Availability of a Debian source: apt tools, extra tools, and packages cached or known to apt. */
export function debianAvailability(ctx: SourceContext, recipe: { packages: string[]; tools?: string[] }): Availability {
  const { packages } = recipe;
  const tools = recipe.tools ?? [];
  const env = ctx.env ?? process.env;
  const cached = packages.every((p) => cachedDeb(ctx.paths.debianDebs, p) !== null);
  const missing = missingTools(cached ? ["dpkg-deb"] : APT_TOOLS, env);
  if (missing.length > 0) return { ok: false, reason: `${missing.join(", ")} not found (needs apt)` };
  const missingExtra = missingTools(tools, env);
  if (missingExtra.length > 0) return { ok: false, reason: `needs ${missingExtra.join(", ")} on PATH` };
  if (cached) return { ok: true, reason: "fetched" };
  const known = aptKnows(packages, env);
  const unknown = packages.filter((p) => !known.get(p) && cachedDeb(ctx.paths.debianDebs, p) === null);
  if (unknown.length > 0) return { ok: false, reason: `apt does not know ${unknown.join(", ")} (run apt-get update?)` };
  return { ok: true, reason: "apt-get download on first build" };
}

/** Runs a command; resolves with stdout bytes, rejects with a message naming the command and stderr. */
export function run(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: Uint8Array; timeoutMs?: number } = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`could not run ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const stderr = Buffer.concat(err).toString("utf8").trim().split("\n").slice(-3).join(" | ");
        reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`}): ${stderr}`));
      }
    });
    child.stdin.on("error", () => {
      // The tool may exit before reading all input; its exit status reports the problem.
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
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
    // Download into a private folder, then move the finished files: never a half .deb in the cache.
    await buildDirAtomic(join(debianDebs, `.download-${toFetch.join("+")}`), async (tmp) => {
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
      for (const f of readdirSync(tmp)) if (f.endsWith(".deb")) renameSync(join(tmp, f), join(debianDebs, f));
    });
    rmSync(join(debianDebs, `.download-${toFetch.join("+")}`), { recursive: true, force: true });
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

// ---------------------------------------------------------------------------------------------
// File helpers

function readMaybeGz(path: string): Buffer {
  const b = readFileSync(path);
  return path.endsWith(".gz") || path.endsWith(".dz") ? gunzipSync(b) : b;
}

/** Runs `fn` over items with at most `limit` in flight, yielding results in input order. */
async function* mapPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const pending: Array<Promise<R>> = [];
  let next = 0;
  while (next < items.length && pending.length < limit) pending.push(fn(items[next++]));
  while (pending.length > 0) {
    const r = await pending.shift()!;
    if (next < items.length) pending.push(fn(items[next++]));
    yield r;
  }
}

// ---------------------------------------------------------------------------------------------
// Recipes

/** A dictd database (`X.index` + `X.dict.dz`): one document per entry. */
const DICTD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function dictdNumber(s: string): number {
  let n = 0;
  for (const ch of s) n = n * 64 + DICTD_B64.indexOf(ch);
  return n;
}

export function* dictdEntries(indexText: string, data: Buffer): Generator<Buffer> {
  const seen = new Set<number>();
  const entries: Array<[number, number]> = [];
  for (const line of indexText.split("\n")) {
    const [word, off, len] = line.split("\t");
    if (len === undefined || word.startsWith("00-database") || word.startsWith("00database")) continue;
    const o = dictdNumber(off);
    if (seen.has(o)) continue; // several headwords can point at one entry
    seen.add(o);
    entries.push([o, dictdNumber(len)]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  for (const [o, l] of entries) yield data.subarray(o, o + l);
}

function dictdDocs(roots: string[], names: string[], clean: (s: string) => string): () => Generator<RawDocument> {
  return function* () {
    for (const name of names) {
      const root = roots.find((r) => existsSync(join(r, "usr/share/dictd", `${name}.index`)));
      if (root === undefined) throw new Error(`dictd database '${name}' not found in ${roots.join(", ")}`);
      const dir = join(root, "usr/share/dictd");
      const index = readFileSync(join(dir, `${name}.index`), "utf8");
      const data = readMaybeGz(join(dir, `${name}.dict.dz`));
      for (const e of dictdEntries(index, data)) yield { text: clean(e.toString("utf8")), origin: join(dir, `${name}.dict.dz`) };
    }
  };
}

/** GCIDE: drop the source notes (`[1913 Webster]`, `[WordNet 1.5]`, …) and cross-reference braces. */
export function cleanGcide(s: string): string {
  return s
    .replace(/^[ \t]*\[[^\]\n]{1,40}\][ \t]*$/gm, "")
    .replace(/[{}]/g, "")
    .replace(/\n{2,}/g, "\n");
}

/** Fortune files: split at lines holding only `%`, strip ANSI colour codes and overstrikes. */
export function splitFortunes(text: string): string[] {
  return text
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
    .replace(/[^\n]\x08/g, "")
    .split(/^%[ \t]*$/m)
    .map((f) => f.replace(/^\n+|\s+$/g, ""))
    .filter((f) => f.length > 0);
}

function fortuneDocs(dirs: string[], recursive: boolean): Generator<RawDocument> {
  return (function* () {
    for (const dir of dirs) {
      const files = listFiles(dir, (r) => !r.endsWith(".dat") && !r.endsWith(".u8") && !r.startsWith("off/"), { recursive });
      for (const f of files) {
        const { text, invalid } = decodeUtf8Dropping(readFileSync(f));
        let first = true;
        for (const fortune of splitFortunes(text)) {
          yield { text: fortune, origin: f, invalidBytes: first ? invalid : 0 };
          first = false;
        }
      }
    }
  })();
}

/** Renders man pages to plain text with groff, two at a time (the machine's cores). */
async function* manDocs(dirs: string[], ctx: SourceContext): AsyncGenerator<RawDocument> {
  const env = { ...(ctx.env ?? process.env), LC_ALL: "C.UTF-8" };
  const files: string[] = [];
  for (const dir of dirs) files.push(...listFiles(dir, (r) => /^man[1-9][^/]*\/[^/]+$/.test(r)));
  const render = async (f: string): Promise<RawDocument | null> => {
    const src = readMaybeGz(f);
    if (/^\.so\s/.test(src.subarray(0, 64).toString("latin1")) && src.length < 256) return null; // a redirect
    try {
      // -k: preconv (input encodings); -t: tables; -rHY=0 -dAD=l: no hyphenation, no justification.
      const out = await run("groff", ["-k", "-t", "-man", "-Tutf8", "-P-cbou", "-rHY=0", "-dAD=l"], {
        env,
        input: src,
        timeoutMs: 60_000,
      });
      return { text: out, origin: f };
    } catch (e) {
      ctx.log(`skipping ${f}: ${(e as Error).message}`);
      return null;
    }
  };
  let done = 0;
  for await (const d of mapPool(files, Math.max(1, Math.min(4, availableParallelism())), render)) {
    if (++done % 500 === 0) ctx.log(`  ${done}/${files.length} man pages`);
    if (d !== null) yield d;
  }
}

/** perldoc: every `.pod` rendered with Pod::Text in one perl process (one spawn, not hundreds). */
async function* podDocs(dir: string, ctx: SourceContext): AsyncGenerator<RawDocument> {
  const files = listFiles(dir, (r) => r.endsWith(".pod"), { recursive: false });
  const script =
    'use strict; use Pod::Text; binmode STDOUT; for my $f (@ARGV) { my $out = ""; ' +
    "my $p = Pod::Text->new(width => 76, sentence => 0, utf8 => 1); $p->output_string(\\$out); " +
    '$p->parse_file($f); print $out, "\\x1e\\n"; }';
  const out = await run("perl", ["-e", script, ...files], { env: ctx.env ?? process.env, timeoutMs: 600_000 });
  const parts = out.toString("utf8").split("\x1e\n");
  for (let i = 0; i < files.length; i++) if (parts[i] !== undefined) yield { text: parts[i], origin: files[i] };
}

function bibleDocs(textRoot: string, readerRoot: string, ctx: SourceContext): Generator<RawDocument> {
  const bible = join(readerRoot, "usr/bin/bible");
  const r = spawnSync(bible, ["-p", join(textRoot, "usr/lib"), "-f", "gen1:1-rev22:21"], {
    env: ctx.env ?? process.env,
    maxBuffer: 64 << 20,
    timeout: 120_000,
  });
  if (r.status !== 0) {
    throw new Error(`source 'bible_kjv': ${bible} failed (${r.error?.message ?? `exit ${r.status}`}): ${String(r.stderr).trim()}`);
  }
  return (function* () {
    // One document per chapter: "Ge1:1 In the beginning…" lines, verse references stripped.
    let current = "";
    let verses: string[] = [];
    for (const line of r.stdout.toString("utf8").split("\n")) {
      const m = line.match(/^(\S+?\d+):\d+\s+(.*)$/);
      if (m === null) {
        if (line.trim() !== "" && verses.length > 0) verses[verses.length - 1] += ` ${line.trim()}`;
        continue;
      }
      if (m[1] !== current && verses.length > 0) {
        yield { text: verses.join("\n"), origin: current };
        verses = [];
      }
      current = m[1];
      verses.push(m[2]);
    }
    if (verses.length > 0) yield { text: verses.join("\n"), origin: current };
  })();
}

interface DebianRecipe {
  id: string;
  domain: string;
  language: string;
  licence: string;
  description: string;
  approxMB: number;
  packages: string[];
  /** External programs the recipe runs (besides apt-get and dpkg-deb). */
  tools?: string[];
  version: number;
  documents(roots: Record<string, string>, ctx: SourceContext): AsyncIterable<RawDocument> | Iterable<RawDocument>;
}

const recipes: DebianRecipe[] = [
  {
    id: "bible_kjv",
    domain: "religious text (archaic)",
    language: "en",
    licence: "public domain",
    description: "King James Bible (bible-kjv-text + the bible reader), one document per chapter, verse numbers stripped",
    approxMB: 4.1,
    packages: ["bible-kjv-text", "bible-kjv"],
    version: 1,
    documents: (r, ctx) => bibleDocs(r["bible-kjv-text"], r["bible-kjv"], ctx),
  },
  {
    id: "dict_gcide",
    domain: "dictionary (1913)",
    language: "en",
    licence: "GPL-2+",
    description: "GNU Collaborative International Dictionary of English, one document per entry, source notes dropped",
    approxMB: 34.8,
    packages: ["dict-gcide"],
    version: 1,
    documents: (r) => dictdDocs([r["dict-gcide"]], ["gcide"], cleanGcide)(),
  },
  {
    id: "dict_wordnet",
    domain: "dictionary glosses",
    language: "en",
    licence: "WordNet licence",
    description: "WordNet 3.0 (dict-wn), one document per entry",
    approxMB: 30.8,
    packages: ["dict-wn"],
    version: 1,
    documents: (r) => dictdDocs([r["dict-wn"]], ["wn"], (s) => s)(),
  },
  {
    id: "dict_computing",
    domain: "computing glossary",
    language: "en",
    licence: "public domain / GFDL",
    description: "Jargon File and FOLDOC (dict-jargon, dict-foldoc), one document per entry",
    approxMB: 7.0,
    packages: ["dict-jargon", "dict-foldoc"],
    version: 1,
    documents: (r) => dictdDocs([r["dict-jargon"], r["dict-foldoc"]], ["jargon", "foldoc"], (s) => s)(),
  },
  {
    id: "fortunes_en",
    domain: "quotations and jokes",
    language: "en",
    licence: "BSD / GPL",
    description: "fortune cookies (fortunes, fortunes-min, fortune-anarchism, fortunes-bofh-excuses), one per document",
    approxMB: 2.7,
    packages: ["fortunes", "fortunes-min", "fortune-anarchism", "fortunes-bofh-excuses"],
    version: 1,
    documents: (r) => fortuneDocs(Object.values(r).map((root) => join(root, "usr/share/games/fortunes")), false),
  },
  {
    id: "fortunes_de",
    domain: "quotations and jokes",
    language: "de",
    licence: "GPL / BSD",
    description: "German fortune cookies (fortunes-de), one per document",
    approxMB: 2.9,
    packages: ["fortunes-de"],
    version: 1,
    documents: (r) => fortuneDocs([join(r["fortunes-de"], "usr/share/games/fortunes/de")], true),
  },
  {
    id: "fortunes_ru",
    domain: "quotations and jokes",
    language: "ru",
    licence: "public domain / GPL",
    description: "Russian fortune cookies (fortunes-ru), one per document",
    approxMB: 3.4,
    packages: ["fortunes-ru"],
    version: 1,
    documents: (r) => fortuneDocs([join(r["fortunes-ru"], "usr/share/games/fortunes/ru")], true),
  },
  {
    id: "fortunes_zh",
    domain: "quotations and poems",
    language: "zh",
    licence: "GPL",
    description: "Chinese fortune cookies and poems (fortunes-zh), one per document",
    approxMB: 2.0,
    packages: ["fortunes-zh"],
    version: 1,
    documents: (r) => fortuneDocs([join(r["fortunes-zh"], "usr/share/games/fortunes")], false),
  },
  {
    id: "man_en",
    domain: "Unix manuals",
    language: "en",
    licence: "copyleft mix (Linux man-pages)",
    description: "Linux man pages (manpages, manpages-dev) rendered with groff, one document per page",
    approxMB: 8.1,
    packages: ["manpages", "manpages-dev"],
    tools: ["groff"],
    version: 1,
    documents: (r, ctx) => manDocs([join(r.manpages, "usr/share/man"), join(r["manpages-dev"], "usr/share/man")], ctx),
  },
  {
    id: "man_zh",
    domain: "Unix manuals",
    language: "zh",
    licence: "GFDL / GPL",
    description: "Chinese man pages (manpages-zh, simplified only) rendered with groff, one document per page",
    approxMB: 5.2,
    packages: ["manpages-zh"],
    tools: ["groff"],
    version: 1,
    documents: (r, ctx) => manDocs([join(r["manpages-zh"], "usr/share/man/zh_CN")], ctx),
  },
  {
    id: "perldoc",
    domain: "programming language manual",
    language: "en",
    licence: "GPL-1+ or Artistic",
    description: "Perl's manual (perl-doc), every .pod rendered with Pod::Text, one document per page",
    approxMB: 8.9,
    packages: ["perl-doc"],
    tools: ["perl"],
    version: 1,
    async *documents(r, ctx) {
      const base = join(r["perl-doc"], "usr/share/perl");
      const versions = existsSync(base) ? readdirSync(base).sort() : [];
      if (versions.length === 0) throw new Error(`source 'perldoc': no usr/share/perl/<version>/pod in ${r["perl-doc"]}`);
      yield* podDocs(join(base, versions[versions.length - 1], "pod"), ctx);
    },
  },
  {
    id: "pydoc",
    domain: "programming language manual",
    language: "en",
    licence: "PSF-2.0",
    description: "Python 3.11 documentation sources (python3.11-doc, reStructuredText), one document per page",
    approxMB: 11.0,
    packages: ["python3.11-doc"],
    version: 1,
    *documents(r) {
      const dir = join(r["python3.11-doc"], "usr/share/doc/python3.11/html/_sources");
      for (const f of listFiles(dir, (p) => p.endsWith(".rst.txt") || p.endsWith(".txt"))) yield { text: readFileSync(f), origin: f };
    },
  },
  {
    id: "linuxdoc_en",
    domain: "kernel documentation",
    language: "en",
    licence: "GPL-2",
    description: "Linux kernel documentation (linux-doc-6.1, reStructuredText, translations skipped), one document per file",
    approxMB: 21.4,
    packages: ["linux-doc-6.1"],
    version: 1,
    *documents(r) {
      const dir = join(r["linux-doc-6.1"], "usr/share/doc/linux-doc-6.1/Documentation");
      for (const f of listFiles(dir, (p) => !p.startsWith("translations/") && /\.rst(\.gz)?$/.test(p))) {
        yield { text: readMaybeGz(f), origin: f };
      }
    },
  },
  {
    id: "code_go",
    domain: "code (Go)",
    language: "code",
    licence: "BSD-3-Clause",
    description: "Go 1.19 standard library and tools (golang-1.19-src), one document per .go file, testdata skipped",
    approxMB: 67.5,
    packages: ["golang-1.19-src"],
    version: 1,
    *documents(r) {
      const dir = join(r["golang-1.19-src"], "usr/share/go-1.19");
      for (const f of listFiles(dir, (p) => p.endsWith(".go") && !p.split("/").includes("testdata"))) {
        yield { text: readFileSync(f), origin: f };
      }
    },
  },
  {
    id: "code_elisp",
    domain: "code (Emacs Lisp)",
    language: "code",
    licence: "GPL-3+",
    description: "Emacs Lisp sources (emacs-el), one document per .el file",
    approxMB: 60.3,
    packages: ["emacs-el"],
    version: 1,
    *documents(r) {
      const dir = join(r["emacs-el"], "usr/share/emacs");
      for (const f of listFiles(dir, (p) => p.endsWith(".el.gz") || p.endsWith(".el"))) yield { text: readMaybeGz(f), origin: f };
    },
  },
];

function recipeSource(rec: DebianRecipe): SourceDef {
  let fetched: Promise<{ roots: Record<string, string>; debs: string[] }> | null = null;
  let fetchedFor = "";
  const fetch = (ctx: SourceContext) => {
    if (fetched === null || fetchedFor !== ctx.paths.data) {
      fetchedFor = ctx.paths.data;
      fetched = fetchDebianPackages(rec.id, rec.packages, ctx);
      fetched.catch(() => {
        fetched = null;
      });
    }
    return fetched;
  };
  return {
    id: rec.id,
    domain: rec.domain,
    language: rec.language,
    licence: rec.licence,
    origin: "debian",
    description: rec.description,
    approxMB: rec.approxMB,
    version: rec.version,
    available: (ctx) => debianAvailability(ctx, rec),
    async fingerprint(ctx) {
      return (await fetch(ctx)).debs.join(" ");
    },
    async *documents(ctx) {
      const missing = missingTools(rec.tools ?? [], ctx.env ?? process.env);
      if (missing.length > 0) {
        throw new Error(`source '${rec.id}' runs ${missing.join(", ")}, which is not on this machine's PATH; install it (Debian package: ${missing.map((t) => (t === "groff" ? "groff-base" : t)).join(", ")})`);
      }
      const { roots } = await fetch(ctx);
      yield* rec.documents(roots, ctx);
    },
  };
}

/** All Debian-backed sources. */
export const debianSources: SourceDef[] = recipes.map(recipeSource);

/** The Debian packages each Debian source needs (for messages and docs). */
export const debianPackages: Record<string, string[]> = Object.fromEntries(recipes.map((r) => [r.id, r.packages]));
