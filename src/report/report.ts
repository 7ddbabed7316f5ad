/**
 * `renderReport({ lab, runIds | experiment, out })`: one self-contained HTML file (CSS inline,
 * every figure an inline SVG, each figure's Vega-Lite spec embedded as JSON beside it) plus every
 * figure as a PNG file in the same folder.
 *
 * The report reads stored results (data.ts) and derives what the store does not hold (phase
 * change, loss bump, PCA, Shin-table marks) at report time. One figure needs a model: the best
 * induction head's attention pattern is recomputed from the run's last checkpoint, through
 * attention.ts, imported only when that figure is drawn.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { RunStore, resolveLabDir, type RunInfo } from "../store/run-store.ts";
import { lossPcaTrajectories } from "../measure/pca.ts";
import {
  ablationChart, attentionChart, comparisonChart, headScoresChart, iclScoreChart, inductionScoreChart, pcaChart,
  positionLossChart, tasksChart, trainLossChart,
  type AblationBar, type ComparisonBar, type IclPoint, type InductionPoint, type PcaPoint, type TaskPoint, type TokenWindow,
} from "./charts.ts";
import {
  bestHead, headName, readRuns, selectCheckpoints, summarize, type RunData, type RunSummary,
} from "./data.ts";
import { findFont, renderSvg, svgToPng } from "./render.ts";
import {
  escapeHtml, formatNumber, formatTokens, htmlTable, shinTable, shinTableHtml, type ShinColumn, type ShinRow, type ShinTable,
} from "./tables.ts";
import type { TopLevelSpec } from "vega-lite";

/** A report target that does not exist, or options that do not make sense. */
export class ReportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportError";
  }
}

export interface RenderReportOptions {
  /** The lab folder (default $ICL_LAB_DIR or ./icl-lab-runs). */
  lab?: string;
  /** The runs to report on, in this order. Give these or `experiment`. */
  runIds?: readonly string[];
  /** Every run of this experiment, oldest first. */
  experiment?: string;
  /** Output folder (default <lab>/reports/<experiment or run id>); created if needed. */
  out?: string;
  /** Heading of the page (default from the target). */
  title?: string;
  /** Write PNG files (default true). */
  png?: boolean;
  /** Recompute the best induction head's attention pattern from the last checkpoint (default true). */
  attention?: boolean;
  /** Most runs drawn individually (loss by position, heatmaps, attention, ablation); default 6. */
  maxRunFigures?: number;
}

export interface ReportFigure {
  id: string;
  title: string;
  /** The PNG file, when written. */
  png: string | null;
  spec: TopLevelSpec;
}

export interface RenderedReport {
  /** The HTML file. */
  html: string;
  dir: string;
  figures: ReportFigure[];
  summaries: RunSummary[];
  /** The Shin-style comparison, when the report has two or more rows to compare. */
  comparison: ShinTable | null;
  /** What could not be drawn, and why. */
  notes: string[];
}

/**
 * The runs an ID names: a run id, else an experiment name, else a unique run-id prefix. Throws a
 * ReportError listing what the lab holds when it names nothing.
 */
export function resolveTarget(store: RunStore, id: string): { runIds: string[] } | { experiment: string } {
  if (store.getRun(id)) return { runIds: [id] };
  const all = store.listRuns();
  if (all.some((r) => r.experiment === id)) return { experiment: id };
  const prefixed = all.filter((r) => r.id.startsWith(id));
  if (prefixed.length === 1) return { runIds: [prefixed[0].id] };
  throw new ReportError(unknownTarget(id, all, store.labDir, prefixed.length));
}

function unknownTarget(id: string, all: readonly RunInfo[], lab: string, ambiguous: number): string {
  if (ambiguous > 1) return `'${id}' is the start of ${ambiguous} run ids in ${lab}; give the whole id`;
  if (all.length === 0) return `no run or experiment named '${id}': the lab ${lab} has no runs yet`;
  const experiments = [...new Set(all.map((r) => r.experiment).filter((e): e is string => e !== null))];
  const runs = all.slice(-8).map((r) => r.id);
  return `no run or experiment named '${id}' in ${lab}; experiments: ${experiments.length ? experiments.join(", ") : "(none)"}; ` +
    `runs: ${runs.join(", ")}${all.length > runs.length ? ` (and ${all.length - runs.length} more)` : ""}`;
}

interface Section {
  heading: string;
  html: string;
}

