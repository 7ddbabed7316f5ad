/**
 * What the runners of the experiments that train in this process share (data-distribution,
 * implicit-dynamics: vector-input models, not language models on tokens; `icl-lab experiment` hands
 * their names over): the options of `icl-lab experiment` they read, and their last words.
 */
import { printExperimentEnd } from "./format-table.ts";

/** The options of `icl-lab experiment` both runners read (a structural subset of experiment.ts's). */
export interface InProcessExperimentCliOptions {
  lab?: string;
  seeds?: number;
  steps?: number;
  tokens?: number;
  corpus: string[];
  domains?: string;
  dryRun?: boolean;
  smoke?: boolean;
  png: boolean;
  json?: boolean;
}

/**
 * printExperimentEnd for the experiments that run in this process (data-distribution,
 * implicit-dynamics): the JSON payload is the experiment's name, lab and seconds, then `fields` in
 * order, then the report's path.
 */
export function printInProcessExperimentEnd(
  name: string,
  json: boolean | undefined,
  result: { lab: string; seconds: number; summaryText: string | null; report: string | null },
  fields: object,
): void {
  printExperimentEnd({
    json,
    payload: { experiment: name, lab: result.lab, seconds: result.seconds, ...fields, report: result.report },
    summaryText: result.summaryText,
    seconds: result.seconds,
    report: result.report,
  });
}
