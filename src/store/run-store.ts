/**
 * The runs store: a lab folder holding `lab.db` (SQLite, the index of runs, their configs, status,
 * metrics and vectors) and `runs/<id>/` (each run's checkpoint files). Several processes may use one
 * lab at once (a sweep's workers, the dashboard): the database is in WAL mode so readers never block
 * the writer, every write that reads first takes the write lock up front (BEGIN IMMEDIATE) so it
 * waits for the busy timeout instead of failing with SQLITE_BUSY, and each connection waits up to
 * `busyTimeoutMs` for a lock.
 *
 * Writing the same point twice replaces it (metrics, vectors and checkpoints are keyed by run, name
 * and tokens): a run resumed from an earlier checkpoint logs those points again, identically under
 * exact resume. `rewind()` drops what a killed attempt logged past the checkpoint it resumes from.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { migrate } from "./schema.ts";
import { prepareStatements, type RunRow, type Statements } from "./statements.ts";
import {
  type CheckpointRecord,
  type NewRun,
  type OpenOptions,
  RunConflictError,
  RunNotFoundError,
  type RunInfo,
  type RunStatus,
  type StoredVector,
} from "./types.ts";
import { isAlive } from "../util/fs.ts";
import { canonicalJson } from "../util/json.ts";
import { resolveLabDir } from "../util/lab.ts";

export { DEFAULT_LAB_DIR, resolveLabDir } from "../util/lab.ts";
export * from "./types.ts";

export const DEFAULT_STALE_AFTER_S = 300;
const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws unless `id` can name a run (and so a folder): 1-128 letters, digits, '.', '_', '-'. */
export function checkRunId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !RUN_ID.test(id)) {
    throw new Error(`run id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit; found ${JSON.stringify(id)}`);
  }
}

/** `<lab>/runs/<id>`: where a run's checkpoint files live. */
export function runDir(lab: string, id: string): string {
  checkRunId(id);
  return join(resolveLabDir(lab), "runs", id);
}

function checkTokens(tokens: unknown, what: string): asserts tokens is number {
  if (!Number.isSafeInteger(tokens) || (tokens as number) < 0) {
    throw new Error(`tokens passed to ${what} must be a non-negative integer, found ${String(tokens)}`);
  }
}

export class RunStore {
  readonly labDir: string;
  readonly dbPath: string;
  private readonly db: Database.Database;
  private readonly staleAfterMs: number;
  private readonly host = hostname();
  private readonly sql: Statements;

