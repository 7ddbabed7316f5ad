/**
 * `icl-lab experiment`: the list, clear one-line errors for bad names and options (exit 1, before
 * anything trains), `--dry-run` (the plan with parameter counts, nothing trained), and a smoke
 * experiment on the process pool that is interrupted with Ctrl-C and then resumed by running the
 * same command again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunStore } from "../store/run-store.ts";
import { UserError } from "./errors.ts";
import { parseCorpus } from "./experiment.ts";
import { BIN, runCli } from "./test-helpers.ts";

const lab = mkdtempSync(join(tmpdir(), "icl-lab-cli-experiment-"));
process.on("exit", () => rmSync(lab, { recursive: true, force: true }));
const env = { ...process.env, ICL_LAB_THREADS: "1" };

const cli = (...args: string[]) => runCli(["experiment", ...args], { lab, env });

test("--corpus parses NAME=PATH and NAME", () => {
  assert.deepEqual(parseCorpus("mine=/a/b=c.txt"), { name: "mine", path: "/a/b=c.txt" });
  assert.deepEqual(parseCorpus("bible_kjv"), { name: "bible_kjv" });
  assert.throws(
    () => parseCorpus("My=x"),
    (e: unknown) => e instanceof UserError && /--corpus must be NAME=PATH or NAME/.test((e as Error).message),
  );
});

test("without a name it lists the experiments", () => {
  const r = cli();
  assert.equal(r.code, 0, r.stderr);
  for (const n of ["phase-change", "architectures", "smeared-keys", "corpus-source", "corpus-diversity", "corpus-size"])
    assert.match(r.stdout, new RegExp(`^${n} `, "m"));
});

test("bad experiment names and options: one line on stderr, exit 1, nothing trained", () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ["phase_change"],
      /^icl-lab: unknown experiment 'phase_change'; known experiments: phase-change, natural, architectures, smeared-keys, corpus-source, corpus-diversity, corpus-size\n$/,
    ],
    [["architectures", "--seeds", "0"], /^icl-lab: --seeds must be a positive integer, found '0'\n$/],
    [["architectures", "--tokens", "1e6"], /^icl-lab: --tokens must be a positive integer, found '1e6'\n$/],
    [["architectures", "--corpus", "My Text=/tmp/x"], /^icl-lab: --corpus must be NAME=PATH or NAME/],
    [["phase-change", "--domains", "brown,legal"], /^icl-lab: --domains applies to the corpus experiments/],
    [["corpus-size", "--domains", "brown,legal", "--dry-run"], /^icl-lab: corpus-size: corpus-size varies the size of one corpus; 2 were given/],
  ];
  for (const [args, re] of cases) {
    const r = cli(...args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
  }
  if (existsSync(join(lab, "lab.db"))) {
    const store = RunStore.open(lab);
    try {
      assert.deepEqual(store.listRuns(), []);
    } finally {
      store.close();
    }
  }
});

test("--dry-run prints the runs with their parameter counts and trains nothing", () => {
  const r = cli("architectures", "--dry-run", "--smoke");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^run\s+model\s+params\s+data\s+tokens\s+seed\s+state$/m);
  for (const kind of ["attn-only", "transformer", "mlp-only", "lstm", "rnn"])
    assert.match(r.stdout, new RegExp(`^architectures-${kind}\\s+${kind} .*\\s[\\d,]+\\s.*new$`, "m"));
  assert.match(r.stdout, /note: parameter counts: attn-only [\d,]+/);
  assert.match(r.stdout, /expected: Olsson et al\. \(2022\)/);
  const json = JSON.parse(cli("architectures", "--dry-run", "--smoke", "--json").stdout) as { runs: Array<{ params: number; state: string }> };
  assert.equal(json.runs.length, 5);
  const store = RunStore.open(lab);
  try {
    assert.deepEqual(store.listRuns(), []);
  } finally {
    store.close();
  }
});

test("a smoke experiment on the process pool: Ctrl-C stops it, the same command resumes it and writes the report", async () => {
  // Long enough that the runs are still training when Ctrl-C arrives, even on an idle machine.
  const TOKENS = 1_024_000;
  const args = [BIN, "experiment", "smeared-keys", "--smoke", "--tokens", String(TOKENS), "--no-png", "--lab", lab];
  // First attempt: interrupted once a run is well under way.
  const first = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { env });
    let stderr = "";
    let sent = false;
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (!sent && /: 4\.1k\/1\.02M tokens/.test(stderr)) {
        sent = true;
        setTimeout(() => child.kill("SIGINT"), 800);
      }
    });
    child.on("exit", (code) => resolve({ code, stderr }));
  });
  assert.match(first.stderr, /stopping the trainer processes; run the same command again to resume/, first.stderr);
  assert.match(first.stderr, /stopped before the end; run the same command again to resume them/);

  const second = spawnSync(process.execPath, args, { encoding: "utf8", env });
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /smeared-keys-\dl-(plain|smeared): started, resuming at [\d.]+k tokens/, second.stderr);
  assert.match(second.stdout, /^configuration\s+params\s+ICL score/m);
  const report = /report: (.+report\.html)$/m.exec(second.stdout)?.[1];
  assert.ok(report !== undefined && existsSync(report), second.stdout);
  assert.ok(existsSync(join(report, "..", "summary.txt")));
  const store = RunStore.open(lab);
  try {
    const runs = store.listRuns({ experiment: "smeared-keys" });
    assert.equal(runs.length, 4);
    assert.ok(runs.every((r) => r.status === "finished" && r.tokens === TOKENS));
    const page = readFileSync(report, "utf8");
    for (const r of runs) {
      const s = store.metricSeries(r.id, "icl.score");
      assert.ok(page.includes(`data-value="${s[s.length - 1].value}"`), `the report has ${r.id}'s final ICL score`);
    }
  } finally {
    store.close();
  }
});
