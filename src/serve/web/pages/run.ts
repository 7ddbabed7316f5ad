/**
 * One run: what it is (status, model, data, tokens, config), the ICL score and the training loss
 * against tokens (log axis) with the detected phase-change window shaded and the loss bump marked,
 * the best head's induction score, loss by position at chosen checkpoints, the heads' score
 * heatmaps with a checkpoint slider, the ablation table and few-shot tasks. While the run trains,
 * each new checkpoint updates the charts in place (live events → refetch → `view.change`).
 */
import { ablationChart, headScoresChart, iclScoreChart, inductionScoreChart, positionLossChart, tasksChart, trainLossChart } from "../../../report/charts.ts";
import { selectCheckpoints } from "../../../report/data.ts";
import type { Detection, RunView } from "../../types.ts";
import { ApiFailure, getJson } from "../api.ts";
import type { Dispose } from "../route.ts";
import { LiveChart } from "../chart.ts";
import { fill, h } from "../dom.ts";
import { onRunEvent } from "../live.ts";
import { errorBox, formatNumber, formatTokens, headName, refresher, scoreText, statusBadge } from "./common.ts";

function section(id: string, title: string, ...content: HTMLElement[]): HTMLElement {
  return h("section", { id }, h("h2", {}, title), ...content);
}

function detectionText(d: Detection, what: string, size: (x: number) => string): string {
  if (d.status === "none") return `${what}: none detected (${d.reason}).`;
  const share =
    d.shareInWindow !== undefined && d.shareInWindow !== null ? `, ${Math.round(100 * Math.min(1, d.shareInWindow))}% of the whole change inside it` : "";
  const peak = d.peak !== undefined ? `, peak at ${formatTokens(d.peak)}` : "";
  return `${what}: ${formatTokens(d.start)}–${formatTokens(d.end)} tokens, ${size(d.size)}${peak}${share}.`;
}

/** The page's elements, charts and choices, made once; the render functions below fill them. */
interface Parts {
  head: HTMLElement;
  charts: Record<"icl" | "trainLoss" | "induction" | "positionLoss" | "heads" | "ablation" | "tasks", LiveChart>;
  notes: Record<"icl" | "trainLoss" | "induction" | "positionLoss" | "heads" | "ablation" | "tasks", HTMLElement>;
  sections: Record<"training" | "induction" | "position" | "heads" | "ablation" | "tasks", HTMLElement>;
  chooser: HTMLElement;
  slider: HTMLInputElement;
  sliderLabel: HTMLElement;
  ablationTable: HTMLElement;
  /** Checkpoints chosen for loss by position; null: chosen automatically (follows new checkpoints). */
  chosen: Set<number> | null;
  /** Index of the head-score checkpoint shown; null: the latest. */
  headIndex: number | null;
}

function layout(): Parts {
  const head = h("div", { id: "run-head" });
  const iclEl = h("div"),
    lossEl = h("div"),
    inductionEl = h("div"),
    positionEl = h("div"),
    headsEl = h("div"),
    ablationEl = h("div"),
    tasksEl = h("div");
  const charts = {
    icl: new LiveChart(iclEl, "icl"),
    trainLoss: new LiveChart(lossEl, "trainLoss"),
    induction: new LiveChart(inductionEl, "induction"),
    positionLoss: new LiveChart(positionEl, "positionLoss"),
    heads: new LiveChart(headsEl, "heads"),
    ablation: new LiveChart(ablationEl, "ablation"),
    tasks: new LiveChart(tasksEl, "tasks"),
  };
  const notes = {
    icl: h("p", { class: "note" }),
    trainLoss: h("p", { class: "note" }),
    induction: h("p", { class: "note" }),
    positionLoss: h("p", { class: "note" }),
    heads: h("p", { class: "note" }),
    ablation: h("div", { class: "note" }),
    tasks: h("p", { class: "note" }),
  };
  const chooser = h("div", { class: "chooser", id: "position-checkpoints" });
  const slider = h("input", { type: "range", id: "heads-slider", min: 0, max: 0, step: 1, value: 0, "aria-label": "checkpoint of the head scores" });
  const sliderLabel = h("span", { id: "heads-slider-label", class: "muted" });
  const ablationTable = h("div", { id: "ablation-table" });
  const sections = {
    training: section("training", "ICL score and training loss", notes.icl, iclEl, notes.trainLoss, lossEl),
    induction: section("induction", "Induction score of the best head", notes.induction, inductionEl),
    position: section("position", "Loss by position in the context", notes.positionLoss, chooser, positionEl),
    heads: section(
      "heads",
      "Head scores",
      h("div", { class: "slider" }, h("label", { for: "heads-slider" }, "Checkpoint "), slider, " ", sliderLabel),
      notes.heads,
      headsEl,
    ),
    ablation: section("ablation", "Head ablation", notes.ablation, ablationTable, ablationEl),
    tasks: section("tasks", "Few-shot tasks", notes.tasks, tasksEl),
  };
  return { head, charts, notes, sections, chooser, slider, sliderLabel, ablationTable, chosen: null, headIndex: null };
}