  private constructor(labDir: string, options: OpenOptions) {
    this.labDir = labDir;
    this.dbPath = join(labDir, "lab.db");
    this.staleAfterMs = (options.staleAfterS ?? DEFAULT_STALE_AFTER_S) * 1000;
    mkdirSync(join(labDir, "runs"), { recursive: true });
    try {
      this.db = new Database(this.dbPath, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    } catch (e) {
      const message = (e as Error).message;
      if (/bindings|dlopen|NODE_MODULE_VERSION|\.node/.test(message)) {
        throw new Error(`better-sqlite3's native module does not load (${message}); run \`npm rebuild better-sqlite3\``);
      }
      throw e;
    }
    try {
      const mode = this.db.pragma("journal_mode = WAL", { simple: true });
      if (mode !== "wal") throw new Error(`${this.dbPath}: could not switch to WAL mode (got '${String(mode)}'); is the lab on a network filesystem?`);
      this.db.pragma("synchronous = NORMAL"); // durable across process crashes; WAL keeps the file consistent
      this.db.pragma("foreign_keys = ON");
      migrate(this.db, this.dbPath);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.sql = prepareStatements(this.db);
  }

  /** Opens (creating if needed) the lab at `labDir` (default: $ICL_LAB_DIR or ./icl-lab-runs). */
  static open(labDir?: string, options: OpenOptions = {}): RunStore {
    return new RunStore(resolveLabDir(labDir), options);
  }

  close(): void {
    this.db.close();
  }

  /** `<lab>/runs/<id>` for this lab. */
  runDir(id: string): string {
    return runDir(this.labDir, id);
  }

  /** Runs `fn` as one write transaction (store calls inside it join it). */
  batch<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * Creates the run, owned by this process and marked running, or returns it unchanged if it already
   * exists with the same config, experiment and kind (compared as JSON, key order ignored). A
   * different one under the same id is a RunConflictError. To take over an existing run (resume),
   * call `setStatus(id, "running")`.
   */
  createRun(run: NewRun): RunInfo {
    checkRunId(run.id);
    const config = run.config === undefined ? undefined : JSON.stringify(run.config);
    if (config === undefined) throw new Error(`createRun(${run.id}): config must be JSON-compatible data, found ${typeof run.config}`);
    const experiment = run.experiment ?? null;
    const kind = run.kind ?? null;
    return this.batch(() => {
      const existing = this.sql.getRun.get(run.id);
      if (!existing) {
        const now = Date.now();
        this.sql.insertRun.run({ id: run.id, experiment, kind, config, now, pid: process.pid, host: this.host });
        return this.toInfo(this.sql.getRun.get(run.id)!, now);
      }
      const info = this.toInfo(existing, Date.now());
      if (info.corrupt) throw new RunConflictError(`run '${run.id}' already exists and its stored config is corrupt (${info.corrupt})`);
      const differs: string[] = [];
      if (canonicalJson(info.config) !== canonicalJson(JSON.parse(config))) differs.push("config");
      if (info.experiment !== experiment) differs.push(`experiment (${JSON.stringify(info.experiment)} stored, ${JSON.stringify(experiment)} given)`);
      if (info.kind !== kind) differs.push(`kind (${JSON.stringify(info.kind)} stored, ${JSON.stringify(kind)} given)`);
      if (differs.length) {
        throw new RunConflictError(`run '${run.id}' already exists with a different ${differs.join(" and ")}; choose another id`);
      }
      return info;
    });
  }

  /**
   * Sets a run's status. "running" also records this process as its owner (pid, host, fresh
   * heartbeat) and clears any error; "failed" records `error`.
   */
  setStatus(runId: string, status: RunStatus, options: { error?: string } = {}): void {
    const now = Date.now();
    let changes: number;
    if (status === "running") changes = this.sql.setRunning.run(process.pid, this.host, now, now, runId).changes;
    else if (status === "finished" || status === "failed") changes = this.sql.setDone.run(status, options.error ?? null, now, runId).changes;
    else throw new Error(`status passed to setStatus must be 'running', 'finished' or 'failed', found ${JSON.stringify(status)}`);
    if (changes === 0) throw new RunNotFoundError(runId);
  }

  /** Says the run's process (the caller, recorded as its owner) is alive, and how far it has got. */
  heartbeat(runId: string, tokens?: number): void {
    if (tokens !== undefined) checkTokens(tokens, "heartbeat");
    const now = Date.now();
    if (this.sql.heartbeat.run(now, now, process.pid, this.host, tokens ?? null, runId).changes === 0) throw new RunNotFoundError(runId);
  }

  /** Stores scalar metrics measured at `tokens`, in one transaction. NaN is kept (as NULL, read back as NaN). */
  logMetrics(runId: string, tokens: number, values: Record<string, number>): void {
    checkTokens(tokens, "logMetrics");
    const entries = Object.entries(values);
    for (const [name, value] of entries) {
      if (typeof value !== "number") throw new Error(`metric '${name}' passed to logMetrics must be a number, found ${typeof value}`);
    }
    this.foreignKey(runId, () =>
      this.batch(() => {
        for (const [name, value] of entries) this.sql.putMetric.run(runId, name, tokens, Number.isNaN(value) ? null : value);
      }),
    );
  }

  /**
   * Stores a vector or matrix measured at `tokens` (per-position loss, a head-score matrix...).
   * A Float32Array is kept as float32, anything else as float64, exactly (NaN and ±Infinity too).
   * `shape` defaults to [data.length].
   */
  logVector(runId: string, tokens: number, name: string, data: Float32Array | Float64Array | number[], shape?: number[]): void {
    checkTokens(tokens, "logVector");
    const dims = shape ?? [data.length];
    const count = dims.reduce((a, b) => a * b, 1);
    if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== data.length) {
      throw new Error(`vector '${name}' passed to logVector: shape [${dims.join(", ")}] does not fit ${data.length} values`);
    }
    const typed = data instanceof Float32Array || data instanceof Float64Array ? data : Float64Array.from(data);
    const blob = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
    const dtype = typed instanceof Float32Array ? "f32" : "f64";
    this.foreignKey(runId, () => this.sql.putVector.run(runId, name, tokens, dtype, JSON.stringify(dims), blob));
  }

  /** Stores a structured (JSON) result measured at `tokens`, e.g. a table of head scores with labels. */
  logJson(runId: string, tokens: number, name: string, value: unknown): void {
    checkTokens(tokens, "logJson");
    const json = JSON.stringify(value);
    if (json === undefined) throw new Error(`record '${name}' passed to logJson is not JSON-serialisable`);
    this.foreignKey(runId, () =>
      this.db.prepare("INSERT OR REPLACE INTO records (run_id, name, tokens, json) VALUES (?, ?, ?, ?)").run(runId, name, tokens, json),
    );
  }

  /** A structured result's values by tokens ascending. */
  jsonSeries(runId: string, name: string): Array<{ tokens: number; value: unknown }> {
    const rows = this.db.prepare("SELECT tokens, json FROM records WHERE run_id = ? AND name = ? ORDER BY tokens").all(runId, name) as Array<{
      tokens: number;
      json: string;
    }>;
    return rows.map((r) => ({ tokens: r.tokens, value: JSON.parse(r.json) as unknown }));
  }

  /**
   * Stores what the run's measurements hold fixed (src/measure/inputs.ts), as JSON, unless the run
   * already has them: the first value written stays, so every checkpoint of a run — resumed or
   * not — is measured the same way. Returns whether this call stored them.
   */
  setMeasureInputs(runId: string, value: unknown): boolean {
    const json = JSON.stringify(value);
    if (json === undefined) throw new Error(`measurement inputs passed to setMeasureInputs(${runId}) are not JSON-serialisable`);
    return this.batch(() => {
      if (!this.sql.getRun.get(runId)) throw new RunNotFoundError(runId);
      return this.db.prepare("UPDATE runs SET measure_inputs = ? WHERE id = ? AND measure_inputs IS NULL").run(json, runId).changes > 0;
    });
  }

  /** The run's stored measurement inputs (parsed JSON), or null when it has none (trained before they were stored). */
  measureInputs(runId: string): unknown {
    const row = this.db.prepare<[string], { measure_inputs: string | null }>("SELECT measure_inputs FROM runs WHERE id = ?").get(runId);
    if (row === undefined) throw new RunNotFoundError(runId);
    if (row.measure_inputs === null) return null;
    try {
      return JSON.parse(row.measure_inputs) as unknown;
    } catch (e) {
      throw new Error(`the stored measurement inputs of run '${runId}' are not valid JSON (${(e as Error).message})`);
    }
  }

  /** Records a checkpoint file written for the run (see model/checkpoint.ts). */
  addCheckpoint(runId: string, checkpoint: { tokens: number; step: number; path: string; sha256: string }): void {
    checkTokens(checkpoint.tokens, "addCheckpoint");
    const abs = resolve(checkpoint.path);
    const rel = relative(this.labDir, abs);
    const stored = rel && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel) ? rel : abs;
    this.foreignKey(runId, () => this.sql.putCheckpoint.run(runId, checkpoint.tokens, checkpoint.step, stored, checkpoint.sha256, Date.now()));
  }

