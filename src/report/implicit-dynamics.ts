/**
 * The implicit-dynamics experiment's figures and page (Dherin et al. 2025, arXiv 2507.16003): test
 * loss against the number of in-context examples for ICL (the patched no-context model), explicit
 * GD on W with the paper's step and with a tuned rate, and least squares (the paper's ICL-vs-GD
 * figure); the marginal update ‖ΔW(i+1) − ΔW(i)‖_F against i on log-log axes with a 1/i reference
 * (the paper's convergence figure), for the regression models and the token model's layers; the
 * marginal update's |cosine| with −∇ against the random baseline. Vega-Lite specs, rendered like
 * every report's (render.ts). The numbers come from src/measure/implicit-dynamics.ts and
 * src/measure/implicit-update.ts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import type { DynamicsSummary } from "../measure/implicit-dynamics.ts";
import { VEGA_LITE_SCHEMA } from "./chart-common.ts";
import type { ReportFigure } from "./render.ts";
import { escapeHtml, htmlTable } from "./tables.ts";

/** The token model's marginal update per layer: mean over windows and query positions, index n − 1 = n context tokens. */
export interface TokenDynamics {
  run: string;
  checkpoint: number;
  windows: number;
  positions: number[];
  layers: Array<{
    layer: number;
    identity: number;
    marginal: number[];
    decaySlope: number;
    absCosine: number;
    randomAbsCosine: number;
    marginalAt: Record<"1" | "10" | "100", number>;
  }>;
}

const SERIES = [
  { key: "icl", label: "ICL (= patched no-context model)" },
  { key: "iclDwOnly", label: "ICL, ΔW only (no Δb)" },
  { key: "gdDherin", label: "GD on W, h = 1/‖u₀‖²" },
  { key: "gdTuned", label: "GD on W, tuned lr" },
  { key: "leastSquares", label: "least squares" },
] as const;

/** A chart with one panel per model (in the models' order) drawing `spec` on `values`. */
function byModel(models: readonly DynamicsSummary[], title: string, description: string, values: object[], spec: object): TopLevelSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    description,
    data: { values },
    facet: { column: { field: "model", title: null, sort: models.map((m) => m.kind) } },
    spec,
  } as TopLevelSpec;
}

/** Test loss on the query against the number of in-context examples, one panel per model. */
export function lossCurvesChart(models: readonly DynamicsSummary[]): TopLevelSpec {
  const values = models.flatMap((m) =>
    SERIES.filter((s) => m.kind === "transformer" || s.key !== "iclDwOnly").flatMap((s) =>
      m[s.key].map((v, i) => ({ model: m.kind, series: s.label, examples: i, loss: Math.max(v, 1e-4) })),
    ),
  );
  return byModel(
    models,
    "query loss against in-context examples: ICL vs explicit gradient descent (Dherin 2025)",
    "Mean squared error on the query against the number of examples, per model and method.",
    values,
    {
      width: 240,
      height: 240,
      mark: { type: "line", point: { size: 12 } },
      encoding: {
        x: { field: "examples", type: "quantitative", title: "in-context examples i" },
        y: { field: "loss", type: "quantitative", title: "query MSE (log)", scale: { type: "log" } },
        color: { field: "series", type: "nominal", title: null, sort: SERIES.map((s) => s.label), legend: { labelLimit: 400 } },
      },
    },
  );
}

/**
 * Long curves (the token model's hundreds of positions) averaged over log-spaced bins (quarter
 * octaves: i, or the bin's geometric centre, and the mean), so that the trend shows through the
 * token-to-token noise; curves of up to 40 points are kept as they are.
 */
export function logBins(pts: ReadonlyArray<{ i: number; v: number }>): Array<{ i: number; v: number }> {
  if (pts.length <= 40) return [...pts];
  const bins = new Map<number, { i: number[]; v: number[] }>();
  for (const p of pts) {
    const b = Math.floor(4 * Math.log2(p.i));
    if (!bins.has(b)) bins.set(b, { i: [], v: [] });
    bins.get(b)!.i.push(p.i);
    bins.get(b)!.v.push(p.v);
  }
  return [...bins.values()].map((b) => ({
    i: Math.exp(b.i.reduce((a, x) => a + Math.log(x), 0) / b.i.length),
    v: b.v.reduce((a, x) => a + x, 0) / b.v.length,
  }));
}