/** Writes the report; see the module comment. */
export async function renderReport(opts: RenderReportOptions): Promise<RenderedReport> {
  if ((opts.runIds === undefined) === (opts.experiment === undefined)) {
    throw new ReportError("renderReport: give either 'runIds' or 'experiment' (exactly one)");
  }
  const lab = resolveLabDir(opts.lab);
  if (!existsSync(join(lab, "lab.db"))) throw new ReportError(`no lab at ${lab} (no lab.db there)`);
  const store = RunStore.open(lab);
  let runs: RunData[];
  let target: string;
  try {
    let infos: RunInfo[];
    if (opts.experiment !== undefined) {
      infos = store.listRuns({ experiment: opts.experiment });
      if (infos.length === 0) throw new ReportError(unknownTarget(opts.experiment, store.listRuns(), lab, 0));
      target = opts.experiment;
    } else {
      if (opts.runIds!.length === 0) throw new ReportError("renderReport: 'runIds' is empty");
      infos = opts.runIds!.map((id) => {
        const info = store.getRun(id);
        if (!info) throw new ReportError(unknownTarget(id, store.listRuns(), lab, 0));
        return info;
      });
      target = opts.runIds!.length === 1 ? opts.runIds![0] : `${opts.runIds![0]}+${opts.runIds!.length - 1}`;
    }
    runs = readRuns(store, infos);
  } finally {
    store.close();
  }

  const dir = resolve(opts.out ?? join(lab, "reports", target));
  mkdirSync(dir, { recursive: true });
  const writePng = opts.png ?? true;
  const maxRuns = opts.maxRunFigures ?? 6;
  const figures: ReportFigure[] = [];
  const notes: string[] = [];
  const sections: Section[] = [];
  let figNo = 0;

  /** Renders one figure: inline SVG, PNG file, embedded spec and caption. */
  const figure = async (id: string, title: string, spec: TopLevelSpec, captionHtml: string): Promise<string> => {
    const { svg, warnings } = await renderSvg(spec);
    for (const w of warnings) notes.push(`${title}: Vega-Lite warned: ${w}`);
    let png: string | null = null;
    if (writePng) {
      png = join(dir, `${id}.png`);
      writeAtomic(png, await svgToPng(svg));
    }
    figures.push({ id, title, png, spec });
    figNo++;
    const specJson = JSON.stringify(spec).replace(/</g, "\\u003c");
    return `<figure id="fig-${escapeHtml(id)}">\n<div class="chart">${svg}</div>\n` +
      `<figcaption><b>Figure ${figNo}. ${escapeHtml(title)}.</b> ${captionHtml}` +
      `${png ? ` <a class="png" href="${escapeHtml(`${id}.png`)}">PNG</a>` : ""}</figcaption>\n` +
      `<script type="application/json" class="vega-lite-spec" data-figure="${escapeHtml(id)}">${specJson}</script>\n</figure>`;
  };

  const summaries = runs.map(summarize);
  const multi = runs.length > 1;
  const groups = groupRuns(runs);
  const seeds = [...groups.values()].some((g) => g.length > 1);

  // ---- ICL score -------------------------------------------------------------------------------
  {
    const withIcl = runs.filter((r) => r.icl.length > 0);
    if (withIcl.length === 0) notes.push("ICL score: no run stored `icl.score` (add \"icl\" to the config's measures).");
    else {
      const points: IclPoint[] = seeds ? groupMeanIcl(groups) : withIcl.flatMap((r) => r.icl.map((c) => ({ label: r.label, tokens: c.tokens, score: c.score, lo: c.lo, hi: c.hi })));
      const windows: TokenWindow[] = withIcl.flatMap((r) => (r.phase.status === "found" ? [{ label: seeds ? r.group : r.label, start: r.phase.start, end: r.phase.end }] : []));
      const conf = withIcl.find((r) => r.confidence !== null)?.confidence;
      const band = seeds ? "The band is the mean ± one standard deviation over seeds; each seed's detected window is shaded."
        : `The band is the ${conf ? `${Math.round(conf * 100)}% ` : ""}bootstrap interval over evaluation windows.`;
      const detected = withIcl.map((r) => r.phase.status === "found"
        ? `<b>${escapeHtml(r.label)}</b>: ${formatTokens(r.phase.start)}–${formatTokens(r.phase.end)} tokens, a drop of ${formatNumber(r.phase.size)} nats` +
          `${r.phase.shareInWindow !== null ? ` (${Math.round(100 * Math.min(1, r.phase.shareInWindow))}% of the whole change inside the window)` : ""}`
        : `<b>${escapeHtml(r.label)}</b>: none (${escapeHtml(r.phase.reason)})`).join("; ");
      sections.push({
        heading: "In-context learning over training",
        html: await figure("icl-score", "ICL score against training tokens", iclScoreChart({ points, windows }),
          "The ICL score is the loss of the 500th token of a context minus the loss of the 50th (nats; more negative means the model uses more context), " +
          `measured at each checkpoint on fixed held-out windows. ${band} Shaded: the phase change detected on the stored scores ` +
          "(where the smoothed curve passes 10% and 90% of its largest drop). " +
          `Detected: ${detected}. ` +
          "<i>Anchor</i> (Olsson et al. 2022): 2- and 3-layer attention-only models drop abruptly from |score| &lt; 0.15 to about −0.4 nats inside a narrow window early in training " +
          "(TransformerLens attn-only-2l: −0.088 at 187M tokens → −0.425 at 1.63B), and more than 75% of the final ICL forms inside the window; 1-layer models stay within ±0.12."),
      });
    }
  }

  // ---- ICL scores on other windows (e.g. the natural text alone, beside the demo's mixture) --------
  {
    const names = [...new Set(runs.flatMap((r) => Object.keys(r.extraIclSeries)))].sort();
    for (const name of names) {
      const withIt = runs.filter((r) => (r.extraIclSeries[name] ?? []).length > 0);
      const points: IclPoint[] = withIt.flatMap((r) => r.extraIclSeries[name].map((c) => ({ label: r.label, tokens: c.tokens, score: c.score, lo: c.lo, hi: c.hi })));
      const on = name === "icl@natural" ? "the natural text of the mixture alone (the runs' mixture without its synthetic ingredient)"
        : name === "icl@common" ? "the common evaluation set shared by every run" : `the held-out windows of ${escapeHtml(name.slice(4))}`;
      const last = withIt.map((r) => `<b>${escapeHtml(r.label)}</b> ${formatNumber(r.extraIcl[name])}`).join("; ");
      sections.push({
        heading: `ICL score on ${name === "icl@natural" ? "natural text alone" : escapeHtml(name.slice(4))}`,
        html: await figure(`icl-${name.slice(4).replace(/[^A-Za-z0-9_-]/g, "_")}`, `ICL score (${escapeHtml(name)}) against training tokens`,
          iclScoreChart({ points, title: `ICL score over training (${name})` }),
          `The same ICL score measured at each checkpoint on ${on}, with its bootstrap interval. Last values: ${last}. ` +
          (name === "icl@natural"
            ? "A labelled synthetic ingredient makes the circuit form within a laptop's budget; this curve shows what the models do on the natural text alone. " +
              "<i>Anchor</i> (Olsson et al. 2022): on natural text the induction heads bring the ICL score to about −0.4 nats, after 10⁸–10⁹ tokens."
            : "Compare it with the score on the run's own mixture above.")),
      });
    }
  }

  // ---- training loss -----------------------------------------------------------------------------
  {
    const withLoss = runs.filter((r) => r.trainLoss.length > 0);
    if (withLoss.length === 0) notes.push("Training loss: no run stored `train_loss`.");
    else {
      const points = withLoss.flatMap((r) => r.trainLoss.map((p) => ({ label: r.label, tokens: p.tokens, loss: p.value })));
      const bumps = withLoss.flatMap((r) => (r.bump.status === "found" ? [{ label: r.label, start: r.bump.start, end: r.bump.end, peak: r.bump.peak, height: r.bump.height }] : []));
      const detected = withLoss.map((r) => r.bump.status === "found"
        ? `<b>${escapeHtml(r.label)}</b>: ${formatTokens(r.bump.start)}–${formatTokens(r.bump.end)} tokens, peak at ${formatTokens(r.bump.peak)}, ${formatNumber(r.bump.height, 4)} nats above the convex hull`
        : `<b>${escapeHtml(r.label)}</b>: none (${escapeHtml(r.bump.reason)})`).join("; ");
      sections.push({
        heading: "Training loss and the loss bump",
        html: await figure("train-loss", "Training loss with the loss bump", trainLossChart({ points, bumps }),
          "Mean training loss over the steps before each checkpoint, against training tokens. Shaded: the loss bump, the stretch where the loss " +
          "against log tokens is not convex (it leaves its lower convex hull); dashed: the bump's peak. " +
          `Detected: ${detected}. ` +
          "<i>Anchor</i> (Olsson et al. 2022): the bump is the only non-convex stretch of the loss curve and coincides with the phase change and the formation of induction heads; " +
          "1-layer models show none."),
      });
    }
  }

  // ---- best head's induction score -----------------------------------------------------------------
  {
    const withHeads = runs.filter((r) => r.heads.length > 0 && r.heads[r.heads.length - 1].heads.length > 0);
    if (withHeads.length > 0) {
      const points: InductionPoint[] = withHeads.flatMap((r) => {
        const b = bestHead(r)!;
        return r.heads.map((c) => ({
          label: r.label, tokens: c.tokens, head: headName(b.layer, b.head),
          score: c.heads.find((h) => h.layer === b.layer && h.head === b.head)?.induction ?? NaN,
        })).filter((p) => Number.isFinite(p.score));
      });
      const windows: TokenWindow[] = withHeads.flatMap((r) => (r.inductionPhase.status === "found" ? [{ label: r.label, start: r.inductionPhase.start, end: r.inductionPhase.end }] : []));
      const detected = withHeads.map((r) => {
        const b = bestHead(r)!;
        const p = r.inductionPhase;
        return `<b>${escapeHtml(r.label)}</b> (${headName(b.layer, b.head)}): ` +
          (p.status === "found" ? `rise of ${formatNumber(p.size)} over ${formatTokens(p.start)}–${formatTokens(p.end)} tokens` : `no rise (${escapeHtml(p.reason)})`);
      }).join("; ");
      sections.push({
        heading: "Induction heads forming",
        html: await figure("induction-score", "Induction score of the best head", inductionScoreChart({ points, windows }),
          "For each run, the head with the highest induction score at the last checkpoint, followed back through training (mean attention from each token of the " +
          "second copy of a repeated random sequence to the token after its first occurrence; 1 is a perfect induction head). " +
          `Shaded: its detected rise. ${detected}. ` +
          "<i>Anchor</i> (Olsson et al. 2022): the 2-layer model's best head goes from 0.01 to 0.75 across the phase-change window; 1-layer heads stay ≤ 0.02."),
      });
    } else if (runs.some((r) => r.info.kind === "attn-only" || r.info.kind === "transformer")) {
      notes.push("Induction score and head heatmaps: no run stored `heads.heads` (add \"heads\" to the config's measures).");
    }
  }

  // ---- loss by position ----------------------------------------------------------------------------
  {
    const withPos = runs.filter((r) => r.positionLoss.length > 0);
    if (withPos.length === 0) notes.push("Loss by position: no run stored `positionLoss.meanLoss` (add \"positionLoss\" to the config's measures).");
    const parts: string[] = [];
    for (const r of withPos.slice(0, maxRuns)) {
      const include = r.phase.status === "found" ? [r.phase.start, r.phase.end] : [];
      const picked = selectCheckpoints(r.positionLoss.map((p) => p.tokens), { n: 5, include });
      const curves = r.positionLoss.filter((p) => picked.includes(p.tokens)).map((p) => ({ series: `${formatTokens(p.tokens)} tokens`, order: p.tokens, loss: p.meanLoss }));
      parts.push(await figure(`position-loss-${r.id}`, `Loss by position: ${r.label}`, positionLossChart({ curves, seriesTitle: "checkpoint" }),
        `Mean loss of each token against its position in the context (log axis), at ${picked.length} checkpoints of <b>${escapeHtml(r.label)}</b>` +
        `${include.length ? " (including those nearest the phase-change window's ends)" : ""}. Dashed: positions 50 and 500, the two ends of the ICL score. ` +
        "<i>Anchor</i> (Olsson et al. 2022): after the phase change, the loss of late tokens falls well below that of early ones; before it, the curve is nearly flat past the first few tokens."));
    }
    if (withPos.length > maxRuns) notes.push(`Loss by position: drawn for the first ${maxRuns} of ${withPos.length} runs; the comparison figure shows all of them.`);
    if (withPos.length > 1) {
      const curves = withPos.map((r, i) => ({ series: r.label, order: i, loss: r.positionLoss[r.positionLoss.length - 1].meanLoss }));
      parts.push(await figure("position-loss-final", "Loss by position at the last checkpoint, all runs", positionLossChart({ curves, seriesTitle: "run", sequential: false }),
        "Each run's mean loss by position at its last checkpoint. A model that uses its context keeps lowering its loss at later positions; one that does not flattens early. " +
        "<i>Anchor</i>: LSTMs' per-token loss flattens after about 100 tokens (Kaplan et al. 2020), and recurrent models develop little ICL (Chan et al. 2022)."));
    }
    if (parts.length) sections.push({ heading: "Loss by position in the context", html: parts.join("\n") });
  }

  // ---- head-score heatmaps and attention patterns ------------------------------------------------------
  {
    const withHeads = runs.filter((r) => r.heads.length > 0 && r.heads[r.heads.length - 1].heads.length > 0);
    const parts: string[] = [];
    for (const r of withHeads.slice(0, maxRuns)) {
      const last = r.heads[r.heads.length - 1];
      const b = bestHead(r)!;
      parts.push(await figure(`heads-${r.id}`, `Head scores: ${r.label}`, headScoresChart({ heads: last.heads }),
        `Every head's induction, prefix-matching, previous-token and copying score (rows: layers, columns: heads) at the last head measurement of <b>${escapeHtml(r.label)}</b> ` +
        `(${formatTokens(last.tokens)} tokens). Best induction head: ${headName(b.layer, b.head)} with ${formatNumber(b.induction)}. ` +
        "Copying is rescaled to [−1, 1] (1: the head raises the logit of the token it attends to). " +
        "<i>Anchor</i> (Olsson et al. 2022): induction heads score high on both prefix matching and copying; in 2-layer models they sit in layer 1 and read a previous-token head of layer 0."));
    }
    if (withHeads.length > maxRuns) notes.push(`Head scores: drawn for the first ${maxRuns} of ${withHeads.length} runs.`);
    if (parts.length) sections.push({ heading: "Head scores", html: parts.join("\n") });

    if (opts.attention ?? true) {
      const attnParts: string[] = [];
      const candidates = withHeads.filter((r) => r.lastCheckpoint !== null && r.config?.model);
      for (const r of withHeads) if (!r.lastCheckpoint) notes.push(`Attention pattern of ${r.label}: the run has no checkpoint file recorded.`);
      if (candidates.length > 0) {
        const { headPatternFromCheckpoint } = await import("./attention.ts");
        for (const r of candidates.slice(0, maxRuns)) {
          const b = bestHead(r)!;
          let hp;
          try {
            hp = headPatternFromCheckpoint(r.lastCheckpoint!.path, { model: r.config!.model, layer: b.layer, head: b.head, bos: r.bos, seed: r.config?.seed ?? 0 });
          } catch (e) {
            notes.push(`Attention pattern of ${r.label}: ${(e as Error).message}`);
            continue;
          }
          const half = Math.floor(hp.tokens.length / 2);
          attnParts.push(await figure(`attention-${r.id}`, `Attention of ${headName(b.layer, b.head)}: ${r.label}`,
            attentionChart({ pattern: hp.pattern, targets: hp.targets, tokens: hp.tokens.map(String) }),
            `Attention pattern of head ${headName(b.layer, b.head)} of <b>${escapeHtml(r.label)}</b>, its best induction head, on ${r.bos !== null ? "BOS and " : ""}` +
            `${half} random tokens repeated twice, recomputed from the checkpoint at ${formatTokens(hp.checkpointTokens)} tokens ` +
            `(rows: the attending token; columns: the token attended to; darker = more attention). Outlined: for each token of the second copy, the token that followed its ` +
            `first occurrence, where an induction head looks; on this sequence the head puts ${formatNumber(hp.score)} of its attention there. ` +
            "<i>Anchor</i> (Olsson et al. 2022): an induction head shows an off-diagonal stripe one position right of the earlier copy; a previous-token head shows the sub-diagonal."));
        }
      }
      if (attnParts.length) sections.push({ heading: "Attention of the best induction head", html: attnParts.join("\n") });
    }
  }

  // ---- per-token-loss PCA ---------------------------------------------------------------------------------
  {
    const withVec = runs.filter((r) => r.tokenLoss.length > 0);
    if (withVec.length > 0) {
      // PCA needs one length (the same evaluation windows): keep the runs of the commonest length.
      const byLen = new Map<number, RunData[]>();
      for (const r of withVec) {
        const len = r.tokenLoss[0].losses.length;
        byLen.set(len, [...(byLen.get(len) ?? []), r]);
      }
      const [len, chosen] = [...byLen.entries()].sort((a, b) => b[1].length - a[1].length)[0];
      for (const r of withVec) if (!chosen.includes(r)) notes.push(`Loss PCA: ${r.label} left out (its per-token-loss vectors have ${r.tokenLoss[0].losses.length} entries, the others ${len}).`);
      const vecRuns = chosen.map((r) => ({ run: r.label, checkpoints: r.tokenLoss.filter((c) => c.losses.length === len) }));
      if (vecRuns.reduce((s, r) => s + r.checkpoints.length, 0) >= 3) {
        const p = lossPcaTrajectories(vecRuns);
        const points: PcaPoint[] = p.trajectories.flatMap((t) => t.points.map((q) => ({ label: t.run, tokens: q.tokens, pc1: q.pc1, pc2: q.pc2 })));
        sections.push({
          heading: "Per-token-loss PCA",
          html: await figure("loss-pca", "Per-token-loss PCA trajectories", pcaChart({ points, explained: p.explained }),
            `Each checkpoint's vector of per-token losses (the loss at one fixed random position in each of ${len} evaluation windows), projected on the first two ` +
            "principal components of all checkpoints of all runs shown; points grow with training tokens. " +
            "<i>Anchor</i> (Olsson et al. 2022): the trajectories of models that form induction heads turn sharply during the phase change; 1-layer models' do not."),
        });
      } else notes.push("Loss PCA: fewer than 3 per-token-loss vectors stored.");
    }
  }

  // ---- ablation ---------------------------------------------------------------------------------------------
  {
    const parts: string[] = [];
    const withAbl = runs.filter((r) => r.ablation !== null && r.ablation.heads.length > 0);
    for (const r of withAbl.slice(0, maxRuns)) {
      const a = r.ablation!;
      const bars: AblationBar[] = a.heads.flatMap((h) => (["zero", "pattern"] as const).flatMap((v) => {
        const e = h[v];
        return e ? [{ head: headName(h.layer, h.head), variant: v, delta: e.delta, lo: e.deltaLo, hi: e.deltaHi }] : [];
      }));
      const top = [...a.heads].filter((h) => h.zero).sort((p, q) => q.zero!.delta - p.zero!.delta)[0];
      const topText = top?.zero ? ` Zeroing ${headName(top.layer, top.head)} changes the score most: by ${formatNumber(top.zero.delta)} nats` +
        `${top.zero.share !== null ? ` (${Math.round(100 * top.zero.share)}% of the clean score)` : ""}.` : "";
      parts.push(await figure(`ablation-${r.id}`, `Head ablation: ${r.label}`, ablationChart({ bars }),
        `Change of the ICL score of <b>${escapeHtml(r.label)}</b> (at ${formatTokens(a.tokens)} tokens${a.clean ? `, clean score ${formatNumber(a.clean.score)}` : ""}) when each head's output is zeroed ` +
        "(zero: later heads see the change; pattern: every attention pattern frozen from the clean run, so only the head's own output is removed). " +
        `Positive: the head carried in-context learning; error bars: paired bootstrap interval.${topText} ` +
        "<i>Anchor</i> (Olsson et al. 2022): in small attention-only models, ablating the induction heads removes almost all of the ICL score."));
    }
    if (withAbl.length > maxRuns) notes.push(`Head ablation: drawn for the first ${maxRuns} of ${withAbl.length} runs.`);
    if (parts.length) sections.push({ heading: "Head ablation", html: parts.join("\n") });
  }

  // ---- few-shot tasks -----------------------------------------------------------------------------------------
  {
    const withTasks = runs.filter((r) => r.tasks !== null && r.tasks.tasks.length > 0);
    if (withTasks.length > 0) {
      const points: TaskPoint[] = withTasks.flatMap((r) => r.tasks!.tasks.flatMap((t) => t.shots.flatMap((k, i) => {
        const acc = t.accuracy[i];
        return acc === null || !Number.isFinite(acc) ? [] : [{ label: r.label, task: t.name, shots: k, accuracy: acc, chance: t.chance }];
      })));
      if (points.length > 0) {
        sections.push({
          heading: "Few-shot tasks",
          html: await figure("tasks", "Few-shot accuracy against shots", tasksChart({ points }),
            "Accuracy of each task at the last checkpoint against the number of in-context examples (shots); dashed: chance. Rising accuracy with shots is in-context learning measured as Shin et al. did. " +
            "<i>Anchor</i> (Shin et al. 2022): few-shot accuracy depends heavily on the pretraining corpus, and lower perplexity does not always mean better few-shot accuracy."),
        });
      }
    }
  }

  // ---- comparison (Shin-style) ----------------------------------------------------------------------------------
  let comparison: ShinTable | null = null;
  if (groups.size > 1) {
    const { rows, columns } = comparisonRows(groups);
    if (columns.length > 0) {
      comparison = shinTable(rows, columns);
      const bars: ComparisonBar[] = comparison.rows.flatMap((r, i) => comparison!.columns.flatMap((c) => {
        const v = r.values[c.key];
        const mean = comparison!.means[c.key];
        if (v === null || v === undefined || !Number.isFinite(v) || mean === null) return [];
        const m = comparison!.marks[i][c.key];
        return [{ row: r.label, metric: c.label, value: v, better: c.better, mean, mark: m === "bold" ? "better" as const : m === "underline" ? "worse" as const : "mean" as const }];
      }));
      const tableHtml = shinTableHtml(comparison, { caption: "Bold: better than the column mean; underlined: worse (↑ higher is better, ↓ lower is better)." });
      sections.push({
        heading: "Comparison in the style of Shin et al.",
        html: `<div class="table-wrap">${tableHtml}</div>\n<p class="caption">Rows: ${seeds ? "configurations (runs differing only in seed are averaged; ± is the standard deviation)" : "runs"}; ` +
          "columns: the last checkpoint's ICL score, loss@50 and loss@500, evaluation perplexity (exp of the mean loss over positions), the best head's induction score, " +
          "and few-shot accuracies at the most shots measured. Presentation after Shin et al. (2022): bold above the column average, underlined below, " +
          "here with the direction of “better” per metric. <i>Anchor</i> (Shin et al. 2022): ICL depends heavily on the corpus's domain; some corpora give no ICL alone " +
          "but do in combination; more data helps up to a point; lower perplexity does not always mean better ICL.</p>\n" +
          await figure("comparison", "Comparison as bars", comparisonChart({ bars }),
            "The table above as bar charts, one per metric: blue bars are better than the column mean (bold in the table), orange ones worse (underlined); the dashed rule is the mean."),
      });
    }
  }

  // ---- the page ------------------------------------------------------------------------------------------------------
  const title = opts.title ?? (opts.experiment !== undefined ? `icl-lab report: experiment ${opts.experiment}` : `icl-lab report: ${runs.map((r) => r.id).join(", ")}`);
  const html = page({ title, lab, runs, summaries, sections, notes, font: writePng ? findFont().source : null });
  const htmlPath = join(dir, "report.html");
  writeAtomic(htmlPath, html);
  return { html: htmlPath, dir, figures, summaries, comparison, notes };
}