  /**
   * Forgets what the run logged after `tokens` (metrics, vectors, checkpoint records) and sets its
   * token count to `tokens`: call it when resuming from the checkpoint at `tokens`.
   */
  rewind(runId: string, tokens: number): void {
    checkTokens(tokens, "rewind");
    this.batch(() => {
      if (!this.sql.getRun.get(runId)) throw new RunNotFoundError(runId);
      for (const table of ["metrics", "vectors", "records", "checkpoints"] as const) {
        this.db.prepare(`DELETE FROM ${table} WHERE run_id = ? AND tokens > ?`).run(runId, tokens);
      }
      this.db.prepare("UPDATE runs SET tokens = ?, updated_at = ? WHERE id = ?").run(tokens, Date.now(), runId);
    });
  }

  getRun(runId: string): RunInfo | undefined {
    const row = this.sql.getRun.get(runId);
    return row && this.toInfo(row, Date.now());
  }

  /** Runs, oldest first, optionally of one experiment, kind or status. A run with a corrupt config is listed with `corrupt` set. */
  listRuns(filter: { experiment?: string; kind?: string; status?: RunStatus } = {}): RunInfo[] {
    const where: string[] = [];
    const params: string[] = [];
    for (const key of ["experiment", "kind", "status"] as const) {
      if (filter[key] !== undefined) {
        where.push(`${key} = ?`);
        params.push(filter[key]!);
      }
    }
    const rows = this.db
      .prepare<string[], RunRow>(`SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at, id`)
      .all(...params);
    const now = Date.now();
    return rows.map((row) => this.toInfo(row, now));
  }

