/**
 * `icl-lab measure icl|heads|ablate|tasks|phase|inputs --run ID [--checkpoint TOKENS] [--windows N]`:
 * one measurement of a stored run's checkpoint (the last by default), measured as the trainer
 * measured it: with the run's measurement inputs (seed, BOS, token pools, measure options;
 * src/measure/run-inputs.ts) — stored with the run, or, for a run trained before they were stored,
 * derived from its training data exactly as its trainer derived them (slower: the data pipeline
 * runs). `--seed` overrides the run's seed. ICL and ablation use the run's own held-out evaluation
 * windows, or windows from a file (`--windows-file W.npy`, int32 [N, nCtx + 1]), so another
 * implementation can score the same windows; `--dump-windows W.npy` writes the windows used.
 * `phase` runs the phase-change analysis on the stored series (src/measure/phase-analysis.ts, the
 * report's); `inputs` shows the run's measurement inputs (`--save` stores derived ones with the run).
 */
import type { Precision } from "../engine/kernels.ts";
import type { Command } from "commander";
import { UserError, withUserErrors } from "./errors.ts";
import { formatTokens } from "../util/format.ts";
import { METRIC, RECORD } from "../measure/names.ts";

const KINDS = ["icl", "heads", "ablate", "tasks", "phase", "inputs"] as const;
type Kind = (typeof KINDS)[number];

export interface MeasureCliOptions {
  run?: string;
  checkpoint?: string;
  windows?: string;
  windowsFile?: string;
  dumpWindows?: string;
  lab?: string;
  json?: boolean;
  seed?: string;
  save?: boolean;
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.replace(/_/g, ""));
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new UserError(`--${name} must be a non-negative integer, found '${v}'`);
  return n;
}

export function register(program: Command): void {
  program
    .command("measure")
    .description("Measure a stored run's checkpoint as its trainer did: icl | heads | ablate | tasks | phase | inputs")
    .argument("<what>", [...KINDS, "implicit-update"].join(" | "))
    .option("--run <id>", "run id (see `icl-lab runs`)")
    .option("--checkpoint <tokens>", "the checkpoint's token count (default: the last)")
    .option("--windows <n>", "number of evaluation windows (default: all the run's)")
    .option("--windows-file <file>", "evaluate on these windows (.npy int32 [N, nCtx + 1])")
    .option("--dump-windows <file>", "write the windows used (.npy int32 [N, nCtx + 1])")
    .option("--seed <n>", "seed of the measurement's random choices (default: the run's)")
    .option("--positions <list>", "implicit-update: query positions of the dynamics, 0-based, comma-separated (default: nCtx − 1 and nCtx/2 − 1)")
    .option("--draws <n>", "implicit-update: random matrices of the cosine baseline (default 16)")
    .option("--save", "inputs: store the derived measurement inputs with a run trained before they were stored")
    .option("--lab <dir>", "lab folder")
    .option("--json", "print JSON")
    .action(
      withUserErrors(async (what: string, o: MeasureCliOptions & { positions?: string; draws?: string }) => {
        if (what === "implicit-update") {
          // Its own command module (float64, transformer runs only; src/cli/implicit-update.ts).
          const { implicitUpdateCommand } = await import("./implicit-update.ts");
          if (o.run === undefined || o.run === "") throw new UserError("measure implicit-update: --run ID is required (see `icl-lab runs`)");
          await implicitUpdateCommand({
            run: o.run,
            checkpoint: o.checkpoint,
            lab: o.lab,
            json: o.json,
            positions: o.positions,
            windows: o.windows ?? 2,
            draws: o.draws,
          });
          return;
        }
        const result = await measureRun(what, o);
        if (o.json) console.log(JSON.stringify(result, null, 2));
        else printResult(what as Kind, result);
      }),
    );
}

/**
 * The command without the printing: checks the arguments (a UserError names the wrong one), then
 * measures. Exported for tests and scripts.
 */
