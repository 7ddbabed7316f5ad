/**
 * Report section "Attention of the best induction head": its pattern on a repeated random
 * sequence, recomputed from the run's last checkpoint (../attention.ts, imported only when drawn).
 */
import { attentionChart } from "../charts.ts";
import { headName } from "../data.ts";
import { bestHead } from "../summary.ts";
import { escapeHtml, formatNumber, formatTokens } from "../tables.ts";
import { withHeadScores } from "./heads.ts";
import type { Section, SectionContext } from "./types.ts";

/** The best induction head's attention pattern, for up to maxRuns runs with a checkpoint. */
export async function attentionSection(ctx: SectionContext): Promise<Section[]> {
  const { notes, figure, maxRuns } = ctx;
  const sections: Section[] = [];
  const withHeads = withHeadScores(ctx);
  const attnParts: string[] = [];
  const candidates = withHeads.filter((r) => r.lastCheckpoint !== null && r.config?.model);
  for (const r of withHeads) if (!r.lastCheckpoint) notes.push(`Attention pattern of ${r.label}: the run has no checkpoint file recorded.`);
  if (candidates.length > 0) {
    const { headPatternFromCheckpoint } = await import("../attention.ts");
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
      attnParts.push(
        await figure(
          `attention-${r.id}`,
          `Attention of ${headName(b.layer, b.head)}: ${r.label}`,
          attentionChart({ pattern: hp.pattern, targets: hp.targets, tokens: hp.tokens.map(String) }),
          `Attention pattern of head ${headName(b.layer, b.head)} of <b>${escapeHtml(r.label)}</b>, its best induction head, on ${r.bos !== null ? "BOS and " : ""}` +
            `${half} random tokens repeated twice, recomputed from the checkpoint at ${formatTokens(hp.checkpointTokens)} tokens ` +
            `(rows: the attending token; columns: the token attended to; darker = more attention). Outlined: for each token of the second copy, the token that followed its ` +
            `first occurrence, where an induction head looks; on this sequence the head puts ${formatNumber(hp.score)} of its attention there. ` +
            "<i>Anchor</i> (Olsson et al. 2022): an induction head shows an off-diagonal stripe one position right of the earlier copy; a previous-token head shows the sub-diagonal.",
        ),
      );
    }
  }
  if (attnParts.length) sections.push({ heading: "Attention of the best induction head", html: attnParts.join("\n") });
  return sections;
}
