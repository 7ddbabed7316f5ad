/**
 * `icl-lab measure implicit-update --run ID [--checkpoint T] [--windows N] [--positions 511,255]`:
 * the context's effect on a stored `transformer` run as an implicit rank-1 update of each MLP's
 * W_in plus a residual patch (Dherin et al. 2025; src/measure/implicit-update.ts), in float64 on
 * the first N of the run's held-out evaluation windows (default 2; the data pipeline's cache, as
 * `measure icl` reads them). Per layer: the identity residual (patched no-context model vs the
 * model with context), mean ‖ΔW_in‖_F and ‖Δb‖ over positions, the marginal update as the
 * context grows at the query positions, its decay slope, and its cosine with −∇W_in of the
 * consumed token's loss against random matrices.
 */
import { UserError } from "./errors.ts";
import { formatTable } from "./format-table.ts";
import type { ImplicitUpdateResult, LayerSummary } from "../measure/implicit-update.ts";

export interface ImplicitUpdateCommandOptions {
  run: string;
  /** The checkpoint's token count (default: the last). */
  checkpoint?: string | number;
  lab?: string;
  json?: boolean;
  /** Query positions of the dynamics, 0-based, comma-separated (default: nCtx − 1 and nCtx/2 − 1). */
  positions?: string | readonly number[];
  /** How many evaluation windows (default 2). */
  windows?: string | number;
  /** Random matrices of the cosine baseline (default 16). */
  draws?: string | number;
}

export interface ImplicitUpdateReport {
  run: string;
  checkpoint: number;
  windows: number;
  positions: number[];
  layers: LayerSummary[];
  /** Per window, the raw measurement (JSON output only). */
  results?: ImplicitUpdateResult[];
}

export interface ImplicitUpdateIo {
  log?: (line: string) => void;
  /** The run's evaluation windows, int32 [N, nCtx + 1] flat (tests inject their own). */
  loadWindows?: (config: unknown, lab: string, n: number) => Promise<Int32Array>;
}

function count(name: string, v: string | number | undefined, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  const n = typeof v === "number" ? v : Number(v.replace(/_/g, ""));
  if (!Number.isInteger(n) || n < min) throw new UserError(`--${name} must be an integer ≥ ${min}, found '${v}'`);
  return n;
}

async function runWindows(config: unknown, lab: string, n: number): Promise<Int32Array> {
  const { prepareTrainData } = await import("../data/train-data.ts");
  const c = config as { data: { evalWindows: number } };
  const data = await prepareTrainData({ ...c, data: { ...c.data, evalWindows: Math.max(n, c.data.evalWindows) } } as never, lab);
  return data.eval.windows;
}

