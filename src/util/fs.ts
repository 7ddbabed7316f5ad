/**
 * File-system helpers shared by every module that writes. One atomic, durable way to replace a
 * file (a temporary sibling `<name>.tmp-<pid>-<hex>`, fsync of the file, one rename, fsync of the
 * folder — a crash leaves the old file or the complete new one, never a torn one), the same for a
 * copy and for a whole folder, the cleaner for temporaries that killed writers left, and a liveness
 * check for a process id.
 */
import {
  closeSync,
  copyFileSync,
  constants,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

/** Suffix marking temporary files and folders (`<name>.tmp-<pid>-<hex>`); cleaners match it. */
export const TMP_MARK = ".tmp-";
const TMP_PATTERN = /\.tmp-(\d+)-[0-9a-f]+$/;

function tempSibling(path: string): string {
  return join(dirname(path), `${basename(path)}${TMP_MARK}${process.pid}-${randomBytes(6).toString("hex")}`);
}

/**
 * Replaces `path` with the file that `fill` writes at a temporary sibling (created, never
 * overwritten): fsync, rename, fsync of the folder. On error the temporary file is removed.
 */
function replaceAtomic(path: string, fill: (tmp: string) => void, options: AtomicWriteOptions = {}): void {
  if (options.mkdir ?? true) mkdirSync(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    fill(tmp);
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created; the original error is the one to report
    }
    throw e;
  }
  fsyncDir(dirname(path));
}

export interface AtomicWriteOptions {
  /** Create the destination's folder when it is missing (default); false makes a missing folder an error. */
  mkdir?: boolean;
}

/** Writes `data` (or the concatenation of `pieces`) to `path` atomically and durably. */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[], options: AtomicWriteOptions = {}): void {
  const pieces = typeof data === "string" ? [Buffer.from(data, "utf8")] : data instanceof Uint8Array ? [data] : data;
  replaceAtomic(
    path,
    (tmp) => {
      const fd = openSync(tmp, "wx", 0o644);
      try {
        for (const p of pieces) {
          let done = 0;
          while (done < p.byteLength) done += writeSync(fd, p, done, p.byteLength - done);
        }
      } finally {
        closeSync(fd);
      }
    },
    options,
  );
}

/** Copies `from` to `to` atomically and durably (readers see the old `to` or the complete copy). */
export function copyFileAtomic(from: string, to: string, options: AtomicWriteOptions = {}): void {
  replaceAtomic(to, (tmp) => copyFileSync(from, tmp, constants.COPYFILE_EXCL), options);
}

/**
 * Builds a folder atomically: `fill` writes into a fresh temporary sibling, which is then renamed
 * to `dir` in one step. If `dir` already exists when the build ends (a concurrent build of the
 * same content-addressed key won), the new copy is discarded. On error nothing is left behind.
 * Stale temporaries of dead builds in the parent folder are removed first.
 */
export async function buildDirAtomic<T>(dir: string, fill: (tmpDir: string) => Promise<T> | T): Promise<T> {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  removeStaleTemps(parent);
  const tmp = tempSibling(dir);
  mkdirSync(tmp);
  try {
    const result = await fill(tmp);
    if (existsSync(dir)) {
      rmSync(tmp, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
      fsyncDir(parent);
    }
    return result;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Deletes the temporary files and folders (`*.tmp-<pid>-<hex>`) that killed writers left in `dir`,
 * except those of processes still alive on this host; returns the paths removed. A missing folder
 * has none.
 */
export function removeStaleTemps(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const match = TMP_PATTERN.exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    try {
      rmSync(join(dir, name), { recursive: true });
      removed.push(join(dir, name));
    } catch {
      // removed by someone else meanwhile
    }
  }
  return removed;
}

/** Makes a rename in `dir` durable (no-op where folders cannot be fsynced). */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // EINVAL/EISDIR on filesystems without directory fsync: nothing more can be done
  } finally {
    closeSync(fd);
  }
}

/** Whether a process with this id exists on this host. */
export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