// ---- groups and comparison rows ---------------------------------------------------------------------------------------

function groupRuns(runs: readonly RunData[]): Map<string, RunData[]> {
  const m = new Map<string, RunData[]>();
  for (const r of runs) m.set(r.group, [...(m.get(r.group) ?? []), r]);
  return m;
}

function meanSd(xs: readonly number[]): { mean: number; sd: number | null } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : null;
  return { mean, sd };
}

/** Per group, the mean ICL score (± sd) at every token count all its runs measured. */
function groupMeanIcl(groups: Map<string, RunData[]>): IclPoint[] {
  const out: IclPoint[] = [];
  for (const [label, rs] of groups) {
    const withIcl = rs.filter((r) => r.icl.length > 0);
    if (withIcl.length === 0) continue;
    const tokens = withIcl[0].icl.map((c) => c.tokens).filter((t) => withIcl.every((r) => r.icl.some((c) => c.tokens === t)));
    for (const t of tokens) {
      const { mean, sd } = meanSd(withIcl.map((r) => r.icl.find((c) => c.tokens === t)!.score));
      out.push({ label, tokens: t, score: mean, lo: sd === null ? null : mean - sd, hi: sd === null ? null : mean + sd });
    }
  }
  return out;
}

/** Metrics of a run for the comparison table, by column key. */
function runMetrics(r: RunData): Record<string, number | null> {
  const last = r.icl[r.icl.length - 1];
  const pos = r.positionLoss[r.positionLoss.length - 1];
  const meanLoss = pos ? pos.meanLoss.reduce((a, b) => a + b, 0) / pos.meanLoss.length : null;
  const b = bestHead(r);
  const out: Record<string, number | null> = {
    icl: last?.score ?? null,
    loss50: last?.loss50 ?? null,
    loss500: last?.loss500 ?? null,
    perplexity: meanLoss !== null && Number.isFinite(meanLoss) ? Math.exp(meanLoss) : null,
    induction: b?.induction ?? null,
  };
  for (const [measure, v] of Object.entries(r.extraIcl)) out[`extra:${measure}`] = v;
  for (const t of r.tasks?.tasks ?? []) {
    // The most shots that fit the context.
    for (let i = t.shots.length - 1; i >= 0; i--) {
      const acc = t.accuracy[i];
      if (acc !== null && Number.isFinite(acc)) {
        out[`task:${t.name}:${t.shots[i]}`] = acc;
        break;
      }
    }
  }
  return out;
}