  /** A scalar metric's values by tokens ascending. */
  metricSeries(runId: string, name: string): Array<{ tokens: number; value: number }> {
    return this.sql.series.all(runId, name).map((r) => ({ tokens: r.tokens, value: r.value ?? NaN }));
  }

  metricNames(runId: string): string[] {
    return this.sql.metricNames.all(runId).map((r) => r.name);
  }

  /** A vector's stored values by tokens ascending; each `data` is a fresh array. */
  vectors(runId: string, name: string): StoredVector[] {
    return this.sql.vectors.all(runId, name).map((r) => {
      const ctor = r.dtype === "f32" ? Float32Array : Float64Array;
      const shape = JSON.parse(r.shape) as number[];
      const count = shape.reduce((a, b) => a * b, 1);
      if (r.data.byteLength !== count * ctor.BYTES_PER_ELEMENT) {
        throw new Error(
          `vector '${name}' of run '${runId}' at ${r.tokens} tokens is corrupt: ${r.data.byteLength} bytes for shape [${shape.join(", ")}] ${r.dtype}`,
        );
      }
      const data = new ctor(count);
      new Uint8Array(data.buffer).set(r.data);
      return { tokens: r.tokens, shape, data };
    });
  }

  vectorNames(runId: string): string[] {
    return this.sql.vectorNames.all(runId).map((r) => r.name);
  }

  /** The run's checkpoint records by tokens ascending. */
  checkpoints(runId: string): CheckpointRecord[] {
    return this.sql.checkpoints.all(runId).map((r) => this.toCheckpoint(r));
  }

  lastCheckpoint(runId: string): CheckpointRecord | undefined {
    const r = this.sql.lastCheckpoint.get(runId);
    return r && this.toCheckpoint(r);
  }

  private toCheckpoint(r: { tokens: number; step: number; path: string; sha256: string; created_at: number }): CheckpointRecord {
    return { tokens: r.tokens, step: r.step, path: resolve(this.labDir, r.path), sha256: r.sha256, createdAt: r.created_at };
  }

  private foreignKey<T>(runId: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_FOREIGNKEY") throw new RunNotFoundError(runId);
      throw e;
    }
  }

  private toInfo(row: RunRow, now: number): RunInfo {
    let config: unknown = null;
    let corrupt: string | null = null;
    try {
      config = JSON.parse(row.config);
    } catch (e) {
      corrupt = `config is not valid JSON (${(e as Error).message})`;
    }
    const gone = row.heartbeat_at === null || now - row.heartbeat_at > this.staleAfterMs || (row.host === this.host && row.pid !== null && !isAlive(row.pid));
    return {
      id: row.id,
      experiment: row.experiment,
      kind: row.kind,
      config,
      corrupt,
      status: row.status,
      stale: row.status === "running" && gone,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      pid: row.pid,
      host: row.host,
      heartbeatAt: row.heartbeat_at,
      tokens: row.tokens,
      error: row.error,
    };
  }
}
