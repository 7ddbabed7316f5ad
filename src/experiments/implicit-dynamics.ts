/**
 * `implicit-dynamics`: the context's effect as an implicit rank-1 weight update, and how it
 * converges as the context grows, against explicit gradient descent with the same examples —
 * Dherin et al. 2025 ("Learning without training", arXiv 2507.16003), in the pre-LN residual form
 * of Innocenti & Achour 2025 (src/measure/implicit-update.ts, src/measure/implicit-dynamics.ts).
 *
 * 1. In-context linear regression (src/data/synthetic/regression.ts), the paper's task: D = 2,
 *    N = 20 examples, the paired layout (one token (x_i, y_i) per example, the query (x_q, 0) last,
 *    loss on the query), read through a linear input embedding (src/model/vector-input.ts).
 *    Trained here (src/train/regression.ts), in this process, one after the other:
 *      a 1-block transformer (attention + MLP, d_model 64, 2 heads × 32, d_mlp 256, pre-LN, no
 *      positions: the paper's single contextual block), an LSTM and a tanh RNN (hidden 64) as
 *      contextual layers for contrast (their "update" lands on the prediction's readout: the file
 *      comment of src/measure/implicit-dynamics.ts defines it).
 *    Measured in float64 on fixed held-out sequences: the query's loss against the number of
 *    examples for ICL, explicit GD on W (step 1/‖u₀‖² and a tuned rate) and least squares; the
 *    marginal update; its cosine with −∇; the identity residuals.
 * 2. Tokens: the implicit update of a stored `transformer` token run (the newest finished one in
 *    the lab, or --token-run), on its evaluation windows (src/experiments/implicit-dynamics-token.ts);
 *    a lab without one first trains the architectures experiment's transformer on the demo mixture.
 *
 * The regression models are not stored in the lab (they train in about a minute each; the numbers
 * are a pure function of the seed); the results are under reports/implicit-dynamics/.
 */
import { join } from "node:path";
import { sampleRegression, type RegressionTaskOptions } from "../data/synthetic/regression.ts";
import { implicitDynamics, type DynamicsSummary } from "../measure/implicit-dynamics.ts";
import { parseModelConfig, type ModelConfig } from "../model/config.ts";
import { regressionTable, renderImplicitDynamicsReport, tokenTable, type TokenDynamics } from "../report/implicit-dynamics.ts";
import { resolveLabDir } from "../store/run-store.ts";
import { trainRegression } from "../train/regression.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { Rng } from "../util/random.ts";
import { findTokenRun, tokenDynamics, trainTokenRun } from "./implicit-dynamics-token.ts";
import { formatTable } from "./summary.ts";
import { CLASSIFICATION_EXPERIMENTS } from "./index.ts";

export const NAME = "implicit-dynamics" as const;
export const TITLE = CLASSIFICATION_EXPERIMENTS[NAME];

export const ARCHS = ["transformer", "lstm", "rnn"] as const;
export type Arch = (typeof ARCHS)[number];

export interface IdScale {
  dim: number;
  context: number;
  dModel: number;
  dMlp: number;
  dHidden: number;
  steps: number;
  batch: number;
  lr: number;
  /** Held-out sequences of the float64 measurement. */
  evalSequences: number;
  /** Evaluation windows of the token run. */
  windows: number;
}

export const ID_SCALES: Record<"default" | "smoke", IdScale> = {
  default: { dim: 2, context: 20, dModel: 64, dMlp: 256, dHidden: 64, steps: 3000, batch: 64, lr: 1e-3, evalSequences: 64, windows: 2 },
  smoke: { dim: 2, context: 4, dModel: 8, dMlp: 16, dHidden: 8, steps: 20, batch: 8, lr: 1e-3, evalSequences: 3, windows: 1 },
};

/** The model config of an architecture (dVocab 2: output 0 is the prediction; configs need dVocab ≥ 2). */
export function modelConfig(arch: Arch, s: IdScale): ModelConfig {
  const nCtx = s.context + 1,
    dVocab = 2;
  const table: Record<Arch, object> = {
    transformer: {
      kind: "transformer",
      nLayers: 1,
      dModel: s.dModel,
      nHeads: 2,
      dHead: s.dModel / 2,
      dMlp: s.dMlp,
      nCtx,
      dVocab,
      positions: "none",
      layerNorm: true,
    },
    lstm: { kind: "lstm", nLayers: 1, dModel: s.dModel, dHidden: s.dHidden, nCtx, dVocab },
    rnn: { kind: "rnn", nLayers: 1, dModel: s.dModel, dHidden: s.dHidden, nCtx, dVocab },
  };
  return parseModelConfig(table[arch]);
}

export interface IdOptions {
  lab?: string;
  smoke?: boolean;
  steps?: number;
  seed?: number;
  archs?: readonly Arch[];
  /** The token run to measure (default: the newest finished transformer run); null: skip the token part. */
  tokenRun?: string | null;
  /** The lab holding the token run (default: `lab`). */
  tokenLab?: string;
  png?: boolean;
  report?: boolean;
  log?: (line: string) => void;
}

export interface IdModelResult {
  arch: Arch;
  trainSeconds: number;
  measureSeconds: number;
  finalTrainLoss: number;
  dynamics: DynamicsSummary;
}

export interface IdResult {
  lab: string;
  scale: IdScale;
  models: IdModelResult[];
  token: TokenDynamics | null;
  /** Why the token part is missing, when it is. */
  tokenNote: string | null;
  summaryText: string;
  report: string | null;
  seconds: number;
}

