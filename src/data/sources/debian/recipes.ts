/**
 * The Debian recipe table (../shared/docs/corpora.md): which packages give which corpus source, its
 * domain, language, licence and size, and which format of formats.ts turns the unpacked packages
 * into documents. A recipe is data plus a one-line `documents`; debian.ts makes each into a
 * `SourceDef`. Bump a recipe's `version` when its output changes: cached stores are then rebuilt.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { RawDocument, SourceContext } from "../types.ts";
import { bibleDocs, cleanGcide, dictdDocs, fileDocs, fortuneDocs, manDocs, podDocs } from "./formats.ts";

/** One Debian-backed source: what it is, which packages it needs, and how they become documents. */
export interface DebianRecipe {
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
  /** The documents, given each package's unpacked root folder. */
  documents(roots: Record<string, string>, ctx: SourceContext): AsyncIterable<RawDocument> | Iterable<RawDocument>;
}

export const recipes: DebianRecipe[] = [
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
    documents: (r) => dictdDocs([r["dict-gcide"]], ["gcide"], cleanGcide),
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
    documents: (r) => dictdDocs([r["dict-wn"]], ["wn"], (s) => s),
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
    documents: (r) => dictdDocs([r["dict-jargon"], r["dict-foldoc"]], ["jargon", "foldoc"], (s) => s),
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
    documents: (r) =>
      fortuneDocs(
        Object.values(r).map((root) => join(root, "usr/share/games/fortunes")),
        false,
      ),
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
    documents: (r) => fileDocs(join(r["python3.11-doc"], "usr/share/doc/python3.11/html/_sources"), (p) => p.endsWith(".rst.txt") || p.endsWith(".txt")),
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
    documents: (r) =>
      fileDocs(join(r["linux-doc-6.1"], "usr/share/doc/linux-doc-6.1/Documentation"), (p) => !p.startsWith("translations/") && /\.rst(\.gz)?$/.test(p)),
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
    documents: (r) => fileDocs(join(r["golang-1.19-src"], "usr/share/go-1.19"), (p) => p.endsWith(".go") && !p.split("/").includes("testdata")),
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
    documents: (r) => fileDocs(join(r["emacs-el"], "usr/share/emacs"), (p) => p.endsWith(".el.gz") || p.endsWith(".el")),
  },
];
