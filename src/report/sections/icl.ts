/**
 * Report sections on the ICL score: its curve over training (mean ± sd over seeds, or each run with
 * its bootstrap interval) with the detected phase change, and the same score on other windows
 * (`icl@natural`, `icl@common`, `icl@SOURCE`).
 */
import { iclScoreChart, type IclPoint, type TokenWindow } from "../charts.ts";
import { ICL_COMMON, ICL_NATURAL, METRIC, iclAtLabel } from "../../measure/names.ts";
import type { RunData } from "../data.ts";
import { meanSd } from "../summary.ts";
import { escapeHtml, formatNumber, formatTokens } from "../tables.ts";

import { detectedList } from "./detected.ts";
import type { Section, SectionContext } from "./types.ts";

/** "In-context learning over training": the ICL score against tokens, with the detected phase change. */
export async function iclSection(ctx: SectionContext): Promise<Section[]> {
  const { runs, notes, figure, groups, seeds } = ctx;
  const sections: Section[] = [];
  const withIcl = runs.filter((r) => r.icl.length > 0);
  if (withIcl.length === 0) notes.push(`ICL score: no run stored \`${METRIC.iclScore}\` (add "icl" to the config's measures).`);
  else {
    const points: IclPoint[] = seeds
      ? groupMeanIcl(groups)
      : withIcl.flatMap((r) => r.icl.map((c) => ({ label: r.label, tokens: c.tokens, score: c.score, lo: c.lo, hi: c.hi })));
    const windows: TokenWindow[] = withIcl.flatMap((r) =>
      r.phase.status === "found" ? [{ label: seeds ? r.group : r.label, start: r.phase.start, end: r.phase.end }] : [],
    );
    const conf = withIcl.find((r) => r.confidence !== null)?.confidence;
    const band = seeds
      ? "The band is the mean ± one standard deviation over seeds; each seed's detected window is shaded."
      : `The band is the ${conf ? `${Math.round(conf * 100)}% ` : ""}bootstrap interval over evaluation windows.`;
    const detected = detectedList(
      withIcl,
      (r) => r.phase,
      (p) =>
        `${formatTokens(p.start)}–${formatTokens(p.end)} tokens, a drop of ${formatNumber(p.size)} nats` +
        `${p.shareInWindow !== null ? ` (${Math.round(100 * Math.min(1, p.shareInWindow))}% of the whole change inside the window)` : ""}`,
    );
    sections.push({
      heading: "In-context learning over training",
      html: await figure(
        "icl-score",
        "ICL score against training tokens",
        iclScoreChart({ points, windows }),
        "The ICL score is the loss of the 500th token of a context minus the loss of the 50th (nats; more negative means the model uses more context), " +
          `measured at each checkpoint on fixed held-out windows. ${band} Shaded: the phase change detected on the stored scores ` +
          "(where the smoothed curve passes 10% and 90% of its largest drop). " +
          `Detected: ${detected}. ` +
          "<i>Anchor</i> (Olsson et al. 2022): 2- and 3-layer attention-only models drop abruptly from |score| &lt; 0.15 to about −0.4 nats inside a narrow window early in training " +
          "(TransformerLens attn-only-2l: −0.088 at 187M tokens → −0.425 at 1.63B), and more than 75% of the final ICL forms inside the window; 1-layer models stay within ±0.12.",
      ),
    });
  }
  return sections;
}

/** One section per further ICL score (e.g. the natural text alone, beside the demo's mixture). */
export async function otherIclSections(ctx: SectionContext): Promise<Section[]> {
  const { runs, figure } = ctx;
  const sections: Section[] = [];
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.extraIclSeries)))].sort();
  for (const name of names) {
    const withIt = runs.filter((r) => (r.extraIclSeries[name] ?? []).length > 0);
    const points: IclPoint[] = withIt.flatMap((r) =>
      r.extraIclSeries[name].map((c) => ({ label: r.label, tokens: c.tokens, score: c.score, lo: c.lo, hi: c.hi })),
    );
    const on =
      name === ICL_NATURAL
        ? "the natural text of the mixture alone (the runs' mixture without its synthetic ingredient)"
        : name === ICL_COMMON
          ? "the common evaluation set shared by every run"
          : `the held-out windows of ${escapeHtml(iclAtLabel(name))}`;
    const last = withIt.map((r) => `<b>${escapeHtml(r.label)}</b> ${formatNumber(r.extraIcl[name])}`).join("; ");
    sections.push({
      heading: `ICL score on ${name === ICL_NATURAL ? "natural text alone" : escapeHtml(iclAtLabel(name))}`,
      html: await figure(
        `icl-${iclAtLabel(name).replace(/[^A-Za-z0-9_-]/g, "_")}`,
        `ICL score (${escapeHtml(name)}) against training tokens`,
        iclScoreChart({ points, title: `ICL score over training (${name})` }),
        `The same ICL score measured at each checkpoint on ${on}, with its bootstrap interval. Last values: ${last}. ` +
          (name === ICL_NATURAL
            ? "A labelled synthetic ingredient makes the circuit form within a laptop's budget; this curve shows what the models do on the natural text alone. " +
              "<i>Anchor</i> (Olsson et al. 2022): on natural text the induction heads bring the ICL score to about −0.4 nats, after 10⁸–10⁹ tokens."
            : "Compare it with the score on the run's own mixture above."),
      ),
    });
  }
  return sections;
}

/** Per group, the mean ICL score (± sd) at every token count all its runs measured. */
export function groupMeanIcl(groups: Map<string, RunData[]>): IclPoint[] {
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
