import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import type { TopLevelSpec } from "vega-lite";
import { detectLossBump } from "../measure/loss-bump.ts";
import { iclPhaseChange } from "../measure/phase-change.ts";
import { RunStore } from "../store/run-store.ts";
import { UserError } from "../cli/errors.ts";
import { register } from "../cli/report.ts";
import { buildFixtureLab, FIXTURE_EXPERIMENT, type Fixture } from "./fixture.ts";
import { ReportError, renderReport, resolveTarget, type RenderedReport } from "./report.ts";
import { formatNumber } from "./tables.ts";

let dir: string;
let fx: Fixture;
let report: RenderedReport;
let html: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "icl-report-"));
  fx = buildFixtureLab(join(dir, "lab"));
  report = await renderReport({ lab: fx.lab, experiment: FIXTURE_EXPERIMENT, out: join(dir, "out") });
  html = readFileSync(report.html, "utf8");
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** The Vega-Lite spec embedded beside figure `id` in the HTML. */
function embeddedSpec(id: string): { datasets: Record<string, Array<Record<string, unknown>>> } & TopLevelSpec {
  const m = new RegExp(`<script type="application/json" class="vega-lite-spec" data-figure="${id}">(.*?)</script>`, "s").exec(html);
  assert.ok(m, `figure ${id} has an embedded spec`);
  return JSON.parse(m[1]);
}

/** The inline SVG of figure `id`. */
function figureSvg(id: string): string {
  const m = new RegExp(`<figure id="fig-${id}">\\s*<div class="chart">(<svg.*?</svg>)</div>`, "s").exec(html);
  assert.ok(m, `figure ${id} has an inline SVG`);
  return m[1];
}

/** The cells of the summary-table row of run label `label`. */
function summaryRow(label: string): string[] {
  const table = /<table class="summary">(.*?)<\/table>/s.exec(html)![1];
  const row = [...table.matchAll(/<tr>(.*?)<\/tr>/gs)]
    .map((m) => [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]))
    .find((cells) => cells[0] === label);
  assert.ok(row, `summary row for ${label}`);
  return row;
}

test("the summary table shows each run's stored final ICL score, interval, loss@50 and loss@500", () => {
  for (const run of [fx.runs.twoLayer, fx.runs.oneLayer, fx.runs.lstm]) {
    const last = run.icl[run.icl.length - 1];
    const cells = summaryRow(run.id);
    assert.equal(cells[3], `${formatNumber(last.score)} [${formatNumber(last.lo)}, ${formatNumber(last.hi)}]`);
    assert.equal(cells[6], formatNumber(last.loss50));
    assert.equal(cells[7], formatNumber(last.loss500));
  }
  const s = report.summaries.find((x) => x.id === "fx-2l")!;
  assert.equal(s.score, fx.runs.twoLayer.icl.at(-1)!.score);
  assert.deepEqual(s.bestHead && { layer: s.bestHead.layer, head: s.bestHead.head }, { layer: 1, head: 0 });
  assert.match(summaryRow("fx-2l")[5], /^L1H0: 0\.(79\d|800)$/);
  assert.equal(summaryRow("fx-lstm")[5], "—");
});

test("the summary's phase-change window is the one detected on the stored ICL scores; none for the flat runs", () => {
  const phase = iclPhaseChange(
    fx.runs.twoLayer.icl.map((c) => ({ tokens: c.tokens, value: c.score })),
    { noise: 0.015 },
  );
  assert.equal(phase.status, "found");
  if (phase.status !== "found") return;
  const s = report.summaries.find((x) => x.id === "fx-2l")!;
  assert.deepEqual(s.window, { start: phase.start, end: phase.end, size: phase.size });
  // The fixture's drop is centred on 300k tokens.
  assert.ok(phase.start < 3e5 && phase.end > 3e5);
  assert.equal(summaryRow("fx-1l")[4], "none");
  assert.equal(summaryRow("fx-lstm")[4], "none");
});