const BASE_COLUMNS: ShinColumn[] = [
  { key: "icl", label: "ICL score", better: "lower", description: "loss@500 − loss@50 at the last checkpoint (nats)" },
  { key: "loss50", label: "loss@50", better: "lower", description: "mean loss of the 50th token (nats)" },
  { key: "loss500", label: "loss@500", better: "lower", description: "mean loss of the 500th token (nats)" },
  { key: "perplexity", label: "perplexity", better: "lower", digits: 2, description: "exp of the mean evaluation loss over all positions" },
  { key: "induction", label: "best induction score", better: "higher", description: "induction score of the best head" },
];

/** The comparison table's rows (one per group, means over its runs) and the columns any row has. */
export function comparisonRows(groups: Map<string, RunData[]>): { rows: ShinRow[]; columns: ShinColumn[] } {
  const perGroup = [...groups.entries()].map(([label, rs]) => ({ label, metrics: rs.map(runMetrics) }));
  const keys = (prefix: string) => [...new Set(perGroup.flatMap((g) => g.metrics.flatMap((m) => Object.keys(m).filter((k) => k.startsWith(prefix)))))].sort();
  const taskKeys = keys("task:");
  const columns: ShinColumn[] = [
    ...BASE_COLUMNS,
    ...keys("extra:").map((k) => {
      const measure = k.slice("extra:".length);
      return { key: k, label: `ICL score (${measure})`, better: "lower" as const, description: `the last checkpoint's ${measure}.score (nats)` };
    }),
    ...taskKeys.map((k) => {
      const [, name, shots] = k.split(":");
      return { key: k, label: `${name} ${shots}-shot`, better: "higher" as const, description: `few-shot accuracy on the ${name} task with ${shots} examples` };
    }),
  ].filter((c) => perGroup.some((g) => g.metrics.some((m) => m[c.key] !== null && m[c.key] !== undefined && Number.isFinite(m[c.key]!))));
  const rows: ShinRow[] = perGroup.map((g) => {
    const values: Record<string, number | null> = {}, sd: Record<string, number | null> = {};
    for (const c of columns) {
      const xs = g.metrics.map((m) => m[c.key]).filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v));
      if (xs.length === 0) {
        values[c.key] = null;
        sd[c.key] = null;
      } else {
        const s = meanSd(xs);
        values[c.key] = s.mean;
        sd[c.key] = s.sd;
      }
    }
    return { label: g.label, values, sd, n: g.metrics.length };
  });
  return { rows, columns };
}