/** ‖ΔW(i+1) − ΔW(i)‖_F against i (log-log) with a c/i reference through each curve's first point. */
export function marginalChart(models: readonly DynamicsSummary[], token: TokenDynamics | null): TopLevelSpec {
  const values: Array<{ curve: string; i: number; marginal: number; ref: boolean }> = [];
  const add = (curve: string, ys: readonly number[]) => {
    const pts = logBins(ys.map((v, k) => ({ i: k + 1, v })).filter((p) => p.v > 0 && Number.isFinite(p.v)));
    for (const p of pts) values.push({ curve, i: p.i, marginal: p.v, ref: false });
    if (pts.length > 0) for (const p of pts) values.push({ curve: `${curve}: c/i`, i: p.i, marginal: (pts[0].v * pts[0].i) / p.i, ref: true });
  };
  for (const m of models) add(`${m.kind} (regression)`, m.marginal);
  for (const l of token?.layers ?? []) add(`token transformer L${l.layer}`, l.marginal);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: "marginal implicit update ‖ΔW(i+1) − ΔW(i)‖ against examples (regression) or tokens (token model) consumed",
    description: "Log-log plot of the marginal update with a 1/i reference line per curve (dashed).",
    width: 560,
    height: 320,
    data: { values },
    layer: [
      {
        transform: [{ filter: "!datum.ref" }],
        mark: { type: "line", point: { size: 10 } },
        encoding: {
          x: { field: "i", type: "quantitative", title: "i (examples or tokens in context, log)", scale: { type: "log" } },
          y: { field: "marginal", type: "quantitative", title: "‖ΔW(i+1) − ΔW(i)‖_F (log)", scale: { type: "log" } },
          color: { field: "curve", type: "nominal", title: null, legend: { labelLimit: 400 } },
        },
      },
      {
        transform: [{ filter: "datum.ref" }, { calculate: "replace(datum.curve, ': c/i', '')", as: "base" }],
        mark: { type: "line", strokeDash: [4, 4], opacity: 0.6 },
        encoding: {
          x: { field: "i", type: "quantitative", scale: { type: "log" } },
          y: { field: "marginal", type: "quantitative", scale: { type: "log" } },
          color: { field: "base", type: "nominal" },
        },
      },
    ],
  } as TopLevelSpec;
}

/** Mean |cos| of the marginal update with −∇ of the consumed example's loss, per model, and the random baselines. */
export function cosineChart(models: readonly DynamicsSummary[]): TopLevelSpec {
  const values = models.flatMap((m) => [
    ...m.absCosine.map((v, i) => ({ model: m.kind, i: i + 1, cos: v, what: "|cos(ΔW(i+1) − ΔW(i), −∇)|" })),
    ...m.absCosine.map((_, i) => ({ model: m.kind, i: i + 1, cos: m.randomCosine, what: "random direction" })),
  ]);
  return byModel(
    models,
    "alignment of the marginal implicit update with the explicit gradient",
    "Mean absolute cosine against the consumed example's index, with the random baseline.",
    values,
    {
      width: 240,
      height: 200,
      mark: { type: "line" },
      encoding: {
        x: { field: "i", type: "quantitative", title: "example consumed (i + 1)" },
        y: { field: "cos", type: "quantitative", title: "mean |cosine|", scale: { domain: [0, 1] } },
        color: { field: "what", type: "nominal", title: null, legend: { labelLimit: 400 } },
      },
    },
  );
}

const f3 = (x: number) => (!Number.isFinite(x) ? "–" : Math.abs(x) !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4) ? x.toExponential(1) : x.toFixed(3));

/** The regression table: one row per model (the experiment's summary and the page print it). */
export function regressionTable(models: readonly DynamicsSummary[]): { header: string[]; cells: string[][] } {
  const at = (xs: readonly number[], i: number) => f3(xs[Math.min(i, xs.length - 1)]);
  const header = [
    "model",
    "identity (query)",
    "identity (all positions)",
    "ICL i=0",
    "i=1",
    "i=5",
    "i=N",
    "GD h i=N",
    "GD tuned i=N",
    "LS i=N",
    "h",
    "tuned lr",
    "marginal i=1",
    "i=N−1",
    "decay slope",
    "|cos|",
    "random |cos|",
    "|cos| out-side",
    "random",
  ];
  const cells = models.map((m) => {
    const N = m.context;
    const abs = m.absCosine.reduce((a, b) => a + b, 0) / Math.max(1, m.absCosine.length);
    return [
      m.kind,
      f3(m.identityQuery),
      m.identityAll === null ? "–" : f3(m.identityAll),
      at(m.icl, 0),
      at(m.icl, 1),
      at(m.icl, 5),
      at(m.icl, N),
      at(m.gdDherin, N),
      at(m.gdTuned, N),
      at(m.leastSquares, N),
      f3(m.dherinStep),
      f3(m.tunedLr),
      at(m.marginal, 0),
      at(m.marginal, N - 1),
      m.decaySlope.toFixed(2),
      f3(abs),
      f3(m.randomCosine),
      f3(m.absCosineOut),
      f3(m.randomCosineOut),
    ];
  });
  return { header, cells };
}

