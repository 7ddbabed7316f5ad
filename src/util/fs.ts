/**
 * File-system helpers shared by every module that writes: atomic, durable writes (a temporary
 * sibling, fsync, one rename, fsync of the folder — a crash leaves the old file or the complete
 * new one, never a torn one) and a liveness check for a process id.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";

/** Suffix marking temporary files (`<name>.tmp-<pid>-<random>`); cleaners match it. */
export const TMP_MARK = ".tmp-";

/** Writes `data` (or the concatenation of `pieces`) to `path` atomically and durably. */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}${TMP_MARK}${process.pid}-${randomBytes(6).toString("hex")}`;
  const pieces = typeof data === "string" ? [Buffer.from(data, "utf8")] : data instanceof Uint8Array ? [data] : data;
  const fd = openSync(tmp, "wx", 0o644);
  try {
    try {
      for (const p of pieces) {
        let done = 0;
        while (done < p.byteLength) done += writeSync(fd, p, done, p.byteLength - done);
      }
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