export function runPage(main: HTMLElement, id: string): Dispose {
  document.title = `${id} · icl-lab`;
  const p = layout();
  fill(main, p.head, ...Object.values(p.sections));
  let view: RunView | null = null;
  const r = refresher(async () => {
    try {
      view = await getJson<RunView>(`/api/runs/${encodeURIComponent(id)}`);
    } catch (e) {
      const missing = e instanceof ApiFailure && e.status === 404;
      fill(main, h("h1", {}, id), errorBox((e as Error).message), missing ? h("p", {}, h("a", { href: "#/" }, "Back to the runs.")) : "");
      return;
    }
    await render(p, view);
  });
  p.slider.addEventListener("input", () => {
    if (!view) return;
    const i = Number(p.slider.value);
    p.headIndex = i >= view.heads.length - 1 ? null : i;
    void renderHeads(p, view);
  });
  const off = onRunEvent((e) => {
    if (e === null || e.id === id) r.trigger();
  });
  return () => {
    off();
    for (const c of Object.values(p.charts)) c.dispose();
  };
}

async function render(p: Parts, v: RunView): Promise<void> {
  renderHead(p.head, v);
  const { sections } = p;
  const jobs: Array<Promise<void>> = [...renderTraining(p, v)];
  // ---- best head's induction score
  sections.induction.hidden = !v.bestHead;
  if (v.bestHead) jobs.push(renderInduction(p, v, v.bestHead));
  // ---- loss by position at chosen checkpoints
  sections.position.hidden = v.positionLoss.length === 0;
  if (v.positionLoss.length > 0) jobs.push(renderPosition(p, v));
  // ---- head scores with a checkpoint slider
  sections.heads.hidden = v.heads.length === 0;
  if (v.heads.length > 0) jobs.push(renderHeads(p, v));
  // ---- ablation
  sections.ablation.hidden = !v.ablation;
  if (v.ablation) jobs.push(renderAblation(p, v));
  // ---- tasks
  const taskPoints = (v.tasks?.tasks ?? []).flatMap((t) =>
    t.shots.flatMap((k, i) => {
      const acc = t.accuracy[i];
      return acc === null || !Number.isFinite(acc) ? [] : [{ label: v.label, task: t.name, shots: k, accuracy: acc, chance: t.chance }];
    }),
  );
  sections.tasks.hidden = taskPoints.length === 0;
  if (taskPoints.length > 0) {
    p.notes.tasks.textContent = `Accuracy against the number of in-context examples at ${formatTokens(v.tasks!.tokens)} tokens; dashed: chance.`;
    jobs.push(p.charts.tasks.show(tasksChart({ points: taskPoints })));
  }
  await Promise.all(jobs);
}

/** The ICL score and the training loss, with the detected phase change and loss bump. */
function renderTraining(p: Parts, v: RunView): Array<Promise<void>> {
  const { charts, notes } = p;
  const jobs: Array<Promise<void>> = [];
  if (v.icl.length > 0) {
    const windows = v.phase.status === "found" ? [{ label: v.label, start: v.phase.start, end: v.phase.end }] : [];
    jobs.push(
      charts.icl.show(iclScoreChart({ points: v.icl.map((c) => ({ label: v.label, tokens: c.tokens, score: c.score, lo: c.lo, hi: c.hi })), windows })),
    );
    notes.icl.textContent = `${detectionText(v.phase, "Phase change", (x) => `a drop of ${formatNumber(x)} nats`)} Shaded: the detected window. The ICL score is loss@500 − loss@50 (nats; lower = more in-context learning).`;
  } else notes.icl.textContent = 'No ICL score stored yet (the run measures it at checkpoints when its config lists "icl").';
  if (v.trainLoss.length > 0) {
    const bumps =
      v.bump.status === "found" ? [{ label: v.label, start: v.bump.start, end: v.bump.end, peak: v.bump.peak ?? v.bump.start, height: v.bump.size }] : [];
    jobs.push(charts.trainLoss.show(trainLossChart({ points: v.trainLoss.map((q) => ({ label: v.label, tokens: q.tokens, loss: q.value })), bumps })));
    notes.trainLoss.textContent = `${detectionText(v.bump, "Loss bump", (x) => `${formatNumber(x, 4)} nats above the convex hull`)} Shaded: the non-convex stretch; dashed: its peak.`;
  } else notes.trainLoss.textContent = "No training loss stored yet.";
  return jobs;
}

