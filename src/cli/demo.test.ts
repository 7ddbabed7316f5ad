/**
 * `icl-lab demo`: clear errors for bad options (exit 1, nothing trained); a smoke demo on the
 * process pool prints the table with the stored numbers and writes the report; running it again
 * trains nothing; `--corpus NAME=PATH` replaces the natural text and keeps the `repeats` ingredient.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatNumber } from "../report/tables.ts";
import { RunStore } from "../store/run-store.ts";
import type { TrainConfig } from "../train/config.ts";
import { runCli } from "./test-helpers.ts";

const root = mkdtempSync(join(tmpdir(), "icl-lab-cli-demo-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
const env = { ...process.env, ICL_LAB_THREADS: "1" };

const demo = (lab: string, ...args: string[]) => runCli(["demo", ...args], { lab, env });

function finalScores(lab: string): Map<string, { score: number; lo: number; hi: number; config: TrainConfig; status: string }> {
  const store = RunStore.open(lab);
  try {
    const out = new Map<string, { score: number; lo: number; hi: number; config: TrainConfig; status: string }>();
    for (const r of store.listRuns({ experiment: "demo" })) {
      const last = (name: string) => store.metricSeries(r.id, name).at(-1)!.value;
      out.set((r.config as TrainConfig).name!, {
        score: last("icl.score"),
        lo: last("icl.lo"),
        hi: last("icl.hi"),
        config: r.config as TrainConfig,
        status: r.status,
      });
    }
    return out;
  } finally {
    store.close();
  }
}

test("bad options: one line on stderr, exit 1, nothing trained", () => {
  const lab = join(root, "bad");
  const cases: Array<[string[], RegExp]> = [
    [["--layers", "1,x"], /^icl-lab: --layers must be integers 1-12, comma-separated, found '1,x'\n$/],
    [["--layers", "2,2"], /^icl-lab: --layers lists a layer count twice: '2,2'\n$/],
    [["--tokens", "0"], /^icl-lab: --tokens must be a positive integer, found '0'\n$/],
    [["--corpus", "My Text=/tmp/x"], /^icl-lab: --corpus must be NAME=PATH or NAME/],
    [["--corpus", "mine=/no/such/file.txt"], /^icl-lab: --corpus mine: \/no\/such\/file\.txt not found/],
    [["--minutes", "0"], /^icl-lab: --minutes must be a number of minutes above 0 and at most a week \(10080\), found '0'\n$/],
    [["--minutes", "abc"], /^icl-lab: --minutes must be a number of minutes/],
    [["--minutes", "5", "--tokens", "1000"], /^icl-lab: --minutes and --tokens both given; give one/],
  ];
  for (const [args, re] of cases) {
    const r = demo(lab, ...args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
  }
  assert.ok(!existsSync(join(lab, "runs")), "no run directory was created");
});

test("--natural plans the natural-text experiment's runs under the demo's name: natural text only, the chosen layers", () => {
  const lab = join(root, "natural");
  const r = demo(lab, "--natural", "--smoke", "--layers", "1,2", "--dry-run", "--json");
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { experiment: string; runs: Array<{ name: string; config: TrainConfig }> };
  assert.equal(plan.experiment, "demo-natural");
  assert.deepEqual(
    plan.runs.map((x) => x.name),
    ["demo-natural-attn-1l", "demo-natural-attn-2l"],
  );
  for (const x of plan.runs) assert.ok(!("repeats" in x.config.data.sources!), "no synthetic ingredient");
});

test("a smoke demo prints the table with the stored final scores and writes the report; a second call trains nothing", () => {
  const lab = join(root, "smoke");
  const r = demo(lab, "--smoke", "--layers", "1,2", "--no-png");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /training 2 runs \(0 already finished\) in 2 processes × 1 thread/);
  assert.match(r.stdout, /^configuration\s+ICL score\s+phase change \(tokens\)\s+best induction head\s+loss@50\s+loss@500\s+ICL \(natural text\)$/m);
  const scores = finalScores(lab);
  assert.deepEqual([...scores.keys()].sort(), ["demo-attn-1l", "demo-attn-2l"]);
  for (const [name, s] of scores) {
    assert.equal(s.status, "finished");
    assert.equal(s.config.model.kind, "attn-only");
    assert.deepEqual(Object.keys(s.config.data.sources!).sort(), ["brown", "email", "legal", "repeats"]);
    // The row shows the stored score and interval.
    const row = r.stdout.split("\n").find((l) => l.startsWith(`${name} `));
    assert.ok(row, `a row for ${name}`);
    assert.ok(row.includes(`${formatNumber(s.score)} [${formatNumber(s.lo)}, ${formatNumber(s.hi)}]`), row);
  }
  const report = /report: (\S+\.html)/.exec(r.stdout)?.[1];
  assert.ok(report && existsSync(report), `the report exists: ${report}`);
  assert.match(readFileSync(report, "utf8"), /demo-attn-2l/);

  const again = demo(lab, "--smoke", "--layers", "1,2", "--no-png");
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /training \d+ runs?/);
  assert.equal(
    again.stdout
      .split("\n")
      .filter((l) => l.startsWith("demo-attn-"))
      .join("\n"),
    r.stdout
      .split("\n")
      .filter((l) => l.startsWith("demo-attn-"))
      .join("\n"),
  );
});

test("--corpus NAME=PATH replaces the natural text; the repeats ingredient stays", () => {
  const lab = join(root, "corpus");
  const file = join(root, "mine.txt");
  const para = "The quick brown fox jumps over the lazy dog while the cat watches from the warm windowsill. ";
  writeFileSync(file, Array.from({ length: 400 }, (_, i) => `${para}Paragraph ${i}.\n\n`).join(""));
  const r = demo(lab, "--smoke", "--layers", "1", "--no-png", "--corpus", `mine=${file}`);
  assert.equal(r.code, 0, r.stderr);
  const runs = finalScores(lab);
  assert.deepEqual([...runs.keys()], ["demo-mine-attn-1l"]);
  const [only] = [...runs.values()];
  assert.deepEqual(only.config.data.sources, { mine: 0.25, repeats: 0.75 });
  assert.ok(Number.isFinite(only.score));
});
