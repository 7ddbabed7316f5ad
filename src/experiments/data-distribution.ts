/**
 * `data-distribution`: which properties of the training data make a model learn in context (ICL)
 * rather than in its weights (IWL) — Chan et al. 2022 (arXiv 2205.05055) in the Gaussian-mixture
 * form of Reddy 2024 (arXiv 2312.03002), small enough for a CPU.
 *
 * Sequences x₁, ν₁, …, x₈, ν₈, x_q of D = 31 dimensional vectors (src/data/synthetic/
 * gaussian-mixture.ts), L = 32 labels, N = 8 pairs, B = 2 copies per class in bursty sequences;
 * every model reads them through a linear input embedding (src/model/vector-input.ts) and is trained
 * on the query's label only (src/train/sequence-classification.ts): batch 32, AdamW 1e-3 after 100
 * warm-up steps. Four sweeps, each one knob around a base point (as Chan's figures do):
 *   burstiness p_B, the number of classes K, within-class variation ε, the Zipf exponent α;
 * the 2-layer attention-only model (1 head × 64 per layer, learned positions, layer norm) at every
 * point; a transformer (the same with MLPs, d_mlp 256), an LSTM and a tanh RNN (hidden 128) at the
 * points of the class sweep where IWL (K = 256) and ICL (K = 2048) win. The ε sweep trains twice
 * as long as the others (its induction head forms later the noisier the items).
 * Measured every `evalEvery` steps on fixed sequences: ICL on novel classes, ICL with swapped labels,
 * IWL without support, and the attention models' previous-token and induction scores
 * (src/measure/icl-classification.ts). Runs are stored in the lab like every experiment's.
 */
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { parseModelConfig, type ModelConfig } from "../model/config.ts";
import { buildVectorModel } from "../model/vector-input.ts";
import { RunStore, resolveLabDir } from "../store/run-store.ts";
import type { ClassifierRunJob } from "../train/classifier-run.ts";
import type { ClassifierTrainConfig } from "../train/sequence-classification.ts";
import {
  type DdRun,
  fmtInterval,
  type Knobs,
  onsetRows,
  onsetTable,
  overlaps,
  pointRows,
  pointTable,
  type PointRow,
  readDdRuns,
  renderDdReport,
  runsAt,
  type SweepSpec,
  sweepSteps,
} from "../report/data-distribution.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { runClassifierJobs, type PoolOutcome } from "./classifier-pool.ts";
import { formatTable } from "./summary.ts";
import { CLASSIFICATION_EXPERIMENTS } from "./index.ts";

export const NAME = "data-distribution" as const;
export const TITLE = CLASSIFICATION_EXPERIMENTS[NAME];

export const ARCHS = ["attn-only", "transformer", "lstm", "rnn"] as const;
export type Arch = (typeof ARCHS)[number];

const TASK = { dim: 31, labels: 32, context: 8 };

/** What sets a scale: the models' width, the training length and the evaluation. */
export interface DdScale {
  dModel: number;
  dHidden: number;
  steps: number;
  batch: number;
  evalEvery: number;
  evalSequences: number;
}

export const DD_SCALES: Record<"default" | "smoke", DdScale> = {
  default: { dModel: 64, dHidden: 128, steps: 8000, batch: 32, evalEvery: 250, evalSequences: 512 },
  smoke: { dModel: 8, dHidden: 8, steps: 40, batch: 8, evalEvery: 20, evalSequences: 16 },
};

/** The base point of the burstiness, class and Zipf sweeps (ICL wins here). */
export const BASE: Knobs = { pBursty: 0.9, burst: 2, classes: 2048, epsilon: 0.1, zipf: 0 };
/**
 * The ε sweep's base: K = 640, where IWL wins at ε = 0 (5 of 5 seeds, 16,000 steps) and ICL at
 * ε = 0.75 (5 of 5). Measured 2026-12-05: at K 512 ICL forms too late (1 of 2 seeds at ε 0.75 by
 * 16,000 steps), at K 768 and 1024 it also forms at ε = 0 in some seeds. The head forms later the
 * noisier the items (onset 5,500–12,750 steps at ε 0.5–0.75), hence twice the scale's steps.
 */
const BASE_EPS: Knobs = { ...BASE, classes: 640 };

export const SWEEPS: SweepSpec[] = [
  { name: "burstiness", knob: "pBursty", base: BASE, values: [0, 0.5, 0.9, 1], archs: ["attn-only"] },
  {
    name: "classes",
    knob: "classes",
    base: BASE,
    values: [256, 512, 1024, 2048],
    archs: ["attn-only"],
    more: { archs: ["transformer", "lstm", "rnn"], values: [256, 2048] },
  },
  { name: "variation", knob: "epsilon", base: BASE_EPS, values: [0, 0.25, 0.5, 0.75, 1], archs: ["attn-only"], stepsFactor: 2 },
  { name: "zipf", knob: "zipf", base: BASE, values: [0, 1, 2], archs: ["attn-only"] },
];

