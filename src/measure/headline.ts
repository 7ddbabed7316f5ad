/**
 * A run's headline figures as the listings show them (`icl-lab runs`, `train`, `sweep` and its
 * status): the latest stored value of a metric, by its registered name (names.ts).
 */
import type { RunStore } from "../store/run-store.ts";
import { METRIC, type MetricName } from "./names.ts";

/** The latest stored value of a run's metric; null when none is stored or it is NaN (not measurable then). */
export function lastMetric(store: Pick<RunStore, "metricSeries">, runId: string, name: MetricName): number | null {
  const v = store.metricSeries(runId, name).at(-1)?.value;
  return v === undefined || Number.isNaN(v) ? null : v;
}

/** The latest training loss and ICL score of a run. */
export function headline(store: Pick<RunStore, "metricSeries">, runId: string): { trainLoss: number | null; iclScore: number | null } {
  return { trainLoss: lastMetric(store, runId, METRIC.trainLoss), iclScore: lastMetric(store, runId, METRIC.iclScore) };
}
