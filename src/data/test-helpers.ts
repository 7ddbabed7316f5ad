/**
 * Test fixtures for the data pipeline: temporary labs and small synthetic sources whose documents
 * carry unique markers ("<doc 17 of src>"), so tests can tell which document a window came from.
 * Not a test file itself (the runner only picks up *.test.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerSource } from "./sources/registry.ts";
import type { SourceDef } from "./sources/types.ts";
import { Mulberry32 } from "./util.ts";

/** A fresh lab folder, removed when the process exits. */
export function tempLab(prefix = "icl-lab-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const WORDS = "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she".split(" ");

/** Deterministic pseudo-English text of about `words` words. */
export function pseudoText(seed: number, words: number): string {
  const rng = new Mulberry32(seed, "pseudo-text");
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    out.push(WORDS[rng.int(WORDS.length)]);
    if (rng.next() < 0.08) out.push(rng.next() < 0.5 ? "." : ",");
  }
  return out.join(" ");
}

/** Registers a synthetic source of `docs` documents of about `words` words, each starting with a marker. */
export function syntheticSource(id: string, docs: number, words: number, extra: Partial<SourceDef> = {}): SourceDef {
  const def: SourceDef = {
    id,
    domain: "synthetic",
    language: "en",
    licence: "test",
    origin: "synthetic",
    description: `${docs} synthetic documents`,
    version: 1,
    available: () => ({ ok: true }),
    fingerprint: () => `docs=${docs} words=${words}`,
    *documents() {
      for (let d = 0; d < docs; d++) yield `<doc ${d} of ${id}> ${pseudoText(d * 7919 + id.length, words)}`;
    },
    ...extra,
  };
  registerSource(def);
  return def;
}

/** Marker ids ("<doc N of src>") found in a text. */
export function markers(text: string): Set<string> {
  return new Set(Array.from(text.matchAll(/<doc (\d+) of (\w+)>/g), (m) => `${m[2]}:${m[1]}`));
}