// ---- HTML ------------------------------------------------------------------------------------------------------------

const CSS = `
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #666; font-size: .9rem; }
table { border-collapse: collapse; font-size: .88rem; margin: .8rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #999; } tfoot th, tfoot td { border-top: 2px solid #999; color: #555; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.table-wrap { overflow-x: auto; }
table.shin strong { font-weight: 700; } table.shin u { text-decoration-thickness: 1.5px; }
.sd { color: #777; font-size: .8em; }
figure { margin: 1.5rem 0; } .chart { overflow-x: auto; } .chart svg { max-width: 100%; height: auto; }
figcaption, p.caption { font-size: .9rem; color: #333; max-width: 900px; }
a.png { font-size: .8rem; margin-left: .3rem; }
ul.notes { font-size: .88rem; color: #555; }
details { font-size: .85rem; margin: .3rem 0; } pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; }
small.id { color: #888; }
`;

function page(p: { title: string; lab: string; runs: RunData[]; summaries: RunSummary[]; sections: Section[]; notes: string[]; font: string | null }): string {
  const summaryRows = p.summaries.map((s) => [
    s.label,
    s.model,
    `${formatTokens(s.tokens)} (${s.status})`,
    s.score === null ? "—" : `${formatNumber(s.score)}${s.lo !== null && s.hi !== null ? ` [${formatNumber(s.lo)}, ${formatNumber(s.hi)}]` : ""}`,
    s.window ? `${formatTokens(s.window.start)}–${formatTokens(s.window.end)}` : "none",
    s.bestHead ? `${headName(s.bestHead.layer, s.bestHead.head)}: ${formatNumber(s.bestHead.induction)}` : "—",
    formatNumber(s.loss50),
    formatNumber(s.loss500),
  ]);
  const summary = htmlTable(
    ["run", "model", "tokens", "final ICL score [interval]", "phase-change window (tokens)", "best induction head", "loss@50", "loss@500"],
    summaryRows,
    { className: "summary", numeric: [false, false, true, true, true, true, true, true] },
  );
  const runList = p.runs.map((r) =>
    `<details><summary>${escapeHtml(r.label)} <small class="id">${escapeHtml(r.id)}${r.info.experiment ? ` · experiment ${escapeHtml(r.info.experiment)}` : ""}</small></summary>` +
    `<pre>${escapeHtml(JSON.stringify(r.info.config, null, 2) ?? "null")}</pre></details>`).join("\n");
  const notes = p.notes.length ? `<h2>Not shown</h2>\n<ul class="notes">${p.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>` : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(p.title)}</h1>
<p class="meta">Generated ${escapeHtml(new Date().toISOString())} from the lab ${escapeHtml(p.lab)}; ${p.runs.length} run${p.runs.length === 1 ? "" : "s"}.</p>
<h2>Summary</h2>
<div class="table-wrap">${summary}</div>
<p class="caption">Final ICL score: the last checkpoint's loss@500 − loss@50 (nats) with its bootstrap interval; the phase-change window is detected on the stored ICL-score
series (none: no drop larger than 0.15 nats and three times the noise); the best induction head is the head with the highest induction score at the last head measurement.</p>
${p.sections.map((s) => `<section>\n<h2>${escapeHtml(s.heading)}</h2>\n${s.html}\n</section>`).join("\n")}
${notes}
<h2>Runs</h2>
${runList}
<p class="meta">Charts: Vega-Lite specs (embedded beside each figure) rendered to SVG by Vega${p.font ? `; PNG files by resvg with ${escapeHtml(p.font)}` : ""}.</p>
</body>
</html>
`;
}

function writeAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
