/** Report section "Per-token-loss PCA": trajectories of the runs' per-token-loss vectors. */
import { lossPcaTrajectories } from "../../measure/pca.ts";
import { pcaChart, type PcaPoint } from "../charts.ts";
import type { RunData } from "../data.ts";
import type { Section, SectionContext } from "./types.ts";

/** Per-token-loss PCA of the runs whose vectors share the commonest length. */
export async function pcaSection(ctx: SectionContext): Promise<Section[]> {
  const { runs, notes, figure } = ctx;
  const sections: Section[] = [];
  const withVec = runs.filter((r) => r.tokenLoss.length > 0);
  if (withVec.length > 0) {
    // PCA needs one length (the same evaluation windows): keep the runs of the commonest length.
    const byLen = new Map<number, RunData[]>();
    for (const r of withVec) {
      const len = r.tokenLoss[0].losses.length;
      byLen.set(len, [...(byLen.get(len) ?? []), r]);
    }
    const [len, chosen] = [...byLen.entries()].sort((a, b) => b[1].length - a[1].length)[0];
    for (const r of withVec)
      if (!chosen.includes(r))
        notes.push(`Loss PCA: ${r.label} left out (its per-token-loss vectors have ${r.tokenLoss[0].losses.length} entries, the others ${len}).`);
    const vecRuns = chosen.map((r) => ({ run: r.label, checkpoints: r.tokenLoss.filter((c) => c.losses.length === len) }));
    if (vecRuns.reduce((s, r) => s + r.checkpoints.length, 0) >= 3) {
      const p = lossPcaTrajectories(vecRuns);
      const points: PcaPoint[] = p.trajectories.flatMap((t) => t.points.map((q) => ({ label: t.run, tokens: q.tokens, pc1: q.pc1, pc2: q.pc2 })));
      sections.push({
        heading: "Per-token-loss PCA",
        html: await figure(
          "loss-pca",
          "Per-token-loss PCA trajectories",
          pcaChart({ points, explained: p.explained }),
          `Each checkpoint's vector of per-token losses (the loss at one fixed random position in each of ${len} evaluation windows), projected on the first two ` +
            "principal components of all checkpoints of all runs shown; points grow with training tokens. " +
            "<i>Anchor</i> (Olsson et al. 2022): the trajectories of models that form induction heads turn sharply during the phase change; 1-layer models' do not.",
        ),
      });
    } else notes.push("Loss PCA: fewer than 3 per-token-loss vectors stored.");
  }
  return sections;
}
