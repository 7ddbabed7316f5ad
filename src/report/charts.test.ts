import { test } from "node:test";
import assert from "node:assert/strict";
import { compile } from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import {
  DATASETS,
  ablationChart,
  attentionChart,
  comparisonChart,
  headScoresChart,
  iclScoreChart,
  inductionScoreChart,
  pcaChart,
  positionLossChart,
  tasksChart,
  trainLossChart,
} from "./charts.ts";

function compileStrict(spec: TopLevelSpec): { warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    level() {
      return 0;
    },
    error(...a: unknown[]): never {
      throw new Error(a.map(String).join(" "));
    },
    warn(...a: unknown[]) {
      warnings.push(a.map(String).join(" "));
      return this;
    },
    info() {
      return this;
    },
    debug() {
      return this;
    },
  };
  compile(spec, { logger: logger as never });
  return { warnings };
}

const datasets = (spec: TopLevelSpec) => (spec as { datasets: Record<string, unknown[]> }).datasets;

test("every chart builder gives a spec that Vega-Lite compiles without warnings", () => {
  const specs: TopLevelSpec[] = [
    iclScoreChart({
      points: [
        { label: "a", tokens: 1e4, score: -0.1, lo: -0.2, hi: 0 },
        { label: "a", tokens: 1e6, score: -0.4, lo: -0.5, hi: -0.3 },
      ],
      windows: [{ label: "a", start: 2e4, end: 5e5 }],
    }),
    trainLossChart({
      points: [
        { label: "a", tokens: 1e4, loss: 3 },
        { label: "a", tokens: 1e6, loss: 2 },
      ],
      bumps: [{ label: "a", start: 2e4, end: 5e5, peak: 1e5, height: 0.05 }],
    }),
    inductionScoreChart({ points: [{ label: "a", tokens: 1e4, score: 0.01, head: "L1H0" }], windows: [] }),
    positionLossChart({ curves: [{ series: "10k", order: 1e4, loss: [3, 2.9, 2.8] }] }),
    headScoresChart({ heads: [{ layer: 0, head: 0, induction: 0.1, prefixMatching: 0.2, previousToken: 0.9, copying: -0.3 }] }),
    attentionChart({ pattern: [[1], [0.5, 0.5]], targets: [{ query: 1, key: 0 }], tokens: ["7", "9"] }),
    pcaChart({
      points: [
        { label: "a", tokens: 1e4, pc1: 0, pc2: 1 },
        { label: "a", tokens: 1e5, pc1: 1, pc2: 0 },
      ],
      explained: [0.8, 0.1],
    }),
    ablationChart({
      bars: [
        { head: "L0H0", variant: "zero", delta: 0.1, lo: 0.05, hi: 0.15 },
        { head: "L0H0", variant: "pattern", delta: 0.08 },
      ],
    }),
    tasksChart({ points: [{ label: "a", task: "induction", shots: 0, accuracy: 0.3, chance: 0.25 }] }),
    comparisonChart({ bars: [{ row: "Blog", metric: "ICL score", value: -0.3, better: "lower", mean: -0.2, mark: "better" }] }),
  ];
  for (const spec of specs) assert.deepEqual(compileStrict(spec).warnings, [], JSON.stringify(spec.title));
});

test("iclScoreChart() keeps the points and windows in named datasets, on a log token axis", () => {
  const points = [
    { label: "2L", tokens: 1000, score: 0.01, lo: -0.02, hi: 0.04 },
    { label: "2L", tokens: 1e6, score: -0.42, lo: -0.45, hi: -0.39 },
  ];
  const spec = iclScoreChart({ points, windows: [{ label: "2L", start: 1e4, end: 2e5 }] });
  assert.deepEqual(datasets(spec)[DATASETS.icl], points);
  assert.deepEqual(datasets(spec)[DATASETS.iclWindows], [{ label: "2L", start: 1e4, end: 2e5 }]);
  const json = JSON.stringify(spec);
  assert.match(json, /"scale":\{"type":"log"\}/);
});

test("iclScoreChart() draws no interval band when no point has one", () => {
  const spec = iclScoreChart({ points: [{ label: "a", tokens: 10, score: 0 }] }) as { layer: Array<{ mark: { type: string } }> };
  assert.deepEqual(
    spec.layer.map((l) => l.mark.type),
    ["rect", "line", "rule"],
  );
});

test("positionLossChart() plots index i at position i + 1 and drops non-finite losses", () => {
  const spec = positionLossChart({ curves: [{ series: "x", order: 1, loss: [3, NaN, 2.5] }] });
  assert.deepEqual(datasets(spec)[DATASETS.positionLoss], [
    { series: "x", order: 1, position: 1, loss: 3 },
    { series: "x", order: 1, position: 3, loss: 2.5 },
  ]);
});

test("headScoresChart() folds the four scores of every head into rows", () => {
  const spec = headScoresChart({ heads: [{ layer: 1, head: 2, induction: 0.8, prefixMatching: 0.7, previousToken: 0.1, copying: 0.5 }] });
  assert.deepEqual(datasets(spec)[DATASETS.heads], [
    { layer: 1, head: 2, score: "induction", value: 0.8 },
    { layer: 1, head: 2, score: "prefixMatching", value: 0.7 },
    { layer: 1, head: 2, score: "previousToken", value: 0.1 },
    { layer: 1, head: 2, score: "copying", value: 0.5 },
  ]);
});

test("attentionChart() keeps the lower triangle of the pattern", () => {
  const spec = attentionChart({
    pattern: [
      [1, 0],
      [0.25, 0.75],
    ],
  });
  assert.deepEqual(datasets(spec)[DATASETS.attention], [
    { query: 0, key: 0, weight: 1 },
    { query: 1, key: 0, weight: 0.25 },
    { query: 1, key: 1, weight: 0.75 },
  ]);
});

test("reference rules are drawn: the zero line of the ICL chart and positions 50 and 500", async () => {
  const { renderSvg } = await import("./render.ts");
  const icl = await renderSvg(
    iclScoreChart({
      points: [
        { label: "a", tokens: 1e3, score: 0.1 },
        { label: "a", tokens: 1e6, score: -0.4 },
      ],
    }),
  );
  assert.match(icl.svg, /class="mark-rule role-mark layer_2_marks"[^>]*><line/);
  const pos = await renderSvg(
    positionLossChart({ curves: [{ series: "x", order: 1, loss: Array.from({ length: 512 }, (_, i) => 3 - Math.log(i + 1) / 10) }] }),
  );
  assert.equal([...pos.svg.matchAll(/class="mark-rule role-mark layer_\d_marks"[^>]*><line/g)].length, 2);
});
