/**
 * Classical Chinese poetry (npm `chinese-poetry`, MIT): poems from the Book of Songs to the Song
 * dynasty, one document per poem (title line, then one line per verse). Poems are short (~80
 * characters), far shorter than a 512-token window.
 *
 * The package holds ~80 MB of text. The default-suite source `zh_poetry` is capped at
 * `ZH_POETRY_DEFAULT_MAX_BYTES` (10 MB) of cleaned text, taken in a fixed collection order
 * (classics, Five Dynasties and Song ci, Tang shi, Yuan qu, then Song shi) so it keeps a similar
 * size to the other default sources and the default suite builds quickly; `zh_poetry_full` has
 * everything.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { npmSource, requirePackage } from "./npm-package.ts";
import type { RawDocument, SourceDef } from "./types.ts";

const PACKAGE = "chinese-poetry";

/** Cap of the default-suite `zh_poetry` source, in UTF-8 bytes of document text. */
export const ZH_POETRY_DEFAULT_MAX_BYTES = 10_000_000;

/** Collections in the order they are read: [folder under dist/, file-name pattern]. */
const COLLECTIONS: Array<[string, RegExp]> = [
  ["shijing", /^shijing\.json$/],
  ["chuci", /^chuci\.json$/],
  ["lunyu", /^lunyu\.json$/],
  ["caocaoshiji", /\.json$/],
  ["nalanxingde", /\.json$/],
  ["wudaishici/huajianji", /\.json$/],
  ["wudaishici/nantang", /^poetrys\.json$/],
  ["songci", /^ci\.song\.\d+\.json$/],
  ["quantangshi", /^poet\.tang\.\d+\.json$/],
  ["yuanqu", /^yuanqu\.json$/],
  ["quantangshi", /^poet\.song\.\d+\.json$/],
];

function numericOrder(a: string, b: string): number {
  const na = Number((a.match(/(\d+)\.json$/) ?? [])[1] ?? -1);
  const nb = Number((b.match(/(\d+)\.json$/) ?? [])[1] ?? -1);
  return na !== nb ? na - nb : a < b ? -1 : a > b ? 1 : 0;
}

/** One poem record → "title\nline\nline…", or null when it has no verses. */
export function poemText(rec: Record<string, unknown>): string | null {
  const title = [rec.title, rec.rhythmic, rec.chapter].find((x) => typeof x === "string" && x.trim() !== "") as string | undefined;
  const lines = [rec.paragraphs, rec.para, rec.content].find((x) => Array.isArray(x) && x.length > 0 && x.every((y) => typeof y === "string")) as
    | string[]
    | undefined;
  if (lines === undefined) return null;
  return (title !== undefined ? [title.trim(), ...lines] : lines).join("\n");
}

function* poems(sourceId: string, maxBytes: number): Generator<RawDocument> {
  const dist = join(requirePackage(sourceId, PACKAGE).dir, "dist");
  let bytes = 0;
  for (const [folder, pattern] of COLLECTIONS) {
    const dir = join(dist, folder);
    const files = readdirSync(dir)
      .filter((f) => pattern.test(f))
      .sort(numericOrder);
    for (const f of files) {
      const path = join(dir, f);
      let records: unknown;
      try {
        records = JSON.parse(readFileSync(path, "utf8"));
      } catch (e) {
        throw new Error(`source '${sourceId}': ${path} is not valid JSON (${(e as Error).message})`);
      }
      if (!Array.isArray(records)) continue;
      for (const rec of records) {
        if (rec === null || typeof rec !== "object") continue;
        const text = poemText(rec as Record<string, unknown>);
        if (text === null) continue;
        bytes += Buffer.byteLength(text, "utf8");
        if (bytes > maxBytes) return;
        yield { text, origin: path };
      }
    }
  }
}

function poetrySource(id: string, maxBytes: number, defaultSuite: boolean, description: string, approxMB: number): SourceDef {
  return {
    id,
    domain: "classical Chinese poetry",
    language: "zh",
    licence: "MIT",
    ...npmSource(id, PACKAGE, ` maxBytes=${maxBytes}`),
    description,
    defaultSuite,
    approxMB,
    version: 1,
    documents: () => poems(id, maxBytes),
  };
}

/** Capped at 10 MB (see the module comment). */
export const zhPoetry = poetrySource(
  "zh_poetry",
  ZH_POETRY_DEFAULT_MAX_BYTES,
  true,
  "Chinese poetry, one poem per document, first 10 MB in a fixed collection order (classics, ci, Tang shi…)",
  10,
);
/** The whole package (~80 MB). */
export const zhPoetryFull = poetrySource("zh_poetry_full", Number.POSITIVE_INFINITY, false, "Chinese poetry, every collection of the package (~80 MB)", 79.5);
