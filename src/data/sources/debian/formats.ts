/**
 * The file formats that Debian packages ship text in, each turned into raw documents: dictd
 * databases (`X.index` + `X.dict.dz`, one document per entry, with GCIDE's source notes dropped),
 * fortune files (one document per `%`-separated cookie), man pages (rendered to plain text with
 * groff), POD (rendered with Pod::Text in one perl process), the KJV Bible (printed by the `bible`
 * reader, one document per chapter) and plain files (one document per file, gunzipped when
 * needed). The pure parsers (`dictdEntries`, `cleanGcide`, `splitFortunes`, `bibleChapters`) are
 * exported for tests; the rest read the unpacked package folders that apt.ts produces.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { decodeUtf8Dropping } from "../../clean.ts";
import { listFiles } from "../../util.ts";
import type { RawDocument, SourceContext } from "../types.ts";
import { mapPool, run } from "./process.ts";

/** A file's bytes, gunzipped when it is `.gz` or `.dz` (dictzip is gzip with an index). */
export function readMaybeGz(path: string): Buffer {
  const b = readFileSync(path);
  return path.endsWith(".gz") || path.endsWith(".dz") ? gunzipSync(b) : b;
}

/** One document per file under `dir` whose relative path `accept`s, in sorted order. */
export function* fileDocs(dir: string, accept: (relPath: string) => boolean): Generator<RawDocument> {
  for (const f of listFiles(dir, accept)) yield { text: readMaybeGz(f), origin: f };
}

// dictd ----------------------------------------------------------------------------------------

/** dictd writes offsets and lengths in its own base 64 (digits A–Z a–z 0–9 + /, most significant first). */
const DICTD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function dictdNumber(s: string): number {
  let n = 0;
  for (const ch of s) n = n * 64 + DICTD_B64.indexOf(ch);
  return n;
}

/** The entries of a dictd database (`X.index` text, `X.dict` bytes), each once, in data order. */
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

/** The dictd databases `names`, each looked up in the first of `roots` that has it: one document per entry. */
export function* dictdDocs(roots: string[], names: string[], clean: (s: string) => string): Generator<RawDocument> {
  for (const name of names) {
    const root = roots.find((r) => existsSync(join(r, "usr/share/dictd", `${name}.index`)));
    if (root === undefined) throw new Error(`dictd database '${name}' not found in ${roots.join(", ")}`);
    const dir = join(root, "usr/share/dictd");
    const index = readFileSync(join(dir, `${name}.index`), "utf8");
    const data = readMaybeGz(join(dir, `${name}.dict.dz`));
    for (const e of dictdEntries(index, data)) yield { text: clean(e.toString("utf8")), origin: join(dir, `${name}.dict.dz`) };
  }
}

/** GCIDE: drop the source notes (`[1913 Webster]`, `[WordNet 1.5]`, …) and cross-reference braces. */
export function cleanGcide(s: string): string {
  return s
    .replace(/^[ \t]*\[[^\]\n]{1,40}\][ \t]*$/gm, "")
    .replace(/[{}]/g, "")
    .replace(/\n{2,}/g, "\n");
}

// fortune --------------------------------------------------------------------------------------

/** Fortune files: split at lines holding only `%`, strip ANSI colour codes and overstrikes. */
export function splitFortunes(text: string): string[] {
  return text
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
    .replace(/[^\n]\x08/g, "")
    .split(/^%[ \t]*$/m)
    .map((f) => f.replace(/^\n+|\s+$/g, ""))
    .filter((f) => f.length > 0);
}

/**
 * The cookies of the fortune files in `dirs` (not the `.dat` indexes, `.u8` links or the offensive
 * `off/` folder). A file's invalid UTF-8 bytes are counted on its first cookie.
 */
export function* fortuneDocs(dirs: string[], recursive: boolean): Generator<RawDocument> {
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
}

// man pages and POD ----------------------------------------------------------------------------

/** Renders the man pages (`man<N>…/<page>`) under `dirs` to plain text with groff, a few at a time. */
export async function* manDocs(dirs: string[], ctx: SourceContext): AsyncGenerator<RawDocument> {
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

/** Every `.pod` directly in `dir` rendered with Pod::Text in one perl process (one spawn, not hundreds). */
export async function* podDocs(dir: string, ctx: SourceContext): AsyncGenerator<RawDocument> {
  const files = listFiles(dir, (r) => r.endsWith(".pod"), { recursive: false });
  const script =
    'use strict; use Pod::Text; binmode STDOUT; for my $f (@ARGV) { my $out = ""; ' +
    "my $p = Pod::Text->new(width => 76, sentence => 0, utf8 => 1); $p->output_string(\\$out); " +
    '$p->parse_file($f); print $out, "\\x1e\\n"; }';
  const out = await run("perl", ["-e", script, ...files], { env: ctx.env ?? process.env, timeoutMs: 600_000 });
  const parts = out.toString("utf8").split("\x1e\n");
  for (let i = 0; i < files.length; i++) if (parts[i] !== undefined) yield { text: parts[i], origin: files[i] };
}

// the Bible ------------------------------------------------------------------------------------

/**
 * The `bible` reader's output ("Ge1:1 In the beginning…" lines, long verses wrapped onto further
 * lines) as one document per chapter: verse references stripped, wrapped lines joined, each
 * document's origin the chapter ("Ge1").
 */
export function* bibleChapters(text: string): Generator<RawDocument> {
  let current = "";
  let verses: string[] = [];
  for (const line of text.split("\n")) {
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
}

/** The whole KJV text (package root `textRoot`) printed by the reader of `readerRoot`, one document per chapter. */
export function bibleDocs(textRoot: string, readerRoot: string, ctx: SourceContext): Generator<RawDocument> {
  const bible = join(readerRoot, "usr/bin/bible");
  const r = spawnSync(bible, ["-p", join(textRoot, "usr/lib"), "-f", "gen1:1-rev22:21"], {
    env: ctx.env ?? process.env,
    maxBuffer: 64 << 20,
    timeout: 120_000,
  });
  if (r.status !== 0) {
    throw new Error(`source 'bible_kjv': ${bible} failed (${r.error?.message ?? `exit ${r.status}`}): ${String(r.stderr).trim()}`);
  }
  return bibleChapters(r.stdout.toString("utf8"));
}