test("the ICL chart holds every stored point, and its shaded window spans the detected start to end", async () => {
  const spec = embeddedSpec("icl-score");
  const stored = [fx.runs.twoLayer, fx.runs.oneLayer, fx.runs.lstm].flatMap((r) =>
    r.icl.map((c) => ({ label: r.id, tokens: c.tokens, score: c.score, lo: c.lo, hi: c.hi })),
  );
  assert.deepEqual(spec.datasets.icl, stored);
  const phase = iclPhaseChange(
    fx.runs.twoLayer.icl.map((c) => ({ tokens: c.tokens, value: c.score })),
    { noise: 0.015 },
  );
  assert.equal(phase.status, "found");
  if (phase.status !== "found") return;
  assert.deepEqual(spec.datasets.iclWindows, [{ label: "fx-2l", start: phase.start, end: phase.end }]);

  // In the drawn SVG, the window's rectangle runs from x(start) to x(end) of the chart's token scale.
  const vega = await import("vega");
  const vl = await import("vega-lite");
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  await view.runAsync();
  const x = view.scale("x") as (v: number) => number;
  view.finalize();
  const svg = figureSvg("icl-score");
  const rect = /class="mark-rect role-mark layer_0_marks"[^>]*><path[^>]*d="M([\d.]+),0h([\d.]+)v/.exec(svg);
  assert.ok(rect, "the window's rect is drawn");
  assert.ok(Math.abs(Number(rect[1]) - x(phase.start)) < 0.01, `rect starts at ${rect[1]}, x(start) = ${x(phase.start)}`);
  assert.ok(Math.abs(Number(rect[1]) + Number(rect[2]) - x(phase.end)) < 0.01);
  // Vega writes each mark's data into its aria-label.
  assert.match(svg, new RegExp(`aria-label="start: ${Math.round(phase.start)}\\.\\d*; end: ${Math.round(phase.end)}\\.`));
});

test("the training-loss chart holds the stored losses and marks the detected bump", () => {
  const spec = embeddedSpec("train-loss");
  assert.deepEqual(
    spec.datasets.trainLoss.filter((p) => p.label === "fx-2l").map((p) => [p.tokens, p.loss]),
    fx.runs.twoLayer.trainLoss.map((p) => [p.tokens, p.value]),
  );
  const bump = detectLossBump(fx.runs.twoLayer.trainLoss);
  assert.equal(bump.status, "found");
  if (bump.status !== "found") return;
  assert.deepEqual(spec.datasets.lossBumps, [{ label: "fx-2l", start: bump.start, end: bump.end, peak: bump.peak, height: bump.height }]);
  assert.ok(bump.peak > 1e5 && bump.peak < 1e6, `the fixture's bump is near 300k tokens, found ${bump.peak}`);
});

test("the head heatmaps show the last checkpoint's stored scores", () => {
  const spec = embeddedSpec("heads-fx-2l");
  const store = RunStore.open(fx.lab);
  const last = store.jsonSeries("fx-2l", "heads.heads").at(-1)!.value as Array<Record<string, number>>;
  store.close();
  const rows = spec.datasets.heads;
  assert.equal(rows.length, last.length * 4);
  for (const h of last) {
    for (const key of ["induction", "prefixMatching", "previousToken", "copying"]) {
      assert.deepEqual(rows.find((r) => r.layer === h.layer && r.head === h.head && r.score === key)?.value, h[key]);
    }
  }
  const best = last.find((h) => h.layer === 1 && h.head === 0)!;
  assert.match(figureSvg("heads-fx-2l"), new RegExp(`>${best.induction.toFixed(2)}</text>`));
});

test("the loss-by-position chart holds the stored vectors of the selected checkpoints", () => {
  const spec = embeddedSpec("position-loss-fx-2l");
  const store = RunStore.open(fx.lab);
  const vectors = store.vectors("fx-2l", "positionLoss.meanLoss");
  store.close();
  const rows = spec.datasets.positionLoss;
  const orders = [...new Set(rows.map((r) => r.order as number))];
  assert.ok(orders.length >= 5 && orders.length <= 7, `${orders.length} checkpoints drawn`);
  for (const t of orders) {
    const v = vectors.find((x) => x.tokens === t)!;
    assert.deepEqual(
      rows.filter((r) => r.order === t).map((r) => r.loss),
      Array.from(v.data),
    );
  }
  assert.ok(orders.includes(vectors[0].tokens) && orders.includes(vectors.at(-1)!.tokens), "first and last checkpoints drawn");
});

test("the attention figure is recomputed from the last checkpoint: rows are distributions, targets on the induction stripe", () => {
  const spec = embeddedSpec("attention-fx-2l");
  const cells = spec.datasets.attention as Array<{ query: number; key: number; weight: number }>;
  const T = Math.max(...cells.map((c) => c.query)) + 1;
  assert.equal(T, 31); // BOS + 15 tokens × 2 fit the fixture's nCtx of 32
  for (let q = 0; q < T; q++) {
    const sum = cells.filter((c) => c.query === q).reduce((s, c) => s + c.weight, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `row ${q} sums to ${sum}`);
  }
  // BOS, then R (positions 1..15) and R again (16..30): the token at 16 + i repeats 1 + i, so an
  // induction head attends to 2 + i.
  assert.deepEqual(spec.datasets.attentionTargets, Array.from({ length: 14 }, (_, i) => ({ query: 16 + i, key: 2 + i })).concat([{ query: 30, key: 16 }]));
});

