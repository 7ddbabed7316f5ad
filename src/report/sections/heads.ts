/**
 * Report sections on attention heads: the best head's induction score over training with its
 * detected rise, and every head's scores at the last head measurement.
 */
import { headScoresChart, inductionScoreChart, type InductionPoint, type TokenWindow } from "../charts.ts";
import { headName } from "../data.ts";
import { bestHead } from "../summary.ts";
import { escapeHtml, formatNumber, formatTokens } from "../tables.ts";
import { RECORD } from "../../measure/names.ts";
import type { Section, SectionContext } from "./types.ts";

/** Runs whose last head measurement has heads. */
export const withHeadScores = (ctx: SectionContext) => ctx.runs.filter((r) => r.heads.length > 0 && r.heads[r.heads.length - 1].heads.length > 0);

/** "Induction heads forming": the best head's induction score, followed back through training. */
export async function inductionSection(ctx: SectionContext): Promise<Section[]> {
  const { runs, notes, figure } = ctx;
  const sections: Section[] = [];
  const withHeads = withHeadScores(ctx);
  if (withHeads.length > 0) {
    const points: InductionPoint[] = withHeads.flatMap((r) => {
      const b = bestHead(r)!;
      return r.heads
        .map((c) => ({
          label: r.label,
          tokens: c.tokens,
          head: headName(b.layer, b.head),
          score: c.heads.find((h) => h.layer === b.layer && h.head === b.head)?.induction ?? NaN,
        }))
        .filter((p) => Number.isFinite(p.score));
    });
    const windows: TokenWindow[] = withHeads.flatMap((r) =>
      r.inductionPhase.status === "found" ? [{ label: r.label, start: r.inductionPhase.start, end: r.inductionPhase.end }] : [],
    );
    const detected = withHeads
      .map((r) => {
        const b = bestHead(r)!;
        const p = r.inductionPhase;
        return (
          `<b>${escapeHtml(r.label)}</b> (${headName(b.layer, b.head)}): ` +
          (p.status === "found"
            ? `rise of ${formatNumber(p.size)} over ${formatTokens(p.start)}–${formatTokens(p.end)} tokens`
            : `no rise (${escapeHtml(p.reason)})`)
        );
      })
      .join("; ");
    sections.push({
      heading: "Induction heads forming",
      html: await figure(
        "induction-score",
        "Induction score of the best head",
        inductionScoreChart({ points, windows }),
        "For each run, the head with the highest induction score at the last checkpoint, followed back through training (mean attention from each token of the " +
          "second copy of a repeated random sequence to the token after its first occurrence; 1 is a perfect induction head). " +
          `Shaded: its detected rise. ${detected}. ` +
          "<i>Anchor</i> (Olsson et al. 2022): the 2-layer model's best head goes from 0.01 to 0.75 across the phase-change window; 1-layer heads stay ≤ 0.02.",
      ),
    });
  } else if (runs.some((r) => r.info.kind === "attn-only" || r.info.kind === "transformer")) {
    notes.push(`Induction score and head heatmaps: no run stored \`${RECORD.heads}\` (add "heads" to the config's measures).`);
  }
  return sections;
}

/** "Head scores": heatmaps of every head's scores at the last head measurement. */
export async function headScoresSection(ctx: SectionContext): Promise<Section[]> {
  const { notes, figure, maxRuns } = ctx;
  const sections: Section[] = [];
  const withHeads = withHeadScores(ctx);
  const parts: string[] = [];
  for (const r of withHeads.slice(0, maxRuns)) {
    const last = r.heads[r.heads.length - 1];
    const b = bestHead(r)!;
    parts.push(
      await figure(
        `heads-${r.id}`,
        `Head scores: ${r.label}`,
        headScoresChart({ heads: last.heads }),
        `Every head's induction, prefix-matching, previous-token and copying score (rows: layers, columns: heads) at the last head measurement of <b>${escapeHtml(r.label)}</b> ` +
          `(${formatTokens(last.tokens)} tokens). Best induction head: ${headName(b.layer, b.head)} with ${formatNumber(b.induction)}. ` +
          "Copying is rescaled to [−1, 1] (1: the head raises the logit of the token it attends to). " +
          "<i>Anchor</i> (Olsson et al. 2022): induction heads score high on both prefix matching and copying; in 2-layer models they sit in layer 1 and read a previous-token head of layer 0.",
      ),
    );
  }
  if (withHeads.length > maxRuns) notes.push(`Head scores: drawn for the first ${maxRuns} of ${withHeads.length} runs.`);
  if (parts.length) sections.push({ heading: "Head scores", html: parts.join("\n") });
  return sections;
}
