/**
 * The source registry: built-in sources (npm, Debian), sources other modules register at run time
 * (`registerSource`, e.g. synthetic generators), and the user's sources recorded in the lab. Ids
 * are unique across all three; lookups name the lab so user sources resolve.
 */
import { dataPaths, type DataPaths } from "../paths.ts";
import { hashValue } from "../util.ts";
import { brown, brownFiction, brownNews } from "./brown.ts";
import { debianSources } from "./debian.ts";
import { email } from "./email.ts";
import { legal } from "./legal.ts";
import { repeats } from "./repeats.ts";
import type { SourceDef } from "./types.ts";
import { SOURCE_ID, loadUserSources, userSource } from "./user.ts";
import { zhPoetry, zhPoetryFull } from "./zh-poetry.ts";

/** The embedded default suite: npm sources only, so `npm install` alone is enough. */
export const DEFAULT_SUITE: readonly string[] = Object.freeze(["brown", "legal", "email", "zh_poetry"]);

const builtins: SourceDef[] = [brown, legal, email, zhPoetry, brownFiction, brownNews, zhPoetryFull, repeats, ...debianSources];
const registered = new Map<string, SourceDef>();

/** Ids of the built-in sources (npm and Debian). */
export function builtinSourceIds(): string[] {
  return builtins.map((s) => s.id);
}

/**
 * Adds a source (e.g. a synthetic generator: `origin: "synthetic"`, documents produced in code).
 * It then works everywhere a built-in does: `corpus build`, tokenizer training, mixtures.
 * Re-registering the same id replaces the earlier definition; a built-in id cannot be reused.
 */
export function registerSource(def: SourceDef): void {
  if (!SOURCE_ID.test(def.id)) {
    throw new Error(`registerSource: id '${def.id}' must be lowercase letters, digits and '_', starting with a letter`);
  }
  if (builtins.some((b) => b.id === def.id)) throw new Error(`registerSource: '${def.id}' is a built-in source id`);
  registered.set(def.id, def);
}

/** A programmatic source: documents generated in code from `params`. */
export interface SyntheticSourceSpec {
  id: string;
  domain: string;
  description?: string;
  language?: string;
  licence?: string;
  /** Everything the documents depend on (JSON): part of the cache key, so new params rebuild. */
  params?: unknown;
  /** Bump when the generator's code changes. */
  version?: number;
  /** Keep exact duplicate documents (default true: a generator repeats on purpose). */
  keepDuplicates?: boolean;
  documents: () => Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;
}

/**
 * Registers a synthetic ingredient (e.g. documents with repeated spans for an induction demo):
 * it can then be built, mixed and evaluated like any other source, by id.
 */
export function registerSyntheticSource(spec: SyntheticSourceSpec): SourceDef {
  const def: SourceDef = {
    id: spec.id,
    domain: spec.domain,
    language: spec.language ?? "en",
    licence: spec.licence ?? "generated",
    origin: "synthetic",
    description: spec.description ?? `synthetic source '${spec.id}'`,
    keepDuplicates: spec.keepDuplicates ?? true,
    version: spec.version ?? 1,
    available: () => ({ ok: true }),
    fingerprint: () => hashValue({ params: spec.params ?? null }),
    documents: spec.documents,
  };
  registerSource(def);
  return def;
}

/** Removes a source added with registerSource (for tests). */
export function unregisterSource(id: string): boolean {
  return registered.delete(id);
}

function pathsOf(lab: string | DataPaths | undefined): DataPaths {
  return typeof lab === "object" ? lab : dataPaths(lab);
}

/** Every source: built-ins, then registered, then the lab's user sources. */
export function listSources(lab?: string | DataPaths): SourceDef[] {
  const users = loadUserSources(pathsOf(lab))
    .filter((u) => !builtins.some((b) => b.id === u.id) && !registered.has(u.id))
    .map(userSource);
  return [...builtins, ...registered.values(), ...users];
}

/** The source with this id; throws an error listing the known ids when there is none. */
export function getSource(id: string, lab?: string | DataPaths): SourceDef {
  const all = listSources(lab);
  const found = all.find((s) => s.id === id);
  if (found === undefined) {
    throw new Error(
      `unknown source '${id}'; known sources: ${all.map((s) => s.id).join(", ")} ` + `(add your own with \`icl-lab corpus add NAME PATH --domain D\`)`,
    );
  }
  return found;
}
