/**
 * The attention view (after CircuitsVis): the tokens of a text or of a repeated random sequence;
 * hovering a token shows, for every head, where it attends from that token (one small strip per
 * head, darker = more attention), and shades the tokens by the focused head's attention. Heads
 * that behave as induction heads (on this sequence, or by the run's stored scores) are outlined;
 * click a head to focus it and see its whole pattern, the induction targets outlined.
 */
import { attentionChart } from "../../../report/charts.ts";
import type { AttentionView, RunView } from "../../types.ts";
import { getJson } from "../api.ts";
import type { Dispose } from "../route.ts";
import { LiveChart } from "../chart.ts";
import { fill, h } from "../dom.ts";
import { errorBox, formatNumber, formatTokens, headName } from "./common.ts";

/** Background of a cell for attention weight w in [0, 1]. */
function shade(w: number): string {
  const a = Math.max(0, Math.min(1, w));
  return `rgba(31, 119, 180, ${(0.08 + 0.92 * Math.sqrt(a)).toFixed(3)})`;
}

export function attentionPage(main: HTMLElement, id: string, query: URLSearchParams): Dispose {
  document.title = `attention · ${id} · icl-lab`;
  const form = h("form", { id: "attention-form", class: "controls" });
  const status = h("p", { class: "muted", id: "attention-status" }, "Computing the attention patterns…");
  const body = h("div", { id: "attention-body" });
  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Attention ", h("small", { class: "muted" }, id)),
      h("a", { class: "button", href: `#/run/${encodeURIComponent(id)}` }, "← run"),
    ),
    form,
    status,
    body,
  );
  const chart = new LiveChart(h("div"), "attention");
  let disposed = false;

  void (async () => {
    let run: RunView;
    try {
      run = await getJson<RunView>(`/api/runs/${encodeURIComponent(id)}`);
    } catch (e) {
      fill(status, errorBox((e as Error).message));
      return;
    }
    renderForm(form, id, query, run);
    const params = new URLSearchParams();
    for (const k of ["checkpoint", "text", "length", "seed"]) {
      const v = query.get(k);
      if (v !== null && v !== "") params.set(k, v);
    }
    let data: AttentionView;
    try {
      data = await getJson<AttentionView>(`/api/runs/${encodeURIComponent(id)}/attention?${params}`);
    } catch (e) {
      fill(status, errorBox((e as Error).message));
      return;
    }
    if (!disposed) show(data, { status, body, chart });
  })();

  return () => {
    disposed = true;
    chart.dispose();
  };
}

/** The form that chooses the checkpoint and the sequence; submitting it navigates to the same page with new query parameters. */
function renderForm(form: HTMLFormElement, id: string, query: URLSearchParams, run: RunView): void {
  const mode = query.get("text") ? "text" : "repeated";
  const checkpoint = h(
    "select",
    { name: "checkpoint", "aria-label": "checkpoint" },
    [...run.checkpoints]
      .reverse()
      .map((c) => h("option", { value: c.tokens, selected: String(c.tokens) === query.get("checkpoint") }, `${formatTokens(c.tokens)} tokens`)),
  );
  const repeated = h("input", { type: "radio", name: "mode", value: "repeated", checked: mode === "repeated" });
  const text = h("input", { type: "radio", name: "mode", value: "text", checked: mode === "text" });
  const length = h("input", { type: "number", name: "length", min: 2, max: 60, value: query.get("length") ?? "20", "aria-label": "segment length" });
  // Empty: the run's own measurement seed (the sequence its induction scores start from).
  const seed = h("input", { type: "number", name: "seed", min: 0, value: query.get("seed") ?? "", placeholder: "the run's", "aria-label": "seed" });
  const textarea = h("textarea", { name: "text", rows: 2, cols: 60, placeholder: "a text, encoded with the run's tokenizer" }, query.get("text") ?? "");
  fill(
    form,
    h("label", {}, "Checkpoint ", checkpoint),
    " ",
    h("label", {}, repeated, " repeated random sequence, length ", length, " seed ", seed),
    " ",
    h("label", {}, text, " text "),
    textarea,
    " ",
    h("button", { type: "submit" }, "Show"),
  );
  form.onsubmit = (e) => {
    e.preventDefault();
    const p = new URLSearchParams({ checkpoint: checkpoint.value });
    if (text.checked && textarea.value.trim() !== "") p.set("text", textarea.value);
    else {
      p.set("length", length.value);
      if (seed.value !== "") p.set("seed", seed.value);
    }
    location.hash = `#/run/${encodeURIComponent(id)}/attention?${p}`;
  };
}