export function tokenTable(t: TokenDynamics): { header: string[]; cells: string[][] } {
  return {
    header: ["layer", "identity (logits)", "marginal n=1", "n=10", "n=100", "decay slope", "|cos(−∇)|", "random |cos|"],
    cells: t.layers.map((l) => [
      `L${l.layer}`,
      f3(l.identity),
      f3(l.marginalAt[1]),
      f3(l.marginalAt[10]),
      f3(l.marginalAt[100]),
      l.decaySlope.toFixed(2),
      f3(l.absCosine),
      f3(l.randomAbsCosine),
    ]),
  };
}

export interface ImplicitDynamicsReportInput {
  title: string;
  intro: string;
  models: DynamicsSummary[];
  token: TokenDynamics | null;
  out: string;
  png?: boolean;
}

/** The figures of the experiment, by file name (also what the dashboard shows). */
export function implicitDynamicsFigures(models: readonly DynamicsSummary[], token: TokenDynamics | null): ReportFigure[] {
  return [
    {
      name: "loss-vs-examples",
      spec: lossCurvesChart(models),
      caption:
        "Query MSE against the number of in-context examples: the model with i examples in context (equal, to float64 rounding, to the no-context model with W patched by ΔW(i) and the residual by Δb(i)), the same with ΔW alone, explicit GD on W over the same i examples with the paper's step h = 1/‖u₀‖² and with the best rate of a grid, and least squares (exact from i = D; floored at 1e-4 for the log axis).",
    },
    {
      name: "marginal-update",
      spec: marginalChart(models, token),
      caption:
        "Marginal implicit update against the examples (regression models) or tokens (token transformer, per layer) consumed, log-log; the token model's curves are means over quarter-octave bins of context length; dashed: c/i through each curve's first point (the paper's ~1/i).",
    },
    {
      name: "cosine",
      spec: cosineChart(models),
      caption:
        "Mean |cosine| of the marginal update with −∇_W of the consumed example's loss (at the trained W), and of a random direction (√(2/(πn))). Both are rank 1, so the cosine is cos(u₀, u_j) × cos(output-side factors); for the LSTM and RNN (a one-column readout) it is |cos(u₀, u_j)| alone, the similarity of two no-context hidden states, not evidence of descent; the transformer's output-side factor alone is the table's '|cos| out-side' column.",
    },
  ];
}

/** Writes index.html, the figures' .vl.json (and PNGs) under `out`; returns the HTML's path. */
export async function renderImplicitDynamicsReport(input: ImplicitDynamicsReportInput): Promise<{ html: string; figures: string[] }> {
  const { writeFigures } = await import("./render.ts");
  mkdirSync(input.out, { recursive: true });
  const { parts, written } = await writeFigures(implicitDynamicsFigures(input.models, input.token), input.out, input.png);
  const rt = regressionTable(input.models);
  const tt = input.token === null ? null : tokenTable(input.token);
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>body{font-family:"DejaVu Sans",system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
table{border-collapse:collapse;font-size:.85rem}th,td{padding:.2rem .5rem;border-bottom:1px solid #e4e4e4;text-align:left}
.chart svg{max-width:100%;height:auto}figcaption{font-size:.9rem}</style></head>
<body><h1>${escapeHtml(input.title)}</h1><p>${escapeHtml(input.intro)}</p>
<h2>In-context regression</h2>${htmlTable(rt.header, rt.cells)}
<h2>Token model</h2>${
    tt === null
      ? "<p>not measured (no finished transformer token run in the lab; see docs/experiments.md)</p>"
      : `<p>run ${escapeHtml(input.token!.run)} at ${input.token!.checkpoint} tokens, ${input.token!.windows} windows, queries at ${input.token!.positions.join(", ")}</p>${htmlTable(tt.header, tt.cells)}`
  }
<h2>Figures</h2>${parts.join("\n")}
</body></html>`;
  const path = join(input.out, "index.html");
  writeFileSync(path, html);
  return { html: path, figures: written };
}
