/**
 * Every experiment end to end at the smoke scale (width-16 models, ~20k tokens, 6 evaluation
 * windows, bytes, npm sources): the runs it stores have the configs its definition promises, its
 * final measurements are stored, the report holds its tables with the stored numbers, a second
 * call resumes (an interrupted run continues, finished ones are skipped), and bad names and
 * options are clear errors. Training runs in this process (the pool is exercised by the CLI test).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunStore, type RunInfo } from "../store/run-store.ts";
import type { TrainConfig } from "../train/config.ts";
import { train } from "../train/train.ts";
import { countParams, matchParams, range, runName, SMOKE_TOKENS } from "./common.ts";
import { data as experimentData } from "./data.ts";
import { EXPERIMENT_NAMES, getExperiment } from "./index.ts";
import { ExperimentError, planExperiment, runExperiment, type ExperimentResult, type RunExperimentOptions } from "./runner.ts";
import { groupMixtures } from "./corpus-diversity.ts";
import { DEMO } from "./common.ts";
import { skipOrFail } from "../util/test-env.ts";

const lab = mkdtempSync(join(tmpdir(), "icl-lab-experiments-"));
process.on("exit", () => rmSync(lab, { recursive: true, force: true }));

const quiet = { lab, scale: "smoke" as const, runner: "inline" as const, progress: "none" as const, report: { png: false, attention: false }, log: () => {} };

function runsOf(experiment: string): RunInfo[] {
  const store = RunStore.open(lab);
  try {
    return store.listRuns({ experiment });
  } finally {
    store.close();
  }
}

function lastMetric(runId: string, name: string): number {
  const store = RunStore.open(lab);
  try {
    const s = store.metricSeries(runId, name);
    assert.ok(s.length > 0, `${runId} has no ${name}`);
    return s[s.length - 1].value;
  } finally {
    store.close();
  }
}

function jsonRecords(runId: string, name: string): Array<{ tokens: number; value: unknown }> {
  const store = RunStore.open(lab);
  try {
    return store.jsonSeries(runId, name);
  } finally {
    store.close();
  }
}

const cfg = (r: RunInfo) => r.config as TrainConfig;
const html = (r: ExperimentResult) => readFileSync(r.report!.html, "utf8");

async function run(name: string, opts: Partial<RunExperimentOptions> = {}): Promise<ExperimentResult> {
  const r = await runExperiment(name, { ...quiet, ...opts });
  assert.deepEqual(
    r.outcomes.filter((o) => o.status === "failed"),
    [],
    "no run failed",
  );
  assert.ok(r.report !== null && r.summary !== null);
  return r;
}

test("the registry: seven experiments, each with a description, an expected outcome and defaults", () => {
  assert.deepEqual(EXPERIMENT_NAMES, ["phase-change", "natural", "architectures", "smeared-keys", "corpus-source", "corpus-diversity", "corpus-size"]);
  for (const n of EXPERIMENT_NAMES) {
    const d = getExperiment(n);
    assert.equal(d.name, n);
    assert.match(d.description, /\d+–\d+ minutes on 2 idle cores/, `${n} says its wall time`);
    assert.match(d.expected, /et al\. \(20\d\d\)/, `${n} cites its anchor`);
    assert.match(d.expected, /Expected here/, `${n} says what to expect here`);
  }
  assert.throws(
    () => getExperiment("phase_change"),
    /unknown experiment 'phase_change'; known experiments: phase-change, natural, architectures, smeared-keys, corpus-source, corpus-diversity, corpus-size/,
  );
});

test("runName() keeps seed 0 unsuffixed and cuts long names; matchParams() bisects to the nearest count", () => {
  assert.equal(runName("corpus-diversity", ["brown", "legal"], 0), "corpus-diversity-brown-legal");
  assert.equal(runName("x", ["a"], 2), "x-a-s2");
  assert.equal(runName("x", ["y".repeat(80)], 1).length, 64);
  assert.match(runName("x", ["y".repeat(80)], 1), /-s1$/);
  const target = countParams({ kind: "attn-only", nLayers: 2, dModel: 64, nHeads: 4, dHead: 16, nCtx: 512 });
  const lstm = matchParams(target, range(2, 160, 2), (h) => ({ kind: "lstm", nLayers: 1, dModel: 64, dHidden: h, nCtx: 512 }), { what: "lstm" });
  // Exhaustive check of the bisection.
  let best = Infinity;
  for (const h of range(2, 160, 2)) best = Math.min(best, Math.abs(countParams({ kind: "lstm", nLayers: 1, dModel: 64, dHidden: h, nCtx: 512 }) - target));
  assert.equal(Math.abs(lstm.params - target), best);
  assert.throws(
    () => matchParams(target, [2, 4], (h) => ({ kind: "lstm", nLayers: 1, dModel: 64, dHidden: h, nCtx: 512 }), { what: "tiny lstm" }),
    /tiny lstm: no width gives 99,585 parameters within 10% \(nearest: /,
  );
  assert.deepEqual(groupMixtures(["a", "b", "c"]), [["a"], ["b"], ["c"], ["a", "b"], ["a", "c"], ["b", "c"], ["a", "b", "c"]]);
  assert.deepEqual(groupMixtures(["a", "b"]), [["a"], ["b"], ["a", "b"]]);
});

test("bad experiment names and options are ExperimentErrors that say what was expected", async () => {
  const rejects = (name: string, opts: Partial<RunExperimentOptions>, re: RegExp) =>
    assert.rejects(planExperiment(name, { ...quiet, ...opts }), (e: unknown) => e instanceof ExperimentError && re.test((e as Error).message));
  await rejects("nope", {}, /unknown experiment 'nope'; known experiments: phase-change, /);
  await rejects("phase-change", { seeds: 0 }, /--seeds must be an integer from 1 to 20, found 0/);
  await rejects("phase-change", { seeds: 1.5 }, /--seeds must be an integer/);
  await rejects("phase-change", { tokens: -5 }, /--tokens must be a positive integer, found -5/);
  await rejects("phase-change", { domains: ["brown"] }, /--domains applies to the corpus experiments .* not to phase-change/);
  await rejects("corpus-source", { domains: [] }, /--domains is empty/);
  await rejects("corpus-source", { domains: ["brown", "no_such_corpus"] }, /--domains: unknown source 'no_such_corpus'; known sources: brown, /);
  await rejects("architectures", { corpus: [{ name: "mine", path: "/no/such/file.txt" }] }, /--corpus mine: \/no\/such\/file\.txt not found/);
  await rejects("architectures", { corpus: [{ name: "Mine" }] }, /--corpus: the name must be lowercase letters/);
  await rejects("architectures", { corpus: [{ name: "not_a_source" }] }, /--corpus: unknown source 'not_a_source'/);
  await rejects("corpus-size", { domains: ["brown", "legal"] }, /corpus-size: corpus-size varies the size of one corpus; 2 were given \(brown, legal\)/);
});

test("phase-change: 1-, 2- and 3-layer attention-only models × seeds on the demo mixture; ablation at the end; mean ± sd per depth", async () => {
  const r = await run("phase-change", { seeds: 2 });
  const runs = runsOf("phase-change");
  assert.equal(runs.length, 6);
  assert.deepEqual(runs.map((x) => cfg(x).model.nLayers).sort(), [1, 1, 2, 2, 3, 3]);
  for (const x of runs) {
    const c = cfg(x);
    assert.equal(x.status, "finished");
    assert.equal(c.model.kind, "attn-only");
    assert.equal(c.tokens, SMOKE_TOKENS);
    // The demo's mixture (src/experiments/demo.ts).
    const natural = Object.keys(DEMO.natural);
    assert.deepEqual(Object.keys(c.data.sources!).sort(), [...natural, "repeats"].sort());
    assert.equal(c.data.sources!.repeats, DEMO.repeatsShare);
    for (const id of natural) assert.ok(Math.abs(c.data.sources![id] - (1 - DEMO.repeatsShare) / natural.length) < 1e-12);
    assert.deepEqual(c.measures, ["icl", "icl@natural", "heads", "tokenLoss", "positionLoss"]);
    const abl = jsonRecords(x.id, "ablation.heads");
    assert.equal(abl.length, 1, "ablation once, at the end");
    assert.equal(abl[0].tokens, x.tokens);
    const m = c.model as { nLayers: number; nHeads: number };
    assert.equal((abl[0].value as unknown[]).length, m.nLayers * m.nHeads);
  }
  assert.deepEqual(runs.map((x) => cfg(x).seed).sort(), [0, 0, 0, 1, 1, 1]);
  // One row per depth, the mean of its two seeds' stored final scores.
  assert.equal(r.summary!.rows.length, 3);
  for (const row of r.summary!.rows) {
    assert.equal(row.runIds.length, 2);
    const scores = row.runIds.map((id) => lastMetric(id, "icl.score"));
    assert.ok(Math.abs(row.values.icl! - (scores[0] + scores[1]) / 2) < 1e-12);
    // Each seed's value, and the 95% t-interval over the two: mean ± 12.706 · |a − b| / 2.
    assert.deepEqual(
      row.perRun.map((v) => v.icl),
      scores,
    );
    const half = (12.706 * Math.abs(scores[0] - scores[1])) / 2;
    assert.ok(Math.abs(row.ci95.icl![0] - (row.values.icl! - half)) < 1e-9 && Math.abs(row.ci95.icl![1] - (row.values.icl! + half)) < 1e-9);
  }
  assert.match(r.summaryText!, /configuration\s+seeds\s+params\s+ICL score\s+ICL \(natural text\)/);
  const page = html(r);
  assert.match(page, /icl-lab experiment phase-change/);
  // The report's comparison table holds each depth's mean score.
  for (const row of r.summary!.rows) assert.ok(page.includes(`data-key="icl" data-value="${row.values.icl}"`), `report has ${row.label}'s mean ICL score`);
  assert.match(page, /Head ablation/);
});

test("natural: 1-, 2- and 3-layer attention-only models on natural text alone; the summary says when the first induction head formed", async () => {
  const r = await run("natural");
  const runs = runsOf("natural");
  assert.deepEqual(runs.map((x) => cfg(x).model.nLayers).sort(), [1, 2, 3]);
  for (const x of runs) {
    const c = cfg(x);
    assert.equal(x.status, "finished");
    assert.deepEqual(Object.keys(c.data.sources!).sort(), Object.keys(DEMO.natural).sort(), "no synthetic ingredient");
    assert.deepEqual(c.measures, ["icl", "heads"]);
  }
  assert.match(r.summaryText!, /configuration\s+ICL score\s+phase change \(tokens\)\s+first induction head \(tokens\)\s+best induction head/);
  // Width-16 models on 20k tokens form no head: the column says so for every run.
  for (const row of r.summary!.cells) assert.equal(row[3], "none");
});

test("architectures: five model families with parameter counts within 10%, the same tokens and data; ablation only where there are heads", async () => {
  const r = await run("architectures");
  const runs = runsOf("architectures");
  assert.deepEqual(runs.map((x) => cfg(x).model.kind).sort(), ["attn-only", "lstm", "mlp-only", "rnn", "transformer"]);
  const attn = runs.find((x) => cfg(x).model.kind === "attn-only")!;
  const target = countParams(cfg(attn).model);
  for (const x of runs) {
    const c = cfg(x);
    const p = countParams(c.model);
    assert.ok(Math.abs(p / target - 1) <= 0.1, `${c.model.kind}: ${p} parameters vs ${target}`);
    assert.deepEqual(c.data, cfg(attn).data, "the same data");
    assert.equal(c.tokens, cfg(attn).tokens);
    assert.equal(c.seed, 0);
    assert.ok(c.measures.includes("positionLoss") && c.measures.includes("icl"));
    assert.equal(jsonRecords(x.id, "ablation.heads").length, c.model.kind === "attn-only" || c.model.kind === "transformer" ? 1 : 0);
  }
  assert.match(r.notes.join("\n"), /parameter counts: attn-only [\d,]+, transformer [\d,]+, mlp-only [\d,]+, lstm [\d,]+, rnn [\d,]+/);
  // The summary prints each model's parameter count; the report has the loss-by-position figure and each stored score.
  const lstm = runs.find((x) => cfg(x).model.kind === "lstm")!;
  assert.ok(r.summaryText!.includes(countParams(cfg(lstm).model).toLocaleString("en-US")));
  const page = html(r);
  assert.match(page, /Loss by position in the context/);
  for (const x of runs) assert.ok(page.includes(`data-key="icl" data-value="${lastMetric(x.id, "icl.score")}"`), `report has ${x.id}'s ICL score`);
});

test("smeared-keys: 1 and 2 layers, with and without smeared keys", async () => {
  const r = await run("smeared-keys");
  const runs = runsOf("smeared-keys");
  const shapes = runs.map((x) => `${cfg(x).model.nLayers}:${(cfg(x).model as { smearedKeys: boolean }).smearedKeys}`).sort();
  assert.deepEqual(shapes, ["1:false", "1:true", "2:false", "2:true"]);
  assert.equal(r.summary!.rows.length, 4);
  const page = html(r);
  for (const x of runs) assert.ok(page.includes(`data-value="${lastMetric(x.id, "icl.score")}"`));
});

test("the experiments' data: icl@SOURCE outside the mixture and icl@common are the same windows for every run", async () => {
  const base = (sources: Record<string, number>) =>
    ({
      seed: 0,
      model: {
        kind: "attn-only",
        nLayers: 1,
        dModel: 16,
        nHeads: 2,
        dHead: 8,
        nCtx: 512,
        dVocab: 257,
        positions: "shortformer-pre-ln",
        smearedKeys: false,
        layerNorm: true,
        initScale: 1,
      },
      data: { sources, tokenizer: { kind: "byte" }, evalWindows: 6, evalPolicy: "packed" },
      measures: ["icl", "icl@legal", "icl@common"],
      measureOptions: { "icl@common": { sources: ["brown", "legal", "email"] } },
      tokens: 1024,
      batch: 2,
      optim: {},
      checkpoints: {},
    }) as unknown as TrainConfig;
  const brownOnly = await experimentData(base({ brown: 1 }), lab);
  const legalOnly = await experimentData({ ...base({ legal: 1 }), measures: ["icl", "icl@common"] } as TrainConfig, lab);
  assert.deepEqual(brownOnly.evalFor!("common").windows, legalOnly.evalFor!("common").windows);
  assert.equal(brownOnly.evalFor!("common").n, 6);
  assert.deepEqual(brownOnly.evalFor!("legal").windows, legalOnly.eval.windows, "a source's windows are the same in or out of the mixture");
  // The common set: equal shares, each a prefix of the source's own windows.
  const L = 513;
  assert.deepEqual(brownOnly.evalFor!("common").windows.subarray(0, 2 * L), brownOnly.eval.windows.subarray(0, 2 * L));
  assert.deepEqual(legalOnly.evalFor!("common").windows.subarray(2 * L, 4 * L), legalOnly.eval.windows.subarray(0, 2 * L));
  await assert.rejects(
    experimentData({ ...base({ brown: 1 }), measureOptions: {} } as TrainConfig, lab),
    /measure 'icl@common' needs measureOptions\["icl@common"\]\.sources/,
  );
});

test("corpus-source: one model per domain, equal budgets, scored on its own text and on the common set, in the Shin-style table", async () => {
  const domains = ["brown", "legal", "email"];
  const r = await run("corpus-source", { domains, seeds: 1 });
  const runs = runsOf("corpus-source");
  assert.equal(runs.length, 3);
  const budgets = new Set(runs.map((x) => cfg(x).data.uniqueTokens));
  assert.equal(budgets.size, 1, "equal unique-token budgets");
  assert.equal([...budgets][0], 200_000);
  for (const x of runs) {
    const c = cfg(x);
    assert.equal(Object.keys(c.data.sources!).length, 1);
    assert.ok(domains.includes(Object.keys(c.data.sources!)[0]));
    assert.deepEqual(c.measures, ["icl", "icl@common", "positionLoss", "heads", "tasks"]);
    assert.deepEqual(c.measureOptions!["icl@common"], { sources: domains });
  }
  assert.match(
    r.summary!.header.join("|"),
    /^configuration\|unique tokens\|first induction head \(tokens\)\|phase change \(tokens\)\|best induction head\|ICL score\|ICL \(common set\)\|loss@50\|loss@500\|perplexity\|classification acc\.\|induction acc\.\|kv-recall acc\.$/,
  );
  const page = html(r);
  assert.match(page, /Comparison in the style of Shin et al\./);
  assert.match(page, /ICL score \(icl@common\)/);
  for (const x of runs) {
    assert.ok(page.includes(`data-key="extra:icl@common" data-value="${lastMetric(x.id, "icl@common.score")}"`), `${x.id}: common-set score in the table`);
    assert.ok(page.includes(`data-key="icl" data-value="${lastMetric(x.id, "icl.score")}"`), `${x.id}: own-domain score in the table`);
  }
  assert.match(page, /data-key="task:induction:2"/);
});

test("corpus-source picks the Debian domains only where apt is present, and says which it left out", async () => {
  const plan = await planExperiment("corpus-source", { ...quiet, seeds: 1, env: { ...process.env, PATH: "/nonexistent" } });
  assert.deepEqual(
    plan.runs.map((r) => Object.keys(r.resolved.data.sources!)[0]),
    ["brown", "legal", "email", "zh_poetry"],
  );
  const notes = plan.notes.join("\n");
  assert.match(notes, /left out, not available on this machine: bible_kjv \(.*apt.*\); man_en .*; code_go .*; fortunes_en/);
  assert.match(notes, /4 domains \(brown, legal, email, zh_poetry\); Shin-style comparisons want 6 or more/);
});

test("corpus-source with a Debian domain (fortunes_en) where apt is present", async (t) => {
  const { which } = await import("../data/sources/debian.ts");
  if (which("apt-get") === null || which("dpkg-deb") === null) return skipOrFail(t, "no apt on this machine: Debian sources cannot be fetched");
  const { buildTextStore } = await import("../data/text-store.ts");
  try {
    await buildTextStore("fortunes_en", { lab });
  } catch (e) {
    if (/Failed to fetch|Could not resolve|Temporary failure|Unable to locate/.test((e as Error).message))
      return skipOrFail(t, `apt cannot fetch here: ${(e as Error).message}`);
    throw e;
  }
  const r = await runExperiment("corpus-source", { ...quiet, seeds: 1, domains: ["brown", "fortunes_en"], report: false });
  assert.deepEqual(
    r.outcomes.map((o) => o.status),
    ["finished", "finished"],
  );
  const fortunes = runsOf("corpus-source").find((x) => cfg(x).data.sources!.fortunes_en !== undefined)!;
  assert.deepEqual(cfg(fortunes).measureOptions!["icl@common"], { sources: ["brown", "fortunes_en"] });
  assert.ok(Number.isFinite(lastMetric(fortunes.id, "icl@common.score")));
});

test("corpus-diversity: singles, pairs and the triple with equal budgets; corpus-size: 1/64 to all of one corpus at fixed tokens", async () => {
  const d = await run("corpus-diversity", { domains: ["brown", "legal", "email"], seeds: 1 });
  const div = runsOf("corpus-diversity");
  assert.equal(div.length, 7);
  const mixes = div.map((x) => Object.keys(cfg(x).data.sources!).sort().join("+")).sort();
  assert.deepEqual(mixes, ["brown", "brown+email", "brown+email+legal", "brown+legal", "email", "email+legal", "legal"]);
  for (const x of div) {
    const w = Object.values(cfg(x).data.sources!);
    assert.ok(
      w.every((v) => Math.abs(v - w[0]) < 1e-12),
      "equal weights",
    );
    assert.equal(cfg(x).data.uniqueTokens, 200_000);
  }
  const page = html(d);
  for (const x of div) assert.ok(page.includes(`data-key="extra:icl@common" data-value="${lastMetric(x.id, "icl@common.score")}"`));

  // Without apt the default corpus is brown (with it, code_go: a ~20 MB download, not made here).
  const s = await run("corpus-size", { seeds: 1, env: { ...process.env, PATH: "/nonexistent" } });
  assert.ok(
    s.notes.some((n) => /brown instead: edited prose forms no induction head/.test(n)),
    s.notes.join("\n"),
  );
  const size = runsOf("corpus-size");
  assert.equal(size.length, 5);
  const budgets = size.map((x) => cfg(x).data.uniqueTokens!).sort((a, b) => a - b);
  const total = budgets[4];
  assert.deepEqual(
    budgets,
    [64, 16, 4, 2, 1].map((k) => Math.floor(total / k)),
  );
  assert.ok(total > 4_000_000, `brown has ${total} training bytes`);
  assert.ok(size.every((x) => cfg(x).tokens === SMOKE_TOKENS && cfg(x).data.sources!.brown === 1));
  assert.match(s.summaryText!, /unique tokens\s+epochs/);
  assert.match(s.notes.join(" "), /brown: [\d,]+ training tokens/);
});

test("an interrupted experiment resumes where it stopped; a finished one is not trained again", async () => {
  const opts = { ...quiet, tokens: 8192 };
  const plan = await planExperiment("smeared-keys", opts);
  // Interrupt the first run after 2 of its 8 steps (it keeps a resume checkpoint, as a killed run does).
  const first = plan.runs[0];
  const partial = await train(first.config, { lab, data: experimentData, progress: "none", maxSteps: 2, log: () => {} });
  assert.equal(partial.finished, false);
  const again = await planExperiment("smeared-keys", opts);
  assert.equal(again.runs[0].state, "partial");
  assert.equal(again.runs[0].resumeAt, 2048);
  assert.deepEqual(
    again.runs.slice(1).map((r) => r.state),
    ["new", "new", "new"],
  );
  const lines: string[] = [];
  const r = await runExperiment("smeared-keys", { ...opts, log: (l) => lines.push(l) });
  assert.deepEqual(
    r.outcomes.map((o) => o.status),
    ["finished", "finished", "finished", "finished"],
  );
  assert.ok(
    lines.some((l) => l.includes(`run ${first.runId} resumes at 2048 tokens`)),
    lines.join("\n"),
  );
  const done = await runExperiment("smeared-keys", { ...opts, log: () => {} });
  assert.deepEqual(
    done.outcomes.map((o) => o.status),
    ["skipped", "skipped", "skipped", "skipped"],
  );
  assert.ok(done.report !== null);
});