/** The model config of an architecture at a scale (dVocab = L, nCtx = 2N+1). */
export function modelConfig(arch: Arch, s: DdScale): ModelConfig {
  const nCtx = 2 * TASK.context + 1,
    dVocab = TASK.labels;
  const attn = { nLayers: 2, dModel: s.dModel, nHeads: 1, dHead: s.dModel, nCtx, dVocab, positions: "learned", layerNorm: true };
  const table: Record<Arch, object> = {
    "attn-only": { kind: "attn-only", ...attn },
    transformer: { kind: "transformer", ...attn, dMlp: 4 * s.dModel },
    lstm: { kind: "lstm", nLayers: 1, dModel: s.dModel, dHidden: s.dHidden, nCtx, dVocab },
    rnn: { kind: "rnn", nLayers: 1, dModel: s.dModel, dHidden: s.dHidden, nCtx, dVocab },
  };
  return parseModelConfig(table[arch]);
}

export interface PlannedDdRun {
  job: ClassifierRunJob;
  arch: Arch;
  knobs: Knobs;
  seed: number;
  params: number;
  state: "new" | "finished" | "unfinished";
}

const num = (v: number) => String(v).replace(/^0\./, "0.");

/** The run id: every knob, the architecture, the steps and the seed. */
export function ddRunId(arch: Arch, k: Knobs, steps: number, seed: number, smoke: boolean): string {
  return `dd${smoke ? "-smoke" : ""}-${arch}-pB${num(k.pBursty)}-B${k.burst}-K${k.classes}-e${num(k.epsilon)}-a${num(k.zipf)}-${steps}st-s${seed}`;
}

export interface DdOptions {
  lab?: string;
  seeds?: number;
  /** Training steps per run (default: the scale's). */
  steps?: number;
  smoke?: boolean;
  /** Trainer processes (default: one per core); 0 trains in this process. */
  jobs?: number;
  dryRun?: boolean;
  png?: boolean;
  report?: boolean;
  log?: (line: string) => void;
  verbose?: boolean;
  stop?: Promise<void>;
}

/** Every run of the experiment, each point once (the base points are shared by the sweeps). */
export function planDataDistribution(opts: DdOptions): { lab: string; scale: DdScale; runs: PlannedDdRun[] } {
  const lab = resolveLabDir(opts.lab);
  const smoke = opts.smoke ?? false;
  const scale = { ...DD_SCALES[smoke ? "smoke" : "default"], ...(opts.steps !== undefined ? { steps: opts.steps } : {}) };
  scale.evalEvery = Math.min(scale.evalEvery, scale.steps);
  const seeds = opts.seeds ?? 2;
  if (!Number.isInteger(seeds) || seeds < 1 || seeds > 20) throw new Error(`--seeds must be an integer from 1 to 20, found ${seeds}`);
  const runs: PlannedDdRun[] = [];
  const seen = new Set<string>();
  const params = new Map<Arch, number>();
  const add = (arch: Arch, knobs: Knobs, seed: number, steps: number) => {
    const runId = ddRunId(arch, knobs, steps, seed, smoke);
    if (seen.has(runId)) return;
    seen.add(runId);
    const model = modelConfig(arch, scale);
    if (!params.has(arch)) {
      let n = 0;
      for (const p of buildVectorModel(model, { dIn: TASK.dim }).params.values()) n += p.size;
      params.set(arch, n);
    }
    const train: ClassifierTrainConfig = {
      model,
      task: { ...TASK, classes: knobs.classes, burst: knobs.burst, pBursty: knobs.pBursty, epsilon: knobs.epsilon, zipf: knobs.zipf },
      seed,
      taskSeed: seed,
      steps,
      batch: scale.batch,
      lr: 1e-3,
      warmupSteps: Math.min(100, steps),
      weightDecay: 0,
      clip: 1,
      evalEvery: scale.evalEvery,
      evalSequences: scale.evalSequences,
    };
    runs.push({ job: { runId, experiment: NAME, record: { arch, train } }, arch, knobs, seed, params: params.get(arch)!, state: "new" });
  };
  // Seed-major order, so that an interrupted sweep has every point at one seed first.
  for (let seed = 0; seed < seeds; seed++) {
    for (const s of SWEEPS) {
      const steps = sweepSteps(s, scale.steps);
      for (const v of s.values) for (const a of s.archs) add(a as Arch, { ...s.base, [s.knob]: v }, seed, steps);
      for (const v of s.more?.values ?? []) for (const a of s.more!.archs) add(a as Arch, { ...s.base, [s.knob]: v }, seed, steps);
    }
  }
  const store = RunStore.open(lab);
  try {
    for (const r of runs) {
      const info = store.getRun(r.job.runId);
      r.state = info === undefined ? "new" : info.status === "finished" ? "finished" : "unfinished";
    }
  } finally {
    store.close();
  }
  return { lab, scale, runs };
}