test("the PCA, ablation, few-shot and comparison figures are drawn from the stored results", () => {
  const pca = embeddedSpec("loss-pca").datasets.pca;
  assert.deepEqual([...new Set(pca.map((p) => p.label))], ["fx-2l", "fx-1l"]);
  assert.equal(pca.length, 50);
  const abl = embeddedSpec("ablation-fx-2l").datasets.ablation;
  assert.deepEqual(
    abl.find((b) => b.head === "L1H0" && b.variant === "zero"),
    { head: "L1H0", variant: "zero", delta: 0.35, lo: 0.35 - 0.02, hi: 0.35 + 0.02 },
  );
  const tasks = embeddedSpec("tasks").datasets.tasks;
  assert.deepEqual(
    tasks.filter((t) => t.task === "kv-recall").map((t) => t.accuracy),
    [0.12, 0.3, 0.45],
  ); // the null at 4 shots is left out
  assert.ok(report.comparison);
  const icl = report.comparison.rows.map((r) => r.values.icl);
  assert.deepEqual(
    icl,
    [fx.runs.twoLayer, fx.runs.oneLayer, fx.runs.lstm].map((r) => r.icl.at(-1)!.score),
  );
  assert.deepEqual(
    report.comparison.marks.map((m) => m.icl),
    ["bold", "underline", "underline"],
  );
  assert.match(html, /<table class="shin">/);
  const bars = embeddedSpec("comparison").datasets.comparison;
  assert.deepEqual(
    bars.filter((b) => b.metric === "ICL score").map((b) => b.mark),
    ["better", "worse", "worse"],
  );
});