/** The best head's induction score over training, with its detected rise. */
async function renderInduction(p: Parts, v: RunView, best: NonNullable<RunView["bestHead"]>): Promise<void> {
  const points = v.heads.flatMap((c) => {
    const s = c.heads.find((x) => x.layer === best.layer && x.head === best.head)?.induction;
    return s === undefined || s === null || !Number.isFinite(s) ? [] : [{ label: v.label, tokens: c.tokens, score: s, head: headName(best.layer, best.head) }];
  });
  const windows = v.inductionPhase.status === "found" ? [{ label: v.label, start: v.inductionPhase.start, end: v.inductionPhase.end }] : [];
  p.notes.induction.textContent = `${headName(best.layer, best.head)} is the best induction head at the last measurement (${formatNumber(best.induction)}). ${detectionText(v.inductionPhase, "Its rise", (x) => `a rise of ${formatNumber(x)}`)}`;
  await p.charts.induction.show(inductionScoreChart({ points, windows, title: `Induction score of ${headName(best.layer, best.head)}` }));
}

function renderHead(head: HTMLElement, v: RunView): void {
  const row = v.row;
  const last = v.icl[v.icl.length - 1];
  const facts: Array<[string, Node | string]> = [
    ["status", statusBadge(row)],
    ["experiment", row.experiment ?? "—"],
    ["model", row.model],
    ["data", row.data ?? "—"],
    ["seed", row.seed === null ? "—" : String(row.seed)],
    ["tokens", `${formatTokens(row.tokens)}${row.targetTokens ? ` of ${formatTokens(row.targetTokens)}` : ""} · ${v.checkpoints.length} checkpoint files`],
    [
      "ICL score (last)",
      last ? `${scoreText(last)} at ${formatTokens(last.tokens)} tokens · loss@50 ${formatNumber(last.loss50)} · loss@500 ${formatNumber(last.loss500)}` : "—",
    ],
    [
      "phase change",
      v.phase.status === "found"
        ? `${formatTokens(v.phase.start)}–${formatTokens(v.phase.end)} tokens (drop ${formatNumber(v.phase.size)} nats)`
        : "none detected",
    ],
    ["best induction head", v.bestHead ? `${headName(v.bestHead.layer, v.bestHead.head)}: ${formatNumber(v.bestHead.induction)}` : "—"],
  ];
  fill(
    head,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, v.label, v.label !== row.id ? h("small", { class: "muted" }, ` ${row.id}`) : ""),
      h(
        "div",
        { class: "controls" },
        v.hasAttention && v.checkpoints.length > 0
          ? h("a", { class: "button", id: "attention-link", href: `#/run/${encodeURIComponent(row.id)}/attention` }, "Attention view")
          : "",
        " ",
        v.report ? h("a", { class: "button", id: "report-link", href: v.report, target: "_blank", rel: "noopener" }, "Report") : "",
        " ",
        h("a", { class: "button", href: `#/compare?runs=${encodeURIComponent(row.id)}` }, "Compare…"),
      ),
    ),
    row.corrupt ? errorBox(`This run's stored record is corrupt: ${row.corrupt}`) : "",
    row.status === "failed" && row.error ? errorBox(`The run failed: ${row.error}`) : "",
    row.status === "stale"
      ? h("p", { class: "warn" }, "Marked running, but its process is gone (no heartbeat): resume it with `icl-lab train` and the same config.")
      : "",
    h(
      "dl",
      { class: "facts" },
      facts.flatMap(([k, val]) => [h("dt", {}, k), h("dd", { "data-fact": k }, val)]),
    ),
    h("details", {}, h("summary", {}, "config"), h("pre", {}, JSON.stringify(v.config, null, 2) ?? "null")),
  );
}