export interface TargetCheck {
  target: string;
  met: boolean | null;
  evidence: string;
}

/** The issue's reproducible directions, checked on the measured rows (null: not measured). */
export function checkTargets(rows: readonly PointRow[], runs: readonly DdRun[]): TargetCheck[] {
  const at = (sweep: string, value: number, arch = "attn-only") => rows.find((r) => r.sweep === sweep && r.value === value && r.arch === arch);
  const direction = (sweep: string, lo: number, hi: number, what: string): TargetCheck => {
    const a = at(sweep, lo),
      b = at(sweep, hi);
    if (a === undefined || b === undefined) return { target: what, met: null, evidence: "not measured" };
    // A rise that only reaches chance is not ICL: the model at the high end must beat chance.
    const iclUp = b.icl.mean > a.icl.mean && !overlaps(a.icl, b.icl) && b.icl.lo > b.chanceIcl;
    const iwlDown = b.iwl.mean < a.iwl.mean && !overlaps(a.iwl, b.iwl);
    return {
      target: what,
      met: iclUp && iwlDown,
      evidence:
        `${a.knob}=${lo}: ICL ${fmtInterval(a.icl)}, IWL ${fmtInterval(a.iwl)}; ${a.knob}=${hi}: ICL ${fmtInterval(b.icl)}, IWL ${fmtInterval(b.iwl)}` +
        ` (ICL higher, apart and above chance: ${iclUp ? "yes" : "no"}; IWL lower and apart: ${iwlDown ? "yes" : "no"})`,
    };
  };
  const out = [
    direction("burstiness", 0, 0.9, "ICL rises and IWL falls with burstiness (p_B 0 → 0.9)"),
    direction("classes", 256, 2048, "ICL rises and IWL falls with the number of classes (K 256 → 2048)"),
    direction("variation", 0, 0.75, `ICL rises and IWL falls with within-class variation (ε 0 → 0.75, K = ${BASE_EPS.classes})`),
  ];
  const z = at("zipf", 1);
  out.push(
    z === undefined
      ? { target: "at α = 1 both ICL and IWL well above chance", met: null, evidence: "not measured" }
      : {
          target: "at α = 1 (K = 2048) both ICL and IWL well above chance",
          met: z.icl.lo > z.chanceIcl + 0.1 && z.iwl.lo > z.chanceIwl + 0.1,
          evidence: `ICL ${fmtInterval(z.icl)} (chance ${z.chanceIcl.toFixed(2)}), IWL ${fmtInterval(z.iwl)} (chance ${z.chanceIwl.toFixed(3)})`,
        },
  );
  for (const arch of ["lstm", "rnn"]) {
    const icl = at("classes", 2048, arch),
      iwl = at("classes", 256, arch);
    out.push(
      icl === undefined || iwl === undefined
        ? { target: `${arch}: ICL at chance while it learns IWL`, met: null, evidence: "not measured" }
        : {
            target: `${arch}: ICL at chance (K = 2048) while it learns IWL (K = 256)`,
            met: icl.icl.mean < icl.chanceIcl + 0.05 && iwl.iwl.lo > iwl.chanceIwl + 0.1,
            evidence: `ICL at K=2048 ${fmtInterval(icl.icl)} (chance ${icl.chanceIcl.toFixed(2)}); IWL at K=256 ${fmtInterval(iwl.iwl)} (chance ${iwl.chanceIwl.toFixed(3)})`,
          },
    );
  }
  const onsets = onsetRows(runs.filter((r) => r.arch === "attn-only"));
  const abrupt = onsets.filter((o) => o.step90 - o.step10 <= 0.3 * o.step90 && (o.inductionBefore ?? 1) < 0.4 && (o.inductionAfter ?? 0) > 0.6);
  out.push({
    target: "ICL switches on abruptly together with an induction head (attention-only runs that learn ICL)",
    met: onsets.length === 0 ? null : abrupt.length === onsets.length,
    evidence:
      onsets.length === 0
        ? "no attention-only run reached ICL ≥ 0.6"
        : `${abrupt.length} of ${onsets.length} runs: 10%→90% of the ICL rise within 30% of its step count, induction score < 0.4 before and > 0.6 after; ` +
          onsets.map((o) => `${o.step10}→${o.step90} (induction ${o.inductionBefore?.toFixed(2)}→${o.inductionAfter?.toFixed(2)})`).join(", "),
  });
  return out;
}