/** Measures, prints (table or JSON) and returns the report. */
export async function implicitUpdateCommand(o: ImplicitUpdateCommandOptions, io: ImplicitUpdateIo = {}): Promise<ImplicitUpdateReport> {
  const log = io.log ?? ((line: string) => console.log(line));
  const { RunStore, resolveLabDir } = await import("../store/run-store.ts");
  const lab = resolveLabDir(o.lab);
  const store = RunStore.open(lab);
  let info, checkpoints;
  try {
    info = store.getRun(o.run);
    if (info === undefined) throw new UserError(`measure implicit-update: no run '${o.run}' in ${lab} (see \`icl-lab runs\`)`);
    if (info.corrupt) throw new UserError(`measure implicit-update: run '${o.run}' has a corrupt stored config (${info.corrupt})`);
    checkpoints = store.checkpoints(o.run);
  } finally {
    store.close();
  }
  const config = info.config as { model: { kind: string; nCtx: number } };
  if (config.model.kind !== "transformer") {
    throw new UserError(
      `measure implicit-update: run '${o.run}' is a '${config.model.kind}' model; the implicit update needs a 'transformer' (attention + MLP blocks)`,
    );
  }
  const nCtx = config.model.nCtx;
  const nWindows = count("windows", o.windows, 2, 1);
  const draws = count("draws", o.draws, 16, 1);
  let positions: number[];
  if (o.positions === undefined) positions = [...new Set([nCtx - 1, Math.floor(nCtx / 2) - 1].filter((t) => t >= 0))];
  else if (typeof o.positions === "string")
    positions = o.positions
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => count("positions", s, 0));
  else positions = [...o.positions];
  for (const t of positions) {
    if (!Number.isInteger(t) || t < 0 || t >= nCtx) throw new UserError(`--positions: ${t} is outside the model's positions 0..${nCtx - 1} (0-based)`);
  }
  const wanted = o.checkpoint === undefined ? undefined : count("checkpoint", o.checkpoint, 0);
  if (checkpoints.length === 0) throw new UserError(`measure implicit-update: run '${o.run}' has no checkpoints yet`);
  const ck = wanted === undefined ? checkpoints[checkpoints.length - 1] : checkpoints.find((c) => c.tokens === wanted);
  if (ck === undefined)
    throw new UserError(`measure implicit-update: run '${o.run}' has no checkpoint at ${wanted} tokens; it has ${checkpoints.map((c) => c.tokens).join(", ")}`);
  const { resolve, isAbsolute } = await import("node:path");
  const { modelFromCheckpoint } = await import("../model/load.ts");
  const { model } = modelFromCheckpoint(config.model, isAbsolute(ck.path) ? ck.path : resolve(lab, ck.path));

  const all = await (io.loadWindows ?? runWindows)(info.config, lab, nWindows);
  const length = nCtx + 1;
  if (all.length % length !== 0)
    throw new Error(`measure implicit-update: evaluation windows of ${all.length} tokens are not a multiple of nCtx + 1 = ${length}`);
  if (all.length / length < nWindows) throw new UserError(`--windows ${nWindows}: only ${all.length / length} windows are available`);
  const { implicitUpdate, summarizeImplicitUpdates } = await import("../measure/implicit-update.ts");
  const results: ImplicitUpdateResult[] = [];
  for (let w = 0; w < nWindows; w++) {
    // The model reads the window's first nCtx tokens; the losses' targets are inside them.
    results.push(implicitUpdate(model, all.slice(w * length, w * length + nCtx), { positions, draws, seed: w }));
  }
  const report: ImplicitUpdateReport = { run: o.run, checkpoint: ck.tokens, windows: nWindows, positions, layers: summarizeImplicitUpdates(results) };
  if (o.json) log(JSON.stringify({ ...report, results }, null, 2));
  else printReport(report, log);
  return report;
}

function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return "–";
  return Math.abs(x) !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e4) ? x.toExponential(1) : x.toFixed(digits);
}

export function printReport(r: ImplicitUpdateReport, log: (line: string) => void): void {
  log(`run ${r.run} at ${r.checkpoint} tokens, ${r.windows} evaluation windows, dynamics at positions ${r.positions.join(", ")} (0-based), float64`);
  log(
    formatTable(
      ["layer", "identity |Δy|", "|Δlogits|", "‖ΔW_in‖_F", "‖Δb‖", "marginal n=1", "n=10", "n=100", "decay slope", "cos(−∇)", "|cos|", "random |cos|"],
      r.layers.map((s) => [
        `L${s.layer}`,
        fmt(s.identityBlock),
        fmt(s.identityLogits),
        fmt(s.meanNormDW),
        fmt(s.meanNormDb),
        fmt(s.marginalAt[1]),
        fmt(s.marginalAt[10]),
        fmt(s.marginalAt[100]),
        fmt(s.decaySlope, 2),
        fmt(s.cosine),
        fmt(s.absCosine),
        fmt(s.randomAbsCosine),
      ]),
    ),
  );
  log(
    "identity: max over windows and positions (target ≤ 1e-10); ‖ΔW_in‖_F, ‖Δb‖: means with the full context; " +
      "marginal ‖ΔW(n) − ΔW(n−1)‖_F at n context tokens; decay slope of log marginal vs log n (−1: ~1/n); " +
      "cos: marginal update vs −∇W_in of the consumed token's next-token loss, against random Gaussian matrices",
  );
}
