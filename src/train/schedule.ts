/** Learning-rate schedules: linear warm-up, then cosine decay to minLr or constant. */

export interface ScheduleOptions {
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  schedule: "cosine" | "constant";
  /** Final learning rate of the cosine schedule, as a fraction of lr. */
  minLrRatio: number;
}

/** Learning rate at step (0-based). */
export function learningRate(step: number, o: ScheduleOptions): number {
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  if (o.schedule === "constant") return o.lr;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const p = Math.min(1, (step - o.warmupSteps) / span);
  const min = o.lr * o.minLrRatio;
  return min + 0.5 * (o.lr - min) * (1 + Math.cos(Math.PI * p));
}

/**
 * Checkpoint token counts: log-spaced, `perDecade` per factor of 10, from `first` up to `total`,
 * each rounded up to a whole number of steps, plus `total` itself. Sorted, unique.
 */
export function logSpacedCheckpoints(total: number, tokensPerStep: number, perDecade: number, first = tokensPerStep): number[] {
  const out = new Set<number>();
  const round = (t: number) => Math.min(total, Math.max(tokensPerStep, Math.ceil(t / tokensPerStep) * tokensPerStep));
  if (perDecade > 0) {
    for (let e = Math.log10(first); e < Math.log10(total); e += 1 / perDecade) out.add(round(10 ** e));
  }
  out.add(round(total));
  return [...out].sort((a, b) => a - b);
}
