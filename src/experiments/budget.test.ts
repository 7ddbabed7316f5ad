/**
 * `--minutes`: the arithmetic of a budget (a run's seconds, the pool's makespan, the largest
 * two-digit budget that fits, checked against a brute-force search), and the plan it gives: timed
 * on this machine once, stored in the lab and reused so that runs resume, a clear error with
 * --tokens, and the note when a budget is below where the calibrated setting forms heads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseModelConfig } from "../model/config.ts";
import { logSpacedCheckpoints } from "../train/schedule.ts";
import { estimatedCost } from "../sweep/local-pool.ts";
import { type BudgetRun, fitTokens, headsNote, makespan, roundDown2, runSeconds } from "./budget.ts";
import { natural, NATURAL } from "./natural.ts";
import { ExperimentError, planExperiment } from "./plan.ts";

const lab = mkdtempSync(join(tmpdir(), "icl-lab-budget-"));
process.on("exit", () => rmSync(lab, { recursive: true, force: true }));

const model = (nLayers: number) => parseModelConfig({ kind: "attn-only", nLayers, dModel: 16, nHeads: 2, dHead: 8, nCtx: 64, dVocab: 257 });
const config = (nLayers: number, perDecade = 2) => ({ batch: 2, model: model(nLayers), checkpoints: { perDecade, first: 1280, resumeEverySeconds: 60 } });

test("runSeconds: training at the measured rate plus one measurement per checkpoint", () => {
  const c = config(2);
  for (const tokens of [128, 10_000, 1_234_567]) {
    const n = logSpacedCheckpoints(tokens, 128, 2, Math.min(1280, tokens)).length;
    assert.ok(Math.abs(runSeconds(c, tokens, { trainRate: 1000, measureSeconds: 0.5 }) - (tokens / 1000 + 0.5 * n)) < 1e-9);
  }
  assert.equal(runSeconds(config(1, 0), 1000, { trainRate: 100, measureSeconds: 2 }), 12, "no log-spaced checkpoints: only the last");
});

test("makespan: jobs in order, each on the first free process", () => {
  assert.equal(makespan([3, 2, 2], 2), 4);
  assert.equal(makespan([3, 2, 2], 1), 7);
  assert.equal(makespan([3, 2, 2], 5), 3);
  assert.equal(makespan([1, 1, 1, 5], 2), 6, "the order is the pool's, not the best one (5)");
  assert.equal(makespan([], 2), 0);
});

test("roundDown2 keeps two significant digits, rounding down", () => {
  assert.equal(roundDown2(187_654_321), 180_000_000);
  assert.equal(roundDown2(2_468), 2_400);
  assert.equal(roundDown2(100), 100);
  assert.equal(roundDown2(99.7), 99);
  assert.equal(roundDown2(1_000_000), 1_000_000);
});

test("fitTokens: the largest two-digit budget whose makespan fits, as a brute-force search finds it", () => {
  const runs: BudgetRun[] = [
    { name: "1l", config: config(1), timing: { trainRate: 90_000, measureSeconds: 0.8 } },
    { name: "2l", config: config(2), timing: { trainRate: 60_000, measureSeconds: 1.1 } },
    { name: "3l", config: config(3), timing: { trainRate: 40_000, measureSeconds: 1.5 } },
  ];
  const span = (tokens: number, processes: number) => {
    const order = [...runs].sort((a, b) => estimatedCost({ tokens, model: b.config.model }) - estimatedCost({ tokens, model: a.config.model }));
    return makespan(
      order.map((r) => runSeconds(r.config, tokens, r.timing)),
      processes,
    );
  };
  for (const [seconds, processes] of [
    [60, 2],
    [600, 2],
    [3600, 2],
    [3600, 1],
    [7, 3],
  ] as const) {
    const fit = fitTokens(runs, seconds, processes)!;
    assert.ok(fit !== null);
    // Brute force over the two-significant-digit numbers from 128 up.
    let best = 0;
    for (let e = 2; e <= 12; e++)
      for (let m = 10; m <= 99; m++) {
        const t = m * 10 ** (e - 1);
        if (t >= 128 && span(t, processes) <= seconds) best = Math.max(best, t);
      }
    assert.equal(fit.tokens, best, `${seconds} s on ${processes} process(es)`);
    assert.ok(Math.abs(fit.seconds - span(best, processes)) < 1e-9);
  }
  assert.equal(fitTokens(runs, 0.001, 2), null, "not even one step fits");
});

test("headsNote: only below the calibrated head-forming budget, and not at the smoke scale", () => {
  assert.equal(headsNote(natural, NATURAL.headsFrom, "default"), null);
  assert.match(headsNote(natural, 1_000_000, "default")!, /the budget \(1M tokens per run\) is below .*expect no induction head/);
  assert.equal(headsNote(natural, 1_000_000, "smoke"), null);
  assert.equal(headsNote({}, 1, "default"), null);
});

const quiet = { lab, log: () => {} };

test("--minutes: timed here once, stored in the lab and reused (the runs keep their ids); errors with --tokens and bad minutes", async () => {
  const first = await planExperiment("natural", { ...quiet, scale: "smoke", minutes: 0.5 });
  const note = first.notes.find((n) => n.startsWith("--minutes 0.5:"));
  assert.ok(note !== undefined, first.notes.join("\n"));
  assert.match(note, /measured now: 1 thread per run; natural-attn-1l \d+k tokens\/s \+ \d+\.\d s per checkpoint/);
  const tokens = first.runs[0].resolved.tokens;
  assert.ok(first.runs.every((r) => r.resolved.tokens === tokens));
  // The estimate is within the minutes, less the margin.
  const estimated = Number(/estimated (\d+\.\d) minutes/.exec(note)![1]);
  assert.ok(estimated <= 0.5 * 0.88 + 0.05, note);
  assert.equal(readdirSync(join(lab, "budgets")).length, 1);
  const again = await planExperiment("natural", { ...quiet, scale: "smoke", minutes: 0.5 });
  assert.deepEqual(
    again.runs.map((r) => r.runId),
    first.runs.map((r) => r.runId),
  );
  assert.match(again.notes[0], /kept so that the runs resume/);
  // Other minutes are another budget, measured anew.
  const more = await planExperiment("natural", { ...quiet, scale: "smoke", minutes: 2 });
  assert.ok(more.runs[0].resolved.tokens > tokens, `${more.runs[0].resolved.tokens} > ${tokens}`);
  assert.equal(readdirSync(join(lab, "budgets")).length, 2);

  const rejects = (opts: object, re: RegExp) =>
    assert.rejects(
      planExperiment("natural", { ...quiet, scale: "smoke", ...opts }),
      (e: unknown) => e instanceof ExperimentError && re.test((e as Error).message),
    );
  await rejects({ minutes: 5, tokens: 1000 }, /--minutes and --tokens both given/);
  await rejects({ minutes: 0 }, /--minutes must be a number of minutes above 0/);
  await rejects({ minutes: -1 }, /--minutes must be/);
  assert.ok(existsSync(join(lab, "budgets")));
});

test("a plan below the calibrated head-forming budget says so; at the default budget it does not", async () => {
  const small = await planExperiment("natural", { ...quiet, tokens: 1_000_000, dryRun: true });
  assert.match(small.notes.join("\n"), /is below .* where the calibrated 2-layer model's first induction head/);
  const full = await planExperiment("natural", { ...quiet, dryRun: true });
  assert.doesNotMatch(full.notes.join("\n"), /is below/);
});

test("natural: code_go where apt can fetch it, else the embedded prose with a note; the calibrated setting either way", async () => {
  const { which } = await import("../data/sources/debian.ts");
  const noApt = await planExperiment("natural", { ...quiet, dryRun: true, env: { ...process.env, PATH: "/nonexistent" } });
  assert.match(noApt.notes.join("\n"), /code_go \(.*\): training on the embedded prose \(brown \+ legal \+ email\) instead/);
  assert.deepEqual(
    noApt.runs.map((r) => r.name),
    ["natural-prose-attn-1l", "natural-prose-attn-2l", "natural-prose-attn-3l"],
  );
  for (const r of noApt.runs) assert.deepEqual(Object.keys(r.resolved.data.sources!).sort(), ["brown", "email", "legal"]);
  const plans = [noApt];
  if (which("apt-get") !== null && which("dpkg-deb") !== null) {
    const withApt = await planExperiment("natural", { ...quiet, dryRun: true });
    if (withApt.notes.length === 0) {
      assert.deepEqual(
        withApt.runs.map((r) => [r.name, Object.keys(r.resolved.data.sources!)]),
        [1, 2, 3].map((l) => [`natural-attn-${l}l`, ["code_go"]]),
      );
      plans.push(withApt);
    }
  }
  for (const p of plans)
    for (const r of p.runs) {
      assert.equal(r.resolved.tokens, NATURAL.tokens);
      assert.deepEqual(r.resolved.data.tokenizer, NATURAL.tokenizer);
      assert.equal(r.resolved.optim.lr, NATURAL.lr);
      assert.equal(r.resolved.batch, NATURAL.batch);
      assert.deepEqual(r.resolved.measures, ["icl", "heads"]);
      assert.equal(r.resolved.checkpoints.first, NATURAL.first);
    }
});
