/** The runs store's SQL (run-store.ts; the tables are schema.ts's), prepared once per connection. */
import type Database from "better-sqlite3";
import type { RunStatus } from "./types.ts";

export interface RunRow {
  id: string;
  experiment: string | null;
  kind: string | null;
  config: string;
  status: RunStatus;
  created_at: number;
  updated_at: number;
  pid: number | null;
  host: string | null;
  heartbeat_at: number | null;
  tokens: number;
  error: string | null;
  measure_inputs: string | null;
}

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
  return {
    getRun: db.prepare<[string], RunRow>("SELECT * FROM runs WHERE id = ?"),
    insertRun: db.prepare(
      `INSERT INTO runs (id, experiment, kind, config, status, created_at, updated_at, pid, host, heartbeat_at)
       VALUES (@id, @experiment, @kind, @config, 'running', @now, @now, @pid, @host, @now)`,
    ),
    setRunning: db.prepare("UPDATE runs SET status = 'running', error = NULL, pid = ?, host = ?, heartbeat_at = ?, updated_at = ? WHERE id = ?"),
    setDone: db.prepare("UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE id = ?"),
    heartbeat: db.prepare("UPDATE runs SET heartbeat_at = ?, updated_at = ?, pid = ?, host = ?, tokens = coalesce(?, tokens) WHERE id = ?"),
    putMetric: db.prepare("INSERT OR REPLACE INTO metrics (run_id, name, tokens, value) VALUES (?, ?, ?, ?)"),
    series: db.prepare<[string, string], { tokens: number; value: number | null }>(
      "SELECT tokens, value FROM metrics WHERE run_id = ? AND name = ? ORDER BY tokens",
    ),
    metricNames: db.prepare<[string], { name: string }>("SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name"),
    putVector: db.prepare("INSERT OR REPLACE INTO vectors (run_id, name, tokens, dtype, shape, data) VALUES (?, ?, ?, ?, ?, ?)"),
    vectors: db.prepare<[string, string], { tokens: number; dtype: "f32" | "f64"; shape: string; data: Buffer }>(
      "SELECT tokens, dtype, shape, data FROM vectors WHERE run_id = ? AND name = ? ORDER BY tokens",
    ),
    vectorNames: db.prepare<[string], { name: string }>("SELECT DISTINCT name FROM vectors WHERE run_id = ? ORDER BY name"),
    putCheckpoint: db.prepare("INSERT OR REPLACE INTO checkpoints (run_id, tokens, step, path, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)"),
    checkpoints: db.prepare<[string], { tokens: number; step: number; path: string; sha256: string; created_at: number }>(
      "SELECT tokens, step, path, sha256, created_at FROM checkpoints WHERE run_id = ? ORDER BY tokens",
    ),
    lastCheckpoint: db.prepare<[string], { tokens: number; step: number; path: string; sha256: string; created_at: number }>(
      "SELECT tokens, step, path, sha256, created_at FROM checkpoints WHERE run_id = ? ORDER BY tokens DESC LIMIT 1",
    ),
  };
}
