/**
 * `implicit-dynamics` end to end at the smoke scale: three tiny regression models trained, measured
 * in float64 (identities ≤ 1e-10), summarised, and the report written (HTML and Vega-Lite specs);
 * an empty lab gets its token transformer trained (once), a --token-lab without one is only read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runImplicitDynamics } from "./implicit-dynamics.ts";

test("runImplicitDynamics() at the smoke scale trains, measures and reports every model", async () => {
  const lab = mkdtempSync(join(tmpdir(), "icl-implicit-dynamics-"));
  try {
    const r = await runImplicitDynamics({ lab, smoke: true, png: false, log: () => {} });
    assert.deepEqual(
      r.models.map((m) => m.arch),
      ["transformer", "lstm", "rnn"],
    );
    const N = r.scale.context;
    for (const m of r.models) {
      const d = m.dynamics;
      assert.ok(d.identityQuery <= 1e-10, `${m.arch}: identity ${d.identityQuery}`);
      if (m.arch === "transformer") assert.ok(d.identityAll !== null && d.identityAll <= 1e-10, `every-position identity ${d.identityAll}`);
      for (const k of ["icl", "gdDherin", "gdTuned", "leastSquares", "normDW"] as const) {
        assert.equal(d[k].length, N + 1, `${m.arch} ${k}`);
        assert.ok(d[k].every(Number.isFinite), `${m.arch} ${k} finite`);
      }
      assert.equal(d.marginal.length, N);
      assert.equal(d.normDW[0], 0);
    }
    // The lab had no transformer token run: the experiment trained the architectures experiment's
    // (same run id as `experiment architectures` would give it) and measured it.
    assert.ok(r.token !== null, r.tokenNote ?? "");
    assert.match(r.token.run, /^architectures-transformer-/);
    assert.ok(r.token.layers.length > 0);
    for (const l of r.token.layers) assert.ok(l.identity <= 1e-10, `token layer ${l.layer}: identity ${l.identity}`);
    assert.match(r.summaryText, /transformer/);
    const out = join(lab, "reports", "implicit-dynamics");
    for (const f of ["index.html", "summary.json", "summary.txt", "loss-vs-examples.vl.json", "marginal-update.vl.json", "cosine.vl.json"]) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const saved = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    assert.equal(saved.models.length, 3);
    // A second call finds that run and trains no other; a --token-lab without one is only read.
    const empty = mkdtempSync(join(tmpdir(), "icl-implicit-dynamics-empty-"));
    try {
      const again = await runImplicitDynamics({ lab, smoke: true, png: false, archs: ["rnn"], log: () => {} });
      assert.equal(again.token?.run, r.token.run);
      const other = await runImplicitDynamics({ lab, tokenLab: empty, smoke: true, png: false, archs: ["rnn"], log: () => {} });
      assert.equal(other.token, null);
      assert.match(other.tokenNote ?? "", /no finished transformer token run/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  } finally {
    rmSync(lab, { recursive: true, force: true });
  }
});