/** Trains, measures, summarises and reports (see the file comment). */
export async function runImplicitDynamics(opts: IdOptions = {}): Promise<IdResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const lab = resolveLabDir(opts.lab);
  const scale = { ...ID_SCALES[opts.smoke ? "smoke" : "default"], ...(opts.steps !== undefined ? { steps: opts.steps } : {}) };
  const seed = opts.seed ?? 0;
  const task: RegressionTaskOptions = { dim: scale.dim, context: scale.context, format: "paired" };
  const evalBatch = sampleRegression(task, scale.evalSequences, new Rng(`implicit-dynamics/eval/${seed}`));
  const models: IdModelResult[] = [];
  for (const arch of opts.archs ?? ARCHS) {
    log(`${NAME}: training the ${arch} on in-context regression (D=${scale.dim}, N=${scale.context}, ${scale.steps} steps of ${scale.batch})`);
    const run = trainRegression({
      model: modelConfig(arch, scale),
      task,
      seed,
      steps: scale.steps,
      batch: scale.batch,
      lr: scale.lr,
      warmupSteps: Math.min(100, scale.steps),
      weightDecay: 0,
      clip: 1,
    });
    const t1 = performance.now();
    const dynamics = implicitDynamics(run.model, evalBatch);
    const measureSeconds = (performance.now() - t1) / 1000;
    log(`${NAME}: ${arch} trained in ${run.seconds.toFixed(0)} s, measured in ${measureSeconds.toFixed(0)} s`);
    models.push({ arch, trainSeconds: run.seconds, measureSeconds, finalTrainLoss: run.losses[run.losses.length - 1].loss, dynamics });
  }
  let token: TokenDynamics | null = null,
    tokenNote: string | null = null;
  if (opts.tokenRun === null) tokenNote = "skipped (--no-token)";
  else {
    const tokenLab = opts.tokenLab === undefined ? lab : resolveLabDir(opts.tokenLab);
    let id = findTokenRun(tokenLab, opts.tokenRun);
    // The default lab trains its own (the architectures experiment's transformer); a lab named by
    // --token-lab is only read.
    if (id === null && opts.tokenLab === undefined) {
      log(`${NAME}: no finished transformer token run in ${lab}: training the architectures experiment's (the demo mixture)`);
      id = await trainTokenRun(lab, { smoke: opts.smoke, log });
    }
    if (id === null)
      tokenNote = `no finished transformer token run in ${tokenLab}: train one (\`icl-lab experiment architectures\` or \`icl-lab train --preset transformer-2l\`) or pass --token-run ID`;
    else {
      log(`${NAME}: implicit update of token run ${id} on ${scale.windows} evaluation window(s)`);
      token = await tokenDynamics(tokenLab, id, { windows: scale.windows, log });
    }
  }
  const summaryText = summarize(models, token, tokenNote, scale);
  let report: string | null = null;
  if (opts.report !== false) {
    const out = join(lab, "reports", NAME);
    const r = await renderImplicitDynamicsReport({
      title: `icl-lab experiment ${NAME}`,
      intro: `${TITLE}. In-context linear regression y = ⟨w, x⟩, w ~ N(0, I/D) fresh per sequence, D=${scale.dim}, N=${scale.context} examples, paired tokens; ${scale.steps} training steps of batch ${scale.batch}; float64 measurement on ${scale.evalSequences} held-out sequences.`,
      models: models.map((m) => m.dynamics),
      token,
      out,
      png: opts.png,
    });
    report = r.html;
    writeFileAtomic(join(out, "summary.txt"), `${summaryText}\n`);
    writeFileAtomic(join(out, "summary.json"), JSON.stringify({ experiment: NAME, scale, models, token, tokenNote }, null, 2));
  }
  return { lab, scale, models, token, tokenNote, summaryText, report, seconds: (performance.now() - t0) / 1000 };
}

function summarize(models: readonly IdModelResult[], token: TokenDynamics | null, tokenNote: string | null, scale: IdScale): string {
  const rt = regressionTable(models.map((m) => m.dynamics));
  const lines = [
    `experiment ${NAME}: ${TITLE}`,
    "",
    `in-context linear regression (D=${scale.dim}, N=${scale.context}, paired tokens), ${scale.evalSequences} held-out sequences, float64; query MSE (predicting 0 scores ≈ 1):`,
    formatTable(rt.header, rt.cells),
    "",
    "identity: max |patched − direct| prediction (query) and implicit-update's check on every position and the logits (target ≤ 1e-10);",
    "ICL/GD/LS i: query MSE with i examples; h = 1/‖u₀‖² (the paper's step); marginal ‖ΔW(i+1) − ΔW(i)‖_F; decay slope of log marginal vs log(i+1) (the paper: ~−1);",
    "|cos|: marginal update vs −∇_W of the consumed example's loss, mean over i and sequences; random |cos| = √(2/(πn));",
    "|cos| out-side: the same for the output-side factors alone ((u_{i+1} − u_i)·W vs δ; random √(2/(π·cols)); – for the one-column readouts).",
    "",
  ];
  if (token === null) lines.push(`token model: not measured (${tokenNote})`);
  else {
    const tt = tokenTable(token);
    lines.push(
      `token model: run ${token.run} at ${token.checkpoint} tokens, ${token.windows} window(s), queries at ${token.positions.join(", ")} (0-based):`,
      formatTable(tt.header, tt.cells),
    );
  }
  lines.push(
    "",
    ...models.map(
      (m) => `${m.arch}: trained ${m.trainSeconds.toFixed(0)} s (final train MSE ${m.finalTrainLoss.toFixed(3)}), measured ${m.measureSeconds.toFixed(0)} s`,
    ),
  );
  return lines.join("\n");
}
