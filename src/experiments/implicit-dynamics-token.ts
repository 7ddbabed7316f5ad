/**
 * The token half of `implicit-dynamics`: the implicit update (src/measure/implicit-update.ts) of a
 * stored `transformer` token run — by default the newest finished one in the lab (the
 * architectures experiment trains one on the demo mixture) — on its held-out evaluation windows,
 * reduced to what the experiment's table and figures show: per layer the identity residual, the
 * mean marginal update against the number of context tokens, its decay slope and its |cosine| with
 * −∇ against random matrices.
 */
import { isAbsolute, resolve } from "node:path";
import { prepareTrainData } from "../data/train-data.ts";
import { implicitUpdate, summarizeImplicitUpdates, type ImplicitUpdateResult } from "../measure/implicit-update.ts";
import { modelFromCheckpoint } from "../model/load.ts";
import type { TokenDynamics } from "../report/implicit-dynamics.ts";
import { RunStore } from "../store/run-store.ts";
import { architectures } from "./architectures.ts";
import { runExperiment } from "./runner.ts";
import type { ExperimentDefinition } from "./types.ts";

/** The run to measure: `runId` when given, else the newest finished transformer run; null when the lab has none. */
export function findTokenRun(lab: string, runId?: string): string | null {
  const store = RunStore.open(lab);
  try {
    if (runId !== undefined) {
      const info = store.getRun(runId);
      if (info === undefined) throw new Error(`implicit-dynamics: no run '${runId}' in ${lab} (see \`icl-lab runs\`)`);
      if (info.kind !== "transformer") throw new Error(`implicit-dynamics: run '${runId}' is a '${info.kind}' model; the token part needs a 'transformer'`);
      return runId;
    }
    const runs = store.listRuns({ kind: "transformer", status: "finished" }).sort((a, b) => b.updatedAt - a.updatedAt);
    return runs.length === 0 ? null : runs[0].id;
  } finally {
    store.close();
  }
}

/**
 * Tokens of the token transformer this experiment trains when the lab has none: a third of the
 * architectures experiment's 24M, so that the whole experiment stays within 15 minutes on 2 cores
 * (that transformer trains at ~22k tokens/s on one core; 24M tokens alone would take 18 minutes).
 */
export const TOKEN_RUN_TOKENS = 8_000_000;

/**
 * Trains the architectures experiment's transformer in `lab` (2 layers with MLPs, parameters
 * matched to the demo's attention-only model, the demo's mixture; in this process) for
 * TOKEN_RUN_TOKENS, and returns its run id. An interrupted one resumes; a second call finds it.
 */
export async function trainTokenRun(lab: string, opts: { smoke?: boolean; log: (s: string) => void }): Promise<string> {
  const transformerOnly: ExperimentDefinition = {
    ...architectures,
    async configs(o, ctx) {
      const plan = await architectures.configs(o, ctx);
      return { ...plan, configs: plan.configs.filter((c) => (c.model as { kind?: string }).kind === "transformer") };
    },
  };
  const r = await runExperiment(transformerOnly, {
    lab,
    seeds: 1,
    scale: opts.smoke ? "smoke" : "default",
    tokens: opts.smoke ? undefined : TOKEN_RUN_TOKENS,
    runner: "inline",
    // Minutes of training: a line per checkpoint through `log` (silenced by the tests).
    progress: "lines",
    report: false,
    log: opts.log,
  });
  const failed = r.outcomes.filter((o) => o.status === "failed");
  if (r.outcomes.length !== 1 || failed.length > 0)
    throw new Error(`implicit-dynamics: training the token transformer failed (${failed.map((o) => o.error ?? o.status).join("; ") || "no run planned"})`);
  return r.outcomes[0].runId;
}

/** Mean over the arrays of each index (arrays of different lengths: the mean of those that reach it). */
function meanRagged(rows: readonly (readonly number[])[]): number[] {
  const n = Math.max(0, ...rows.map((r) => r.length));
  return Array.from({ length: n }, (_, i) => {
    const vs = rows.filter((r) => i < r.length && Number.isFinite(r[i])).map((r) => r[i]);
    return vs.reduce((a, b) => a + b, 0) / Math.max(1, vs.length);
  });
}

/** Measures the run's last checkpoint on `windows` evaluation windows at the queries nCtx − 1 and nCtx/2 − 1. */
export async function tokenDynamics(lab: string, runId: string, opts: { windows: number; log?: (s: string) => void }): Promise<TokenDynamics> {
  const store = RunStore.open(lab);
  let info, checkpoints;
  try {
    info = store.getRun(runId)!;
    checkpoints = store.checkpoints(runId);
  } finally {
    store.close();
  }
  if (checkpoints.length === 0) throw new Error(`implicit-dynamics: run '${runId}' has no checkpoints`);
  const ck = checkpoints[checkpoints.length - 1];
  const config = info.config as { model: { kind: string; nCtx: number }; data: { evalWindows: number } };
  const { model } = modelFromCheckpoint(config.model, isAbsolute(ck.path) ? ck.path : resolve(lab, ck.path));
  const nCtx = config.model.nCtx;
  const data = await prepareTrainData(
    { ...config, data: { ...config.data, evalWindows: Math.max(opts.windows, config.data.evalWindows) } } as never,
    lab,
    opts.log,
  );
  const all = data.eval.windows;
  const positions = [...new Set([nCtx - 1, Math.floor(nCtx / 2) - 1].filter((t) => t >= 0))];
  const results: ImplicitUpdateResult[] = [];
  for (let w = 0; w < opts.windows; w++) {
    results.push(implicitUpdate(model, all.slice(w * (nCtx + 1), w * (nCtx + 1) + nCtx), { positions, seed: w }));
  }
  const sums = summarizeImplicitUpdates(results);
  return {
    run: runId,
    checkpoint: ck.tokens,
    windows: opts.windows,
    positions,
    layers: sums.map((s) => ({
      layer: s.layer,
      identity: Math.max(s.identityBlock, s.identityLogits),
      marginal: meanRagged(results.flatMap((r) => r.layers[s.layer].dynamics.map((q) => q.marginal))),
      decaySlope: s.decaySlope,
      absCosine: s.absCosine,
      randomAbsCosine: s.randomAbsCosine,
      marginalAt: s.marginalAt,
    })),
  };
}
