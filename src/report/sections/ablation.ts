/** Report sections "Head ablation" and "Few-shot tasks". */
import { ablationChart, tasksChart, type AblationBar, type TaskPoint } from "../charts.ts";
import { headName } from "../data.ts";
import { escapeHtml, formatNumber, formatTokens } from "../tables.ts";
import type { Section, SectionContext } from "./types.ts";

/** The ICL score's change when each head is ablated, for up to maxRuns runs. */
export async function ablationSection(ctx: SectionContext): Promise<Section[]> {
  const { runs, notes, figure, maxRuns } = ctx;
  const sections: Section[] = [];
  const parts: string[] = [];
  const withAbl = runs.filter((r) => r.ablation !== null && r.ablation.heads.length > 0);
  for (const r of withAbl.slice(0, maxRuns)) {
    const a = r.ablation!;
    const bars: AblationBar[] = a.heads.flatMap((h) =>
      (["zero", "pattern"] as const).flatMap((v) => {
        const e = h[v];
        return e ? [{ head: headName(h.layer, h.head), variant: v, delta: e.delta, lo: e.deltaLo, hi: e.deltaHi }] : [];
      }),
    );
    const top = [...a.heads].filter((h) => h.zero).sort((p, q) => q.zero!.delta - p.zero!.delta)[0];
    const topText = top?.zero
      ? ` Zeroing ${headName(top.layer, top.head)} changes the score most: by ${formatNumber(top.zero.delta)} nats` +
        `${top.zero.share !== null ? ` (${Math.round(100 * top.zero.share)}% of the clean score)` : ""}.`
      : "";
    parts.push(
      await figure(
        `ablation-${r.id}`,
        `Head ablation: ${r.label}`,
        ablationChart({ bars }),
        `Change of the ICL score of <b>${escapeHtml(r.label)}</b> (at ${formatTokens(a.tokens)} tokens${a.clean ? `, clean score ${formatNumber(a.clean.score)}` : ""}) when each head's output is zeroed ` +
          "(zero: later heads see the change; pattern: every attention pattern frozen from the clean run, so only the head's own output is removed). " +
          `Positive: the head carried in-context learning; error bars: paired bootstrap interval.${topText} ` +
          "<i>Anchor</i> (Olsson et al. 2022): in small attention-only models, ablating the induction heads removes almost all of the ICL score.",
      ),
    );
  }
  if (withAbl.length > maxRuns) notes.push(`Head ablation: drawn for the first ${maxRuns} of ${withAbl.length} runs.`);
  if (parts.length) sections.push({ heading: "Head ablation", html: parts.join("\n") });
  return sections;
}

/** Few-shot accuracy against shots at the last checkpoint. */
export async function tasksSection(ctx: SectionContext): Promise<Section[]> {
  const { runs, figure } = ctx;
  const sections: Section[] = [];
  const withTasks = runs.filter((r) => r.tasks !== null && r.tasks.tasks.length > 0);
  if (withTasks.length > 0) {
    const points: TaskPoint[] = withTasks.flatMap((r) =>
      r.tasks!.tasks.flatMap((t) =>
        t.shots.flatMap((k, i) => {
          const acc = t.accuracy[i];
          return acc === null || !Number.isFinite(acc) ? [] : [{ label: r.label, task: t.name, shots: k, accuracy: acc, chance: t.chance }];
        }),
      ),
    );
    if (points.length > 0) {
      sections.push({
        heading: "Few-shot tasks",
        html: await figure(
          "tasks",
          "Few-shot accuracy against shots",
          tasksChart({ points }),
          "Accuracy of each task at the last checkpoint against the number of in-context examples (shots); dashed: chance. Rising accuracy with shots is in-context learning measured as Shin et al. did. " +
            "<i>Anchor</i> (Shin et al. 2022): few-shot accuracy depends heavily on the pretraining corpus, and lower perplexity does not always mean better few-shot accuracy.",
        ),
      });
    }
  }
  return sections;
}
