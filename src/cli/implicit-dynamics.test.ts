/**
 * `icl-lab experiment implicit-dynamics`: the smoke run through the command (table, report path,
 * JSON), `--dry-run`, and one-line errors for the options that do not apply.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./test-helpers.ts";

const env = { ...process.env, ICL_LAB_THREADS: "1" };

test("icl-lab experiment implicit-dynamics --smoke --no-token prints the table and writes the report", () => {
  const lab = mkdtempSync(join(tmpdir(), "icl-cli-implicit-dynamics-"));
  try {
    const r = runCli(["experiment", "implicit-dynamics", "--smoke", "--no-token", "--no-png", "--json"], { lab, env, timeout: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.experiment, "implicit-dynamics");
    assert.deepEqual(
      out.models.map((m: { arch: string }) => m.arch),
      ["transformer", "lstm", "rnn"],
    );
    for (const m of out.models) assert.ok(m.dynamics.identityQuery <= 1e-10);
    assert.equal(out.token, null);
    assert.match(out.tokenNote, /--no-token/);
    assert.ok(existsSync(join(lab, "reports", "implicit-dynamics", "index.html")));
  } finally {
    rmSync(lab, { recursive: true, force: true });
  }
});

test("icl-lab experiment implicit-dynamics: --dry-run shows the scale; options that do not apply are one-line errors", () => {
  const dry = runCli(["experiment", "implicit-dynamics", "--dry-run", "--json"], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(JSON.parse(dry.stdout).scale.context, 20);
  for (const [args, message] of [
    [["--tokens", "1000"], /--tokens does not apply to implicit-dynamics/],
    [["--corpus", "a=b"], /--corpus and --domains do not apply/],
    [["--token-run", "x", "--no-token"], /exclude each other/],
  ] as const) {
    const r = runCli(["experiment", "implicit-dynamics", ...args], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