test("every figure is also a PNG file beside the HTML", () => {
  assert.ok(report.figures.length >= 12, `${report.figures.length} figures`);
  for (const f of report.figures) {
    assert.ok(f.png && existsSync(f.png), `${f.id}.png exists`);
    const head = readFileSync(f.png).subarray(0, 8);
    assert.deepEqual([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${f.id}.png starts with the PNG signature`);
    assert.equal(f.png, join(report.dir, `${f.id}.png`));
    assert.match(html, new RegExp(`<a class="png" href="${f.id}.png">`));
  }
});

test("every figure has a caption citing its anchor, and the page is self-contained", () => {
  const figs = [...html.matchAll(/<figure id="fig-([^"]+)">.*?<figcaption>(.*?)<\/figcaption>/gs)];
  assert.equal(figs.length, report.figures.length);
  for (const [, id, caption] of figs) assert.match(caption, /Anchor|Shin|Olsson|mean/, `caption of ${id}`);
  assert.doesNotMatch(html, /<script src=|<link rel="stylesheet"|<img src="http/);
  assert.match(html, /<style>/);
});

test("a single-run report works without heads and says what it cannot show", async () => {
  const r = await renderReport({ lab: fx.lab, runIds: ["fx-lstm"], out: join(dir, "lstm"), png: false });
  assert.deepEqual(
    r.figures.map((f) => f.id),
    ["icl-score", "train-loss"],
  );
  assert.equal(r.comparison, null);
  assert.ok(
    r.notes.some((n) => n.includes("positionLoss")),
    r.notes.join("\n"),
  );
  assert.ok(r.figures.every((f) => f.png === null));
  assert.match(readFileSync(r.html, "utf8"), /<li>Loss by position: no run stored `positionLoss.meanLoss`/);
});

test("an unknown ID gives a clear error that lists what the lab holds", async () => {
  const store = RunStore.open(fx.lab);
  try {
    assert.deepEqual(resolveTarget(store, "fx-2l"), { runIds: ["fx-2l"] });
    assert.deepEqual(resolveTarget(store, FIXTURE_EXPERIMENT), { experiment: FIXTURE_EXPERIMENT });
    assert.deepEqual(resolveTarget(store, "fx-ls"), { runIds: ["fx-lstm"] }); // a unique start of a run id
    assert.throws(
      () => resolveTarget(store, "nope"),
      (e: Error) =>
        e instanceof ReportError && /no run or experiment named 'nope' in .*; experiments: fixture-exp; runs: fx-2l, fx-1l, fx-lstm$/.test(e.message),
    );
    assert.throws(() => resolveTarget(store, "fx-"), /'fx-' is the start of 3 run ids/);
  } finally {
    store.close();
  }
  await assert.rejects(renderReport({ lab: fx.lab, runIds: ["nope"] }), /no run or experiment named 'nope'/);
  await assert.rejects(renderReport({ lab: fx.lab, experiment: "nope" }), /no run or experiment named 'nope'/);
  await assert.rejects(renderReport({ lab: fx.lab }), /give either 'runIds' or 'experiment'/);
});

test("`icl-lab report` turns an unknown ID or a missing lab into a one-line UserError", async () => {
  const program = () => {
    const p = new Command("icl-lab").exitOverride();
    register(p);
    return p;
  };
  await assert.rejects(
    program().parseAsync(["node", "icl-lab", "report", "nope", "--lab", fx.lab]),
    (e: Error) => e instanceof UserError && /no run or experiment named 'nope'/.test(e.message),
  );
  await assert.rejects(
    program().parseAsync(["node", "icl-lab", "report", "x", "--lab", join(dir, "no-lab")]),
    (e: Error) => e instanceof UserError && /no lab at .*no-lab/.test(e.message),
  );
  assert.ok(!existsSync(join(dir, "no-lab")), "a missing lab is not created");
});

test("runs differing only in seed are averaged: the ICL chart shows mean ± sd and the table one row per configuration", async () => {
  const store = RunStore.open(fx.lab);
  const base = { experiment: "seeds", model: { kind: "attn-only", nLayers: 2 }, data: { sources: { brown: 1 } } };
  const scores = [
    [-0.1, -0.3],
    [-0.2, -0.5],
  ]; // seed 0 and seed 1 at 1k and 10k tokens
  try {
    for (const seed of [0, 1]) {
      store.createRun({ id: `s${seed}`, experiment: "seeds", kind: "attn-only", config: { ...base, seed } });
      store.logMetrics(`s${seed}`, 1000, { "icl.score": scores[seed][0], "icl@brown.score": -0.2 - seed });
      store.logMetrics(`s${seed}`, 10_000, { "icl.score": scores[seed][1], "icl@brown.score": -0.4 - seed });
    }
    store.createRun({ id: "other", experiment: "seeds", kind: "attn-only", config: { ...base, data: { sources: { email: 1 } }, seed: 0 } });
    store.logMetrics("other", 1000, { "icl.score": 0 });
    store.logMetrics("other", 10_000, { "icl.score": -0.05 });
  } finally {
    store.close();
  }
  const r = await renderReport({ lab: fx.lab, experiment: "seeds", out: join(dir, "seeds"), png: false });
  const icl = r.figures.find((f) => f.id === "icl-score")!.spec as unknown as { datasets: { icl: Array<Record<string, unknown>> } };
  const brown = icl.datasets.icl.filter((p) => p.label === "brown");
  assert.deepEqual(
    brown.map((p) => p.tokens),
    [1000, 10_000],
  );
  assert.ok(Math.abs((brown[1].score as number) - -0.4) < 1e-12);
  const sd = Math.sqrt(((-0.3 + 0.4) ** 2 + (-0.5 + 0.4) ** 2) / 1);
  assert.ok(Math.abs((brown[1].hi as number) - (-0.4 + sd)) < 1e-12 && Math.abs((brown[1].lo as number) - (-0.4 - sd)) < 1e-12);
  // Rows follow the runs' creation order; runs created in the same millisecond tie, so compare as a set.
  const rows = [...r.comparison!.rows].sort((a, b) => a.label.localeCompare(b.label));
  assert.deepEqual(
    rows.map((x) => [x.label, x.n]),
    [
      ["brown", 2],
      ["email", 1],
    ],
  );
  assert.ok(Math.abs(rows[0].sd!.icl! - sd) < 1e-12);
  // A further stored ICL score (here on one domain's windows) becomes a column of its own.
  const extra = r.comparison!.columns.find((c) => c.key === "extra:icl@brown")!;
  assert.equal(extra.label, "ICL score (icl@brown)");
  assert.ok(Math.abs(rows[0].values["extra:icl@brown"]! - -0.9) < 1e-12);
  assert.deepEqual(r.summaries.map((s) => s.label).sort(), ["brown seed 0", "brown seed 1", "email seed 0"]);
  // …and a figure over training: one curve per run with the stored values.
  const fig = r.figures.find((f) => f.id === "icl-brown")!.spec as unknown as { datasets: { icl: Array<{ label: string; tokens: number; score: number }> } };
  const curve = (label: string) => fig.datasets.icl.filter((p) => p.label === label).map((p) => [p.tokens, p.score]);
  assert.deepEqual(curve("brown seed 0"), [
    [1000, -0.2],
    [10_000, -0.4],
  ]);
  assert.deepEqual(curve("brown seed 1"), [
    [1000, -1.2],
    [10_000, -1.4],
  ]);
  assert.deepEqual(curve("email seed 0"), []);
  assert.match(readFileSync(r.html, "utf8"), /ICL score on brown/);
});