export interface DdResult {
  lab: string;
  runs: PlannedDdRun[];
  outcomes: PoolOutcome[];
  rows: PointRow[];
  targets: TargetCheck[];
  summaryText: string;
  report: string | null;
  seconds: number;
}

export function planText(plan: ReturnType<typeof planDataDistribution>): string {
  return formatTable(
    ["run", "model", "params", "p_B", "B", "K", "ε", "α", "steps", "seed", "state"],
    plan.runs.map((r) => [
      r.job.runId,
      r.arch,
      r.params.toLocaleString("en-US"),
      String(r.knobs.pBursty),
      String(r.knobs.burst),
      String(r.knobs.classes),
      String(r.knobs.epsilon),
      String(r.knobs.zipf),
      String(r.job.record.train.steps),
      String(r.seed),
      r.state,
    ]),
  );
}

/** The sweeps that train longer than the scale, as the report's intro states them. */
function longer(steps: number): string {
  return SWEEPS.filter((s) => sweepSteps(s, steps) !== steps)
    .map((s) => ` (the ${s.name} sweep ${sweepSteps(s, steps)})`)
    .join("");
}

/** Plans, trains what the lab does not hold finished, and summarises and reports the experiment. */
export async function runDataDistribution(opts: DdOptions = {}): Promise<DdResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const plan = planDataDistribution(opts);
  const empty = { rows: [], targets: [], summaryText: "", report: null };
  if (opts.dryRun) return { lab: plan.lab, runs: plan.runs, outcomes: [], ...empty, seconds: (performance.now() - t0) / 1000 };
  const cores = availableParallelism();
  const jobs = opts.jobs ?? cores;
  const todo = plan.runs.filter((r) => r.state !== "finished");
  log(`${NAME}: ${plan.runs.length} runs, ${todo.length} to train, on ${jobs === 0 ? "this process" : `${jobs} process${jobs === 1 ? "" : "es"}`}`);
  const outcomes = await runClassifierJobs(
    todo.map((r) => r.job),
    { lab: plan.lab, jobs, threads: Math.max(1, Math.floor(cores / Math.max(1, jobs))), log, verbose: opts.verbose, stop: opts.stop },
  );
  const store = RunStore.open(plan.lab);
  let runs: DdRun[];
  try {
    runs = readDdRuns(
      store,
      plan.runs.map((r) => r.job.runId),
    );
  } finally {
    store.close();
  }
  const rows = pointRows(runs, SWEEPS);
  const targets = checkTargets(rows, runs);
  const pt = pointTable(rows);
  const ot = onsetTable(onsetRows(runs));
  const summaryText = [
    `experiment ${NAME}: ${TITLE}`,
    "",
    formatTable(pt.header, pt.cells),
    "",
    "onset of ICL (attention models that learn it):",
    formatTable(ot.header, ot.cells),
    "",
    "targets:",
    ...targets.map((t) => `  [${t.met === null ? "not measured" : t.met ? "met" : "NOT met"}] ${t.target}: ${t.evidence}`),
    "",
    "Interval: from the lowest 95% Wilson lower bound to the highest upper bound among the seeds' final accuracies; chance: ICL 1/(N/B) = 0.25, IWL 1/L = 0.031.",
  ].join("\n");
  let report: string | null = null;
  if (opts.report !== false && runs.length > 0) {
    const out = join(plan.lab, "reports", NAME);
    const base = (arch: string) => runsAt(runs, SWEEPS[1], BASE.classes, arch);
    const r = await renderDdReport({
      title: `icl-lab experiment ${NAME}`,
      intro: `${TITLE}. Items: Gaussian-mixture vectors (D=31), L=32 labels, N=8 pairs + query, B=2; ${plan.scale.steps} steps of batch ${plan.scale.batch}${longer(plan.scale.steps)}; evaluations on ${plan.scale.evalSequences} fixed sequences each.`,
      runs,
      sweeps: SWEEPS,
      curveRuns: [
        {
          title: `attention-only at the base point (K=${BASE.classes}, p_B=${BASE.pBursty}, ε=${BASE.epsilon}): ICL, IWL and head scores over training`,
          runs: base("attn-only"),
        },
        { title: `transformer at the base point`, runs: base("transformer") },
        { title: `attention-only at K=256 (IWL wins)`, runs: runsAt(runs, SWEEPS[1], 256, "attn-only") },
      ],
      out,
      png: opts.png,
    });
    report = r.html;
    writeFileAtomic(join(out, "summary.txt"), `${summaryText}\n`);
    writeFileAtomic(join(out, "summary.json"), JSON.stringify({ experiment: NAME, scale: plan.scale, rows, targets, outcomes }, null, 2));
  }
  return { lab: plan.lab, runs: plan.runs, outcomes, rows, targets, summaryText, report, seconds: (performance.now() - t0) / 1000 };
}