async function renderPosition(p: Parts, v: RunView): Promise<void> {
  const { chooser } = p;
  const all = v.positionLoss.map((q) => q.tokens);
  const auto = selectCheckpoints(all, { n: 5, include: v.phase.status === "found" ? [v.phase.start, v.phase.end] : [] });
  const picked = p.chosen ?? new Set(auto);
  fill(
    chooser,
    h("span", { class: "muted" }, "Checkpoints: "),
    all.map((t) => {
      const box = h("input", { type: "checkbox", value: t, checked: picked.has(t) });
      box.addEventListener("change", () => {
        p.chosen = new Set([...chooser.querySelectorAll<HTMLInputElement>("input:checked")].map((b) => Number(b.value)));
        void renderPosition(p, v);
      });
      return h("label", { class: "check" }, box, formatTokens(t));
    }),
  );
  const curves = v.positionLoss
    .filter((q) => picked.has(q.tokens))
    .map((q) => ({ series: `${formatTokens(q.tokens)} tokens`, order: q.tokens, loss: q.meanLoss }));
  p.notes.positionLoss.textContent =
    "Mean loss of each token against its position in the context (log axis); dashed: positions 50 and 500, the two ends of the ICL score. Tick checkpoints to compare them.";
  await p.charts.positionLoss.show(positionLossChart({ curves, seriesTitle: "checkpoint" }));
}

async function renderHeads(p: Parts, v: RunView): Promise<void> {
  const { slider, headIndex } = p;
  const n = v.heads.length;
  const index = headIndex === null ? n - 1 : Math.min(headIndex, n - 1);
  slider.max = String(n - 1);
  slider.value = String(index);
  slider.disabled = n < 2;
  const c = v.heads[index];
  p.sliderLabel.textContent = `${formatTokens(c.tokens)} tokens (${index + 1} of ${n})${headIndex === null ? " · follows new checkpoints" : ""}`;
  p.notes.heads.textContent =
    "Every head's induction, prefix-matching, previous-token and copying score (rows: layers, columns: heads). Induction heads score high on induction, prefix matching and copying.";
  await p.charts.heads.show(headScoresChart({ heads: c.heads, title: "Head scores" }));
}

async function renderAblation(p: Parts, v: RunView): Promise<void> {
  const a = v.ablation!;
  const sorted = [...a.heads].sort((p, q) => (q.zero?.delta ?? -Infinity) - (p.zero?.delta ?? -Infinity));
  const effect = (e: { delta: number; deltaLo: number; deltaHi: number } | undefined) =>
    e ? `${formatNumber(e.delta)} [${formatNumber(e.deltaLo, 2)}, ${formatNumber(e.deltaHi, 2)}]` : "—";
  fill(
    p.ablationTable,
    h(
      "table",
      { class: "ablation" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["head", "Δ ICL score, zeroed", "share of the ICL score", "Δ ICL score, pattern-preserving"].map((c) => h("th", {}, c)),
        ),
      ),
      h(
        "tbody",
        {},
        sorted.map((x) =>
          h(
            "tr",
            { "data-head": headName(x.layer, x.head), class: (x.zero?.delta ?? 0) > 0.1 ? "carrier" : "" },
            h("th", { scope: "row" }, headName(x.layer, x.head)),
            h("td", { class: "num" }, effect(x.zero)),
            h("td", { class: "num" }, x.zero?.share !== undefined && x.zero?.share !== null ? `${Math.round(100 * x.zero.share)}%` : "—"),
            h("td", { class: "num" }, effect(x.pattern)),
          ),
        ),
      ),
    ),
  );
  p.notes.ablation.textContent =
    `Change of the ICL score when each head's output is zeroed, at ${formatTokens(a.tokens)} tokens` +
    `${a.clean ? ` (clean score ${formatNumber(a.clean.score)})` : ""}; positive: the head carried in-context learning. Sorted by the zero-ablation effect; [interval]: paired bootstrap.`;
  const bars = a.heads.flatMap((x) =>
    (["zero", "pattern"] as const).flatMap((variant) => {
      const e = x[variant];
      return e ? [{ head: headName(x.layer, x.head), variant, delta: e.delta, lo: e.deltaLo, hi: e.deltaHi }] : [];
    }),
  );
  await p.charts.ablation.show(ablationChart({ bars }));
}