export async function measureRun(what: string, o: MeasureCliOptions): Promise<Record<string, unknown>> {
  if (!(KINDS as readonly string[]).includes(what)) throw new UserError(`measure: unknown measurement '${what}'; expected one of ${KINDS.join(", ")}`);
  const kind = what as Kind;
  if (o.run === undefined || o.run === "") throw new UserError(`measure ${kind}: --run ID is required (see \`icl-lab runs\`)`);
  const wanted = int("checkpoint", o.checkpoint);
  const nWindows = int("windows", o.windows);
  const seedOverride = int("seed", o.seed);
  if (o.save && kind !== "inputs") throw new UserError(`measure ${kind}: --save applies to \`measure inputs\` only`);
  if (o.windowsFile !== undefined && kind !== "icl" && kind !== "ablate") throw new UserError(`measure ${kind}: --windows-file applies to icl and ablate only`);

  const { RunStore, resolveLabDir } = await import("../store/run-store.ts");
  const lab = resolveLabDir(o.lab);
  const { existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  // Reading never creates a lab.
  if (!existsSync(join(lab, "lab.db"))) throw new UserError(`measure: no lab at ${lab} (no lab.db); give --lab DIR`);
  const store = RunStore.open(lab);
  try {
    const info = store.getRun(o.run);
    if (info === undefined) throw new UserError(`measure: no run '${o.run}' in ${lab} (see \`icl-lab runs\`)`);
    if (info.corrupt) throw new UserError(`measure: run '${o.run}' has a corrupt stored config (${info.corrupt})`);
    if (kind === "phase") return await phase(store, o.run);

    const config = info.config as { model: { nCtx: number }; data: { evalWindows: number } };
    const length = config.model.nCtx + 1;
    // The run's data, prepared at most once: for its held-out windows (more than the run measured
    // with: the same split, a longer prefix of it) and, for a run without stored inputs, its token counts.
    let prepared: Promise<{ eval: { windows: Int32Array }; eodId?: number; tokenCounts?: Float64Array }> | undefined;
    const data = () => {
      prepared ??= (async () => {
        const { prepareTrainData } = await import("../data/train-data.ts");
        const want = Math.max(nWindows ?? 0, config.data.evalWindows);
        return prepareTrainData({ ...config, data: { ...config.data, evalWindows: want } } as never, lab);
      })();
      return prepared;
    };
    const { measureInputs } = await import("../measure/run-inputs.ts");
    const { inputs, source } = await measureInputs(store, o.run, { data, save: o.save });
    if (kind === "inputs") {
      return {
        run: o.run,
        source: o.save && source === "derived" ? "derived, now stored" : source,
        seed: inputs.seed,
        bos: inputs.bos,
        pools: { heads: Array.from(inputs.pools.heads), tasks: Array.from(inputs.pools.tasks) },
        options: inputs.options,
      };
    }

    const checkpoints = store.checkpoints(o.run);
    if (checkpoints.length === 0) throw new UserError(`measure: run '${o.run}' has no checkpoints yet`);
    const ck = wanted === undefined ? checkpoints[checkpoints.length - 1] : checkpoints.find((c) => c.tokens === wanted);
    if (ck === undefined)
      throw new UserError(`measure: run '${o.run}' has no checkpoint at ${wanted} tokens; it has ${checkpoints.map((c) => c.tokens).join(", ")}`);

    const m = await import("../measure/index.ts");
    let windows: Int32Array | undefined;
    if (kind === "icl" || kind === "ablate" || o.dumpWindows !== undefined) {
      if (o.windowsFile !== undefined) {
        let f;
        try {
          f = m.readWindowsNpy(o.windowsFile);
        } catch (e) {
          throw new UserError(`--windows-file ${o.windowsFile}: ${(e as Error).message}`);
        }
        if (f.length !== length) throw new UserError(`--windows-file ${o.windowsFile}: windows have ${f.length} tokens, this model needs nCtx + 1 = ${length}`);
        windows = f.windows;
      } else {
        windows = (await data()).eval.windows;
      }
      if (nWindows !== undefined) {
        if (nWindows * length > windows.length) throw new UserError(`--windows ${nWindows}: only ${windows.length / length} windows are available`);
        windows = windows.subarray(0, nWindows * length);
      }
      if (o.dumpWindows !== undefined) m.writeWindowsNpy(o.dumpWindows, windows, { length });
    }

    const { modelFromCheckpoint } = await import("../model/load.ts");
    const { model } = modelFromCheckpoint((info.config as { model: unknown }).model, ck.path);
    // The run's own precision (absent in runs from before it was recorded: fp32).
    (await import("../engine/precision.ts")).usePrecision((info.config as { precision?: Precision }).precision);
    // The trainer's registry with the trainer's inputs: the same numbers it stored at this checkpoint.
    const ctx = { inputs, seed: seedOverride ?? inputs.seed, windows, windowLength: length };
    const base = { run: o.run, checkpoint: ck.tokens, windows: windows === undefined ? 0 : windows.length / length, seed: ctx.seed, inputs: source };
    switch (kind) {
      case "icl":
        return { ...base, ...m.MEASURES.icl(model, ctx) };
      case "heads":
        return { ...base, ...m.MEASURES.heads(model, ctx) };
      case "ablate":
        return { ...base, ...m.MEASURES.ablation(model, ctx) };
      case "tasks":
        return { ...base, ...m.MEASURES.tasks(model, ctx) };
    }
  } finally {
    store.close();
  }
}

/** The phase-change analysis of the run's stored series (the report's: src/measure/phase-analysis.ts). */
async function phase(store: import("../store/run-store.ts").RunStore, run: string): Promise<Record<string, unknown>> {
  const se = new Map(store.metricSeries(run, METRIC.iclSe).map((p) => [p.tokens, p.value]));
  const icl = store.metricSeries(run, METRIC.iclScore).map((p) => ({ ...p, se: se.get(p.tokens) ?? null }));
  if (icl.length === 0) throw new UserError(`measure phase: run '${run}' has no stored ICL scores (train it with measures: ["icl"])`);
  let heads;
  try {
    heads = store.jsonSeries(run, RECORD.heads).map((r) => ({ tokens: r.tokens, heads: r.value }));
  } catch (e) {
    throw new UserError(`measure phase: the stored head scores of run '${run}' are corrupt (${(e as Error).message})`);
  }
  const { phaseAnalysis } = await import("../measure/phase-analysis.ts");
  const a = phaseAnalysis({ icl, heads, loss: store.metricSeries(run, METRIC.trainLoss) });
  return { run, iclNoise: a.iclNoise, iclScore: a.icl, inductionScore: a.induction, lossBump: a.lossBump };
}

function printResult(what: Kind, r: Record<string, unknown>): void {
  const f = (x: unknown, d = 3) => (typeof x === "number" ? x.toFixed(d) : String(x));
  const from = `measured with the run's ${r.inputs === "stored" ? "stored" : "derived (re-read from its data)"} measurement inputs, seed ${r.seed}`;
  if (what === "icl") {
    console.log(`run ${r.run} at ${r.checkpoint} tokens, ${r.windows} windows; ${from}`);
    console.log(`ICL score ${f(r.score)} [${f(r.lo)}, ${f(r.hi)}] (95% bootstrap), loss@50 ${f(r.loss50)}, loss@500 ${f(r.loss500)}`);
    return;
  }
  if (what === "heads") {
    const heads = (r.heads ?? []) as Array<Record<string, number>>;
    console.log(`run ${r.run} at ${r.checkpoint} tokens; ${from}, ${r.nSequences} sequences`);
    console.log("head    induction  prefix  prev-token  copying");
    for (const h of heads)
      console.log(`L${h.layer}H${h.head}`.padEnd(8) + [h.induction, h.prefixMatching, h.previousToken, h.copying].map((x) => f(x, 2).padStart(9)).join("  "));
    return;
  }
  if (what === "inputs") {
    const pools = r.pools as { heads: number[]; tasks: number[] };
    console.log(`run ${r.run}: measurement inputs ${r.source}`);
    console.log(`seed ${r.seed}, BOS ${r.bos ?? "none"}, head-score pool ${pools.heads.length} tokens, task pool ${pools.tasks.length} tokens`);
    console.log(`options ${JSON.stringify(r.options)}`);
    return;
  }
  if (what === "phase") {
    type P = { status: string; start?: number; end?: number; size: number; reason?: string; required: number; layer?: number | null; head?: number | null };
    const tok = (n: number | undefined) => formatTokens(n); // the one token formatter (src/util/format.ts)
    const line = (name: string, p: P) =>
      console.log(`${name}: ${p.status === "found" ? `${tok(p.start)}–${tok(p.end)} tokens (change ${f(p.size)})` : `none (${p.reason})`}`);
    console.log(`run ${r.run}`);
    line(`ICL score (noise ${r.iclNoise === null ? "estimated from the scores" : f(r.iclNoise)})`, r.iclScore as P);
    const ind = r.inductionScore as P;
    line(`induction score${ind.layer !== null && ind.layer !== undefined ? ` of L${ind.layer}H${ind.head}` : ""}`, ind);
    const b = r.lossBump as { status: string; start?: number; end?: number; height: number; reason?: string };
    console.log(`loss bump: ${b.status === "found" ? `${tok(b.start)}–${tok(b.end)} tokens (height ${f(b.height)})` : `none (${b.reason})`}`);
    return;
  }
  console.log(JSON.stringify(r, null, 2));
}