type HeadRef = { layer: number; head: number };

/** The run's stored induction score of a head, or null. */
function storedScore(a: AttentionView, l: number, hd: number): number | null {
  return a.stored?.heads.find((x) => x.layer === l && x.head === hd)?.induction ?? null;
}

/** The head focused first: the strongest induction head on this sequence, else by the stored scores, else the first head. */
function initialFocus(a: AttentionView): HeadRef {
  let focus = { layer: 0, head: 0 };
  let bestScore = -Infinity;
  a.sequenceScores.forEach((row, l) =>
    row.forEach((s, hd) => {
      const score = s ?? storedScore(a, l, hd) ?? -1;
      if (score > bestScore) {
        bestScore = score;
        focus = { layer: l, head: hd };
      }
    }),
  );
  return focus;
}

/** One card per head (its name, scores and attention strip), in a grid of layers × heads. */
function headCards(a: AttentionView, onFocus: (f: HeadRef) => void): { grid: HTMLElement; cards: HTMLElement[]; strips: Map<string, HTMLElement[]> } {
  const T = a.tokens.length;
  const induction = new Set(a.inductionHeads);
  const strips = new Map<string, HTMLElement[]>();
  const cards: HTMLElement[] = [];
  const grid = h("div", { class: "heads-grid", style: `grid-template-columns: repeat(${a.nHeads}, minmax(0, 1fr))` });
  for (let l = 0; l < a.nLayers; l++) {
    for (let hd = 0; hd < a.nHeads; hd++) {
      const name = headName(l, hd);
      const cells = Array.from({ length: T }, () => h("span", { class: "cell" }));
      strips.set(name, cells);
      const seq = a.sequenceScores[l][hd];
      const stored = storedScore(a, l, hd);
      const card = h(
        "button",
        { type: "button", class: `head-card${induction.has(name) ? " induction" : ""}`, "data-head": name, title: `focus ${name}` },
        h("span", { class: "head-name" }, name, induction.has(name) ? h("span", { class: "tag" }, "induction") : ""),
        h(
          "span",
          { class: "head-scores muted" },
          seq !== null ? `on this sequence ${formatNumber(seq, 2)}` : "",
          seq !== null && stored !== null ? " · " : "",
          stored !== null ? `stored ${formatNumber(stored, 2)}` : "",
        ),
        h("span", { class: "strip" }, cells),
      );
      card.addEventListener("click", () => onFocus({ layer: l, head: hd }));
      cards.push(card);
      grid.append(card);
    }
  }
  return { grid, cards, strips };
}

/** What `update` redraws: the tokens, the head cards and strips, the query line and the focused head's chart. */
interface ShownView {
  a: AttentionView;
  tokenEls: HTMLElement[];
  queryInfo: HTMLElement;
  cards: HTMLElement[];
  strips: Map<string, HTMLElement[]>;
  chart: LiveChart;
  focus: HeadRef;
  queryPos: number | null;
}

