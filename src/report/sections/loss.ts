/**
 * Report sections on the loss: the training loss with the loss bump, and the loss by position in
 * the context (selected checkpoints per run, and every run's last checkpoint).
 */
import { positionLossChart, trainLossChart } from "../charts.ts";
import { selectCheckpoints } from "../data.ts";
import { escapeHtml, formatNumber, formatTokens } from "../tables.ts";
import { METRIC, VECTOR } from "../../measure/names.ts";
import { detectedList } from "./detected.ts";
import type { Section, SectionContext } from "./types.ts";

/** "Training loss and the loss bump". */
export async function trainLossSection(ctx: SectionContext): Promise<Section[]> {
  const { runs, notes, figure } = ctx;
  const sections: Section[] = [];
  const withLoss = runs.filter((r) => r.trainLoss.length > 0);
  if (withLoss.length === 0) notes.push(`Training loss: no run stored \`${METRIC.trainLoss}\`.`);
  else {
    const points = withLoss.flatMap((r) => r.trainLoss.map((p) => ({ label: r.label, tokens: p.tokens, loss: p.value })));
    const bumps = withLoss.flatMap((r) =>
      r.bump.status === "found" ? [{ label: r.label, start: r.bump.start, end: r.bump.end, peak: r.bump.peak, height: r.bump.height }] : [],
    );
    const detected = detectedList(
      withLoss,
      (r) => r.bump,
      (b) => `${formatTokens(b.start)}–${formatTokens(b.end)} tokens, peak at ${formatTokens(b.peak)}, ${formatNumber(b.height, 4)} nats above the convex hull`,
    );
    sections.push({
      heading: "Training loss and the loss bump",
      html: await figure(
        "train-loss",
        "Training loss with the loss bump",
        trainLossChart({ points, bumps }),
        "Mean training loss over the steps before each checkpoint, against training tokens. Shaded: the loss bump, the stretch where the loss " +
          "against log tokens is not convex (it leaves its lower convex hull); dashed: the bump's peak. " +
          `Detected: ${detected}. ` +
          "<i>Anchor</i> (Olsson et al. 2022): the bump is the only non-convex stretch of the loss curve and coincides with the phase change and the formation of induction heads; " +
          "1-layer models show none.",
      ),
    });
  }
  return sections;
}

/** "Loss by position in the context": up to maxRuns runs drawn one by one, then all runs together. */
export async function positionLossSection(ctx: SectionContext): Promise<Section[]> {
  const { runs, notes, figure, maxRuns } = ctx;
  const sections: Section[] = [];
  const withPos = runs.filter((r) => r.positionLoss.length > 0);
  if (withPos.length === 0) notes.push(`Loss by position: no run stored \`${VECTOR.positionLoss}\` (add "positionLoss" to the config's measures).`);
  const parts: string[] = [];
  for (const r of withPos.slice(0, maxRuns)) {
    const include = r.phase.status === "found" ? [r.phase.start, r.phase.end] : [];
    const picked = selectCheckpoints(
      r.positionLoss.map((p) => p.tokens),
      { n: 5, include },
    );
    const curves = r.positionLoss
      .filter((p) => picked.includes(p.tokens))
      .map((p) => ({ series: `${formatTokens(p.tokens)} tokens`, order: p.tokens, loss: p.meanLoss }));
    parts.push(
      await figure(
        `position-loss-${r.id}`,
        `Loss by position: ${r.label}`,
        positionLossChart({ curves, seriesTitle: "checkpoint" }),
        `Mean loss of each token against its position in the context (log axis), at ${picked.length} checkpoints of <b>${escapeHtml(r.label)}</b>` +
          `${include.length ? " (including those nearest the phase-change window's ends)" : ""}. Dashed: positions 50 and 500, the two ends of the ICL score. ` +
          "<i>Anchor</i> (Olsson et al. 2022): after the phase change, the loss of late tokens falls well below that of early ones; before it, the curve is nearly flat past the first few tokens.",
      ),
    );
  }
  if (withPos.length > maxRuns)
    notes.push(`Loss by position: drawn for the first ${maxRuns} of ${withPos.length} runs; the comparison figure shows all of them.`);
  if (withPos.length > 1) {
    const curves = withPos.map((r, i) => ({ series: r.label, order: i, loss: r.positionLoss[r.positionLoss.length - 1].meanLoss }));
    parts.push(
      await figure(
        "position-loss-final",
        "Loss by position at the last checkpoint, all runs",
        positionLossChart({ curves, seriesTitle: "run", sequential: false }),
        "Each run's mean loss by position at its last checkpoint. A model that uses its context keeps lowering its loss at later positions; one that does not flattens early. " +
          "<i>Anchor</i>: LSTMs' per-token loss flattens after about 100 tokens (Kaplan et al. 2020), and recurrent models develop little ICL (Chan et al. 2022).",
      ),
    );
  }
  if (parts.length) sections.push({ heading: "Loss by position in the context", html: parts.join("\n") });
  return sections;
}
