/**
 * The schema of `lab.db`, as a list of migrations. `PRAGMA user_version` records how many have been
 * applied; opening a database runs the missing ones inside one write transaction, so two processes
 * opening a fresh lab at the same moment cannot both migrate it. Never edit a shipped migration:
 * append a new one.
 *
 * Conventions: times are milliseconds since the Unix epoch (`*_at`); token counts are integers;
 * configs are JSON text; a metric's NaN is stored as NULL (SQLite has no NaN) and read back as NaN.
 */
import type { Database } from "better-sqlite3";

const MIGRATIONS: string[] = [
  // 1: runs, checkpoints, scalar metrics, vectors.
  `
  CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    experiment    TEXT,
    kind          TEXT,
    config        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    pid           INTEGER,
    host          TEXT,
    heartbeat_at  INTEGER,
    tokens        INTEGER NOT NULL DEFAULT 0,
    error         TEXT
  );
  CREATE INDEX runs_by_experiment ON runs (experiment, created_at);

  CREATE TABLE checkpoints (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    tokens      INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (run_id, tokens)
  ) WITHOUT ROWID;

  CREATE TABLE metrics (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    tokens  INTEGER NOT NULL,
    value   REAL,
    PRIMARY KEY (run_id, name, tokens)
  ) WITHOUT ROWID;

  CREATE TABLE vectors (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    tokens  INTEGER NOT NULL,
    dtype   TEXT NOT NULL CHECK (dtype IN ('f32', 'f64')),
    shape   TEXT NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (run_id, name, tokens)
  );
  `,
  // 2: structured results (JSON) a measurement returns besides numbers and vectors.
  `
  CREATE TABLE records (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    tokens  INTEGER NOT NULL,
    json    TEXT NOT NULL,
    PRIMARY KEY (run_id, name, tokens)
  ) WITHOUT ROWID;
  `,
  // 3: what a run's measurements hold fixed (seed, BOS, token pools, options; src/measure/inputs.ts),
  // JSON written once when the run starts training; NULL for runs trained before.
  `
  ALTER TABLE runs ADD COLUMN measure_inputs TEXT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings `db` up to SCHEMA_VERSION; refuses a database written by a newer icl-lab. */
export function migrate(db: Database, file: string): void {
  const version = (): number => db.pragma("user_version", { simple: true }) as number;
  if (version() === SCHEMA_VERSION) return;
  db.transaction(() => {
    const from = version(); // re-read under the write lock: another process may have migrated meanwhile
    if (from > SCHEMA_VERSION) {
      throw new Error(`${file} has schema version ${from}, newer than this icl-lab understands (${SCHEMA_VERSION}); upgrade icl-lab`);
    }
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