function show(a: AttentionView, el: { status: HTMLElement; body: HTMLElement; chart: LiveChart }): void {
  const T = a.tokens.length;
  fill(
    el.status,
    `${a.source === "text" ? "Text" : "Repeated random sequence"} of ${T} tokens at the checkpoint of ${formatTokens(a.checkpoint)} tokens. `,
    "Hover a token to see where each head attends from it; click a head to focus it.",
    a.notes.length ? h("span", { class: "warn" }, ` ${a.notes.join("; ")}.`) : "",
  );
  const tokenEls = a.labels.map((label, i) => {
    const t = h("span", { class: "tok", "data-i": i, title: `position ${i} · id ${a.tokens[i]}` }, label);
    t.addEventListener("mouseenter", () => {
      v.queryPos = i;
      update(v);
    });
    return t;
  });
  const queryInfo = h("p", { id: "attention-query", class: "muted" }, "No token hovered.");
  const { grid, cards, strips } = headCards(a, (f) => {
    v.focus = f;
    update(v);
  });
  const v: ShownView = { a, tokenEls, queryInfo, cards, strips, chart: el.chart, focus: initialFocus(a), queryPos: null };
  fill(
    el.body,
    h("div", { class: "tokens", id: "tokens" }, tokenEls),
    queryInfo,
    h("h2", {}, "Heads"),
    h(
      "p",
      { class: "muted" },
      `Outlined: induction heads (score ≥ 0.3 on this sequence or in the run's stored head scores${a.stored ? ` at ${formatTokens(a.stored.tokens)} tokens` : ""}).`,
    ),
    grid,
    h("h2", { id: "focus-title" }),
    el.chart.el,
  );
  update(v);
}

function update(v: ShownView): void {
  const { a, focus } = v;
  const T = a.tokens.length;
  const fname = headName(focus.layer, focus.head);
  for (const c of v.cards) c.classList.toggle("focus", c.dataset.head === fname);
  const fpat = a.patterns[focus.layer][focus.head];
  if (v.queryPos !== null) showQuery(v, v.queryPos, fname, fpat);
  const title = document.getElementById("focus-title");
  if (title) title.textContent = `Pattern of ${fname}`;
  void v.chart.show(
    attentionChart({
      pattern: fpat.map((row) => [...row, ...new Array<number>(T - row.length).fill(0)]),
      targets: a.targets,
      tokens: a.labels,
      title: `${fname}: attention from each token (rows) to earlier tokens (columns)`,
    }),
  );
}

/** Shades the tokens by the focused head's attention from token q, and every head's strip by its own. */
function showQuery(v: ShownView, q: number, fname: string, fpat: number[][]): void {
  const { a, tokenEls, queryInfo } = v;
  const row = fpat[q];
  let top = 0;
  for (let k = 0; k <= q; k++) if (row[k] > row[top]) top = k;
  tokenEls.forEach((el, k) => {
    el.classList.toggle("query", k === q);
    el.classList.toggle("top", k === top);
    if (k <= q) {
      el.style.background = shade(row[k]);
      el.dataset.w = String(row[k]);
    } else {
      el.style.background = "";
      delete el.dataset.w;
    }
  });
  const target = a.targets.find((t) => t.query === q);
  queryInfo.textContent =
    `From token ${q} “${a.labels[q]}”: ${fname} attends most to token ${top} “${a.labels[top]}” (${formatNumber(row[top], 2)})` +
    (target
      ? `; an induction head would attend to token ${target.key} “${a.labels[target.key]}” (${fname} gives it ${formatNumber(row[target.key], 2)}).`
      : ".");
  queryInfo.dataset.query = String(q);
  queryInfo.dataset.top = String(top);
  for (let l = 0; l < a.nLayers; l++) {
    for (let hd = 0; hd < a.nHeads; hd++) {
      const r = a.patterns[l][hd][q];
      v.strips.get(headName(l, hd))!.forEach((cell, k) => {
        cell.style.background = k <= q ? shade(r[k]) : "";
        if (k <= q) cell.dataset.w = String(r[k]);
        else delete cell.dataset.w;
      });
    }
  }
}
