/**
 * `icl-lab runs`: every run of the lab with its status (stale and corrupt included), tokens, last
 * train loss and ICL score; `--experiment` filters; `--json` for scripts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { RunStore } from "../store/run-store.ts";
import { listRunRows } from "./runs.ts";
import { runCli } from "./test-helpers.ts";

const lab = mkdtempSync(join(tmpdir(), "icl-lab-cli-runs-"));
process.on("exit", () => rmSync(lab, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(args, { lab });

test("an empty lab says how to start", () => {
  const r = cli("runs");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /no runs yet/);
  assert.deepEqual(JSON.parse(cli("runs", "--json").stdout), []);
});

test("runs lists status (finished, failed, stale, corrupt), tokens, last train loss and ICL score", () => {
  const store = RunStore.open(lab);
  try {
    for (const id of ["a-done", "b-failed", "c-stale", "d-corrupt"])
      store.createRun({ id, experiment: id === "b-failed" ? "other" : "main", kind: "attn-only", config: { x: 1 } });
    store.logMetrics("a-done", 100, { train_loss: 3.5, "icl.score": -0.1 });
    store.logMetrics("a-done", 200, { train_loss: 3.25, "icl.score": -0.25 });
    store.heartbeat("a-done", 200);
    store.setStatus("a-done", "finished");
    store.setStatus("b-failed", "failed", { error: "loss became NaN" });
    store.logMetrics("c-stale", 50, { train_loss: 4 });
  } finally {
    store.close();
  }
  const dead = spawnSync(process.execPath, ["-e", ""]).pid; // has exited by now
  const raw = new Database(join(lab, "lab.db"));
  raw.prepare("UPDATE runs SET pid = ? WHERE id IN ('c-stale', 'd-corrupt')").run(dead);
  raw.prepare("UPDATE runs SET config = ? WHERE id = 'd-corrupt'").run('{"model": {"ki');
  raw.close();

  const rows = listRunRows(lab);
  assert.deepEqual(
    rows.map((r) => [r.id, r.status, r.tokens, r.trainLoss, r.iclScore]),
    [
      ["a-done", "finished", 200, 3.25, -0.25],
      ["b-failed", "failed", 0, null, null],
      ["c-stale", "stale", 0, 4, null],
      ["d-corrupt", "corrupt", 0, null, null],
    ],
  );
  assert.equal(rows[1].error, "loss became NaN");
  assert.deepEqual(
    listRunRows(lab, "other").map((r) => r.id),
    ["b-failed"],
  );

  const table = cli("runs");
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^id +kind +status +tokens +train_loss +icl\.score$/);
  assert.match(lines[1], /^a-done +attn-only +finished +200 +3\.2500 +-0\.250$/);
  assert.match(lines[3], /^c-stale +attn-only +stale +0 +4\.0000 +—$/);
  assert.match(lines[4], /^d-corrupt .* corrupt /);
  const json = JSON.parse(cli("runs", "--experiment", "main", "--json").stdout);
  assert.deepEqual(
    json.map((r: { id: string }) => r.id),
    ["a-done", "c-stale", "d-corrupt"],
  );
});
