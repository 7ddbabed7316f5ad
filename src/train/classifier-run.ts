/**
 * One in-context classification run recorded in the lab's store (src/store), the way the language
 * model trainer records its runs, so `icl-lab runs`, the report and the dashboard list it: the run
 * (id, experiment, kind = the model's kind, config), its status, and at every evaluation point the
 * metrics of src/measure/icl-classification.ts (`CLASSIFICATION`) plus `train_loss` and `step`.
 *
 * The store's `tokens` axis counts input vectors: step × batch × (2N+1).
 *
 * Runs last about a minute, so there are no resume checkpoints: an unfinished run starts again
 * from step 0 (its points are overwritten), and a finished one is left as it is.
 */
import { RunStore } from "../store/run-store.ts";
import { CLASSIFICATION } from "../measure/icl-classification.ts";
import { METRIC } from "../measure/names.ts";
import { type ClassifierTrainConfig, type EvalPoint, trainClassifier } from "./sequence-classification.ts";

/** The config stored with a run: the training config and what the experiment needs to group it. */
export interface ClassifierRunRecord {
  /** What the experiment calls the architecture ("attn-only", "transformer", "lstm", "rnn"). */
  arch: string;
  train: ClassifierTrainConfig;
}

export interface ClassifierRunJob {
  runId: string;
  experiment: string;
  record: ClassifierRunRecord;
}

export interface ClassifierRunOutcome {
  runId: string;
  status: "finished" | "skipped";
  seconds: number;
  last: EvalPoint | null;
}

/** Store values of one evaluation point. */
export function pointMetrics(p: EvalPoint): Record<string, number> {
  const m: Record<string, number> = {
    [METRIC.step]: p.step,
    [METRIC.trainLoss]: p.trainLoss,
    [CLASSIFICATION.iclNovel]: p.iclNovel,
    [CLASSIFICATION.iclSwap]: p.iclSwap,
    [CLASSIFICATION.iwl]: p.iwl,
    [CLASSIFICATION.iclNovelLoss]: p.iclNovelLoss,
    [CLASSIFICATION.iwlLoss]: p.iwlLoss,
  };
  if (p.heads !== null) {
    m[CLASSIFICATION.prevToken] = Math.max(...p.heads.prevToken.flat());
    m[CLASSIFICATION.induction] = Math.max(...p.heads.induction.flat());
  }
  return m;
}

/** Trains the run unless the lab holds it finished; records it as it goes. */
export function runClassifierJob(lab: string, job: ClassifierRunJob, opts: { log?: (line: string) => void } = {}): ClassifierRunOutcome {
  const store = RunStore.open(lab);
  try {
    const existing = store.getRun(job.runId);
    if (existing?.status === "finished") return { runId: job.runId, status: "skipped", seconds: 0, last: null };
    store.createRun({ id: job.runId, experiment: job.experiment, kind: job.record.train.model.kind, config: job.record });
    store.setStatus(job.runId, "running");
    const T = 2 * job.record.train.task.context + 1;
    const tokensAt = (step: number) => step * job.record.train.batch * T;
    try {
      const run = trainClassifier(job.record.train, {
        onEval: (p) => {
          const tokens = tokensAt(p.step);
          store.batch(() => {
            store.logMetrics(job.runId, tokens, pointMetrics(p));
            if (p.heads !== null) {
              const L = p.heads.prevToken.length,
                H = p.heads.prevToken[0].length;
              store.logVector(job.runId, tokens, CLASSIFICATION.prevTokenHeads, p.heads.prevToken.flat(), [L, H]);
              store.logVector(job.runId, tokens, CLASSIFICATION.inductionHeads, p.heads.induction.flat(), [L, H]);
            }
          });
          store.heartbeat(job.runId, tokens);
          opts.log?.(
            `${job.runId}: step ${p.step}, ICL ${p.iclNovel.toFixed(2)} (swap ${p.iclSwap.toFixed(2)}), IWL ${p.iwl.toFixed(2)}` +
              (p.heads !== null ? `, induction ${pointMetrics(p)[CLASSIFICATION.induction].toFixed(2)}` : ""),
          );
        },
      });
      store.setStatus(job.runId, "finished");
      return { runId: job.runId, status: "finished", seconds: run.seconds, last: run.evals.at(-1) ?? null };
    } catch (e) {
      store.setStatus(job.runId, "failed", { error: (e as Error).message });
      throw e;
    }
  } finally {
    store.close();
  }
}
