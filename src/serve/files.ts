/**
 * Files of the lab folder (reports, their PNG figures, checkpoints) served read-only under
 * `/files/<path inside the lab>`. Nothing outside the lab folder is ever served: a path with a
 * `..` or `.` segment, a backslash, a NUL, or one that resolves (through symbolic links too)
 * outside the folder is not found, exactly like a missing file, so a probe learns nothing.
 */
import { realpathSync, statSync } from "node:fs";
import { extname, isAbsolute, relative, resolve, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/**
 * The names the API accepts for what it serves by name (metrics, vectors, records, reports, figures):
 * plain characters only, so a name fits in one URL and one path segment.
 */
export const NAME = /^[A-Za-z0-9_.@:-]{1,200}$/;

export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`);
}

/**
 * The absolute path of regular file `requested` (a '/'-separated path, already URL-decoded)
 * inside `root`, or null when there is none there or the path would leave `root`.
 */
export function fileInside(root: string, requested: string): { path: string; size: number } | null {
  if (requested.length === 0 || requested.length > 1024 || requested.includes("\0") || requested.includes("\\")) return null;
  const segments = requested.split("/");
  if (segments.some((s) => s === ".." || s === ".") || isAbsolute(requested)) return null;
  const candidate = resolve(root, ...segments.filter((s) => s !== ""));
  if (!inside(root, candidate)) return null;
  try {
    const realRoot = realpathSync(root);
    const real = realpathSync(candidate);
    if (!inside(realRoot, real)) return null;
    const st = statSync(real);
    return st.isFile() ? { path: real, size: st.size } : null;
  } catch {
    return null;
  }
}
