/**
 * The experiments of `icl-lab experiment NAME`, by name (a typed table: adding one is one line
 * here and a file beside it). Each reproduces one finding of the mission (docs/experiments.md);
 * runner.ts trains, measures, reports and summarises any of them.
 */
import { architectures } from "./architectures.ts";
import { corpusDiversity } from "./corpus-diversity.ts";
import { corpusSize } from "./corpus-size.ts";
import { corpusSource } from "./corpus-source.ts";
import { natural } from "./natural.ts";
import { phaseChange } from "./phase-change.ts";
import { smearedKeys } from "./smeared-keys.ts";
import type { ExperimentDefinition } from "./types.ts";

export const EXPERIMENTS = {
  "phase-change": phaseChange,
  natural,
  architectures,
  "smeared-keys": smearedKeys,
  "corpus-source": corpusSource,
  "corpus-diversity": corpusDiversity,
  "corpus-size": corpusSize,
} as const satisfies Record<string, ExperimentDefinition>;

/**
 * Experiments on synthetic sequences with vector inputs (in-context classification, in-context
 * regression; not language models on a corpus): they have their own runners, so `icl-lab
 * experiment NAME` hands them to them (src/cli). Their titles are here, and their modules read
 * them from here (implicit-dynamics trains its token model through this registry's runner).
 */
export const CLASSIFICATION_EXPERIMENTS = {
  "data-distribution": "burstiness, number of classes, within-class variation and Zipf skew decide ICL against IWL (Chan 2022, Reddy 2024)",
  "implicit-dynamics": "the context as an implicit rank-1 weight update: its convergence over the context against explicit gradient descent (Dherin 2025)",
} as const;

export type ExperimentName = keyof typeof EXPERIMENTS;
export const EXPERIMENT_NAMES = Object.keys(EXPERIMENTS) as ExperimentName[];

export function isExperimentName(name: string): name is ExperimentName {
  return Object.hasOwn(EXPERIMENTS, name);
}

/** The experiment of that name; an error listing the known names otherwise. */
export function getExperiment(name: string): ExperimentDefinition {
  if (!isExperimentName(name)) {
    throw new Error(`unknown experiment '${name}'; known experiments: ${EXPERIMENT_NAMES.join(", ")}`);
  }
  return EXPERIMENTS[name];
}

export type { ExperimentDefinition, ExperimentOptions, CorpusArg } from "./types.ts";
