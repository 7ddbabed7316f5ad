/** The runs store's records (run-store.ts): runs as listed and created, checkpoints, vectors, and its errors. */

export type RunStatus = "running" | "finished" | "failed";

/** A run as listed. `stale`: marked running, but its process is gone (dead pid here, or no heartbeat for `staleAfterS`). */
export interface RunInfo {
  id: string;
  experiment: string | null;
  kind: string | null;
  /** The parsed config; null when the stored text is corrupt (see `corrupt`). */
  config: unknown;
  /** Why the stored config could not be read, or null. */
  corrupt: string | null;
  status: RunStatus;
  stale: boolean;
  createdAt: number;
  updatedAt: number;
  pid: number | null;
  host: string | null;
  heartbeatAt: number | null;
  tokens: number;
  error: string | null;
}

export interface NewRun {
  id: string;
  experiment?: string | null;
  /** What kind of run this is (e.g. the model kind, "attn-only"), for listing without parsing configs. */
  kind?: string | null;
  /** The resolved config, as JSON-compatible data. */
  config: unknown;
}

export interface CheckpointRecord {
  tokens: number;
  step: number;
  /** Absolute path (stored relative to the lab folder when inside it, so a lab folder can move). */
  path: string;
  sha256: string;
  createdAt: number;
}

export interface StoredVector {
  tokens: number;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface OpenOptions {
  /** How long a process waits for another's lock before SQLITE_BUSY. Default 10 s. */
  busyTimeoutMs?: number;
  /** A running run with no heartbeat for this long is stale. Default 300 s. */
  staleAfterS?: number;
}

export class RunNotFoundError extends Error {
  constructor(readonly runId: string) {
    super(`run '${runId}' does not exist in this lab`);
    this.name = "RunNotFoundError";
  }
}

export class RunConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunConflictError";
  }
}
