/**
 * The user's own text as a source: one file (one document), a folder of `.txt` / `.md` files (one
 * document per file, searched recursively), or a JSONL file (one document per line, from its
 * `text` field). User files must be valid UTF-8: a file that is not is an error naming the file
 * and the byte offset (packaged sources instead drop and count stray bytes).
 *
 * `icl-lab corpus add NAME PATH --domain D` records a user source in `<lab>/data/user-sources.json`
 * so every later command (and `prepareData`) can use it by name.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { firstInvalidUtf8 } from "../clean.ts";
import type { DataPaths } from "../paths.ts";
import { hashValue, listFiles, writeFileAtomic } from "../util.ts";
import type { RawDocument, SourceDef } from "./types.ts";

/** How a user source's path is read. */
export type UserSourceKind = "file" | "folder" | "jsonl";

/** A user source as recorded in `user-sources.json`. */
export interface UserSourceSpec {
  id: string;
  /** Absolute path of the file or folder. */
  path: string;
  kind: UserSourceKind;
  domain: string;
  language: string;
  licence: string;
}

/** Source ids: lowercase letters, digits and `_`, starting with a letter. */
export const SOURCE_ID = /^[a-z][a-z0-9_]{0,63}$/;

/** Chooses the kind from the path: a folder, a `.jsonl` file, or any other file. */
export function detectKind(path: string): UserSourceKind {
  if (existsSync(path) && statSync(path).isDirectory()) return "folder";
  return path.toLowerCase().endsWith(".jsonl") ? "jsonl" : "file";
}

function folderFiles(path: string): string[] {
  return listFiles(path, (r) => /\.(txt|md)$/i.test(r) && !r.split("/").some((part) => part.startsWith(".")));
}

function requireExists(spec: UserSourceSpec): void {
  if (!existsSync(spec.path)) {
    throw new Error(
      `source '${spec.id}': ${spec.kind === "folder" ? "folder" : "file"} ${spec.path} does not exist ` +
        `(expected ${spec.kind === "folder" ? "a folder of .txt/.md files" : spec.kind === "jsonl" ? "a JSONL file" : "a text file"})`,
    );
  }
  const isDir = statSync(spec.path).isDirectory();
  if (spec.kind === "folder" && !isDir) throw new Error(`source '${spec.id}': ${spec.path} is a file, expected a folder of .txt/.md files`);
  if (spec.kind !== "folder" && isDir)
    throw new Error(`source '${spec.id}': ${spec.path} is a folder, expected a ${spec.kind === "jsonl" ? "JSONL " : ""}file`);
}

function strictUtf8(id: string, path: string, bytes: Uint8Array, line?: number): void {
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const where = line !== undefined ? `line ${line}, ` : "";
    const b = bytes[bad].toString(16).padStart(2, "0");
    throw new Error(
      `source '${id}': ${path} is not valid UTF-8 (${where}byte offset ${bad}: 0x${b}); expected UTF-8 text — convert it first, e.g. \`iconv -f latin1 -t utf-8\``,
    );
  }
}

function* jsonlDocuments(spec: UserSourceSpec): Generator<RawDocument> {
  const bytes = readFileSync(spec.path);
  strictUtf8(spec.id, spec.path, bytes);
  const lines = bytes.toString("utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new Error(`source '${spec.id}': ${spec.path} line ${i + 1} is not valid JSON (${(e as Error).message}); expected one JSON object per line`);
    }
    const text = value !== null && typeof value === "object" ? (value as { text?: unknown }).text : undefined;
    if (typeof text !== "string") {
      const found = JSON.stringify(value).slice(0, 80);
      throw new Error(`source '${spec.id}': ${spec.path} line ${i + 1}: expected a JSON object with a string field "text", found ${found}`);
    }
    yield { text, origin: `${spec.path}:${i + 1}` };
  }
}

/** A SourceDef reading the user's file, folder or JSONL. */
export function userSource(spec: UserSourceSpec): SourceDef {
  return {
    id: spec.id,
    domain: spec.domain,
    language: spec.language,
    licence: spec.licence,
    origin: "user",
    description: `${spec.kind === "folder" ? "folder" : spec.kind === "jsonl" ? "JSONL file" : "file"} ${spec.path}`,
    strictUtf8: true,
    version: 1,
    available: () => (existsSync(spec.path) ? { ok: true } : { ok: false, reason: `${spec.path} does not exist` }),
    fingerprint() {
      requireExists(spec);
      const files = spec.kind === "folder" ? folderFiles(spec.path) : [spec.path];
      return hashValue({
        kind: spec.kind,
        files: files.map((f) => {
          const st = statSync(f);
          return [f, st.size, st.mtimeMs];
        }),
      });
    },
    *documents() {
      requireExists(spec);
      if (spec.kind === "jsonl") {
        yield* jsonlDocuments(spec);
        return;
      }
      const files = spec.kind === "folder" ? folderFiles(spec.path) : [spec.path];
      if (files.length === 0) throw new Error(`source '${spec.id}': folder ${spec.path} has no .txt or .md files`);
      for (const f of files) {
        const bytes = readFileSync(f);
        strictUtf8(spec.id, f, bytes);
        yield { text: bytes, origin: f };
      }
    },
  };
}

interface UserSourcesFile {
  sources: UserSourceSpec[];
}

/** The user sources recorded in the lab (empty when none). */
export function loadUserSources(paths: DataPaths): UserSourceSpec[] {
  if (!existsSync(paths.userSources)) return [];
  let parsed: UserSourcesFile;
  try {
    parsed = JSON.parse(readFileSync(paths.userSources, "utf8")) as UserSourcesFile;
  } catch (e) {
    throw new Error(`${paths.userSources} is not valid JSON (${(e as Error).message}); fix or delete it`);
  }
  return Array.isArray(parsed.sources) ? parsed.sources : [];
}

/** Records (or replaces) a user source in the lab; returns the stored spec. */
export function saveUserSource(paths: DataPaths, spec: Omit<UserSourceSpec, "kind" | "path"> & { path: string; kind?: UserSourceKind }): UserSourceSpec {
  const full: UserSourceSpec = {
    id: spec.id,
    path: resolve(spec.path),
    kind: spec.kind ?? detectKind(resolve(spec.path)),
    domain: spec.domain,
    language: spec.language,
    licence: spec.licence,
  };
  const others = loadUserSources(paths).filter((s) => s.id !== spec.id);
  writeFileAtomic(paths.userSources, `${JSON.stringify({ sources: [...others, full] }, null, 2)}\n`);
  return full;
}

/** Removes a user source from the lab's record; returns whether it was there. */
export function deleteUserSource(paths: DataPaths, id: string): boolean {
  const all = loadUserSources(paths);
  const rest = all.filter((s) => s.id !== id);
  if (rest.length === all.length) return false;
  writeFileAtomic(paths.userSources, `${JSON.stringify({ sources: rest }, null, 2)}\n`);
  return true;
}
