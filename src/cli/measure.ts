/**
 * `icl-lab measure icl|heads|ablate|tasks|phase --run ID [--checkpoint TOKENS] [--windows N]`:
 * one measurement of a stored run's checkpoint (the last by default), on the run's own held-out
 * evaluation windows — or on windows from a file (`--windows-file W.npy`, int32 [N, nCtx + 1]),
 * so another implementation can score the same windows; `--dump-windows W.npy` writes the
 * windows used. `phase` reads the stored trajectories and runs the detectors.
 */
import type { Command } from "commander";
import { UserError } from "./errors.ts";

const KINDS = ["icl", "heads", "ablate", "tasks", "phase"] as const;
type Kind = (typeof KINDS)[number];

interface Opts {
  run: string;
  checkpoint?: string;
  windows?: string;
  windowsFile?: string;
  dumpWindows?: string;
  lab?: string;
  json?: boolean;
  seed?: string;
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.replace(/_/g, ""));
  if (!Number.isInteger(n) || n < 0) throw new UserError(`--${name} must be a non-negative integer, found '${v}'`);
  return n;
}

export function register(program: Command): void {
  program
    .command("measure")
    .description("Measure a stored run's checkpoint: icl | heads | ablate | tasks | phase")
    .argument("<what>", KINDS.join(" | "))
    .requiredOption("--run <id>", "run id (see `icl-lab runs`)")
    .option("--checkpoint <tokens>", "the checkpoint's token count (default: the last)")
    .option("--windows <n>", "number of evaluation windows (default: all the run's)")
    .option("--windows-file <file>", "evaluate on these windows (.npy int32 [N, nCtx + 1])")
    .option("--dump-windows <file>", "write the windows used (.npy int32 [N, nCtx + 1])")
    .option("--seed <n>", "seed of the measurement's random choices (default 0)")
    .option("--lab <dir>", "lab folder")
    .option("--json", "print JSON")
    .action(async (what: string, o: Opts) => {
      if (!(KINDS as readonly string[]).includes(what)) throw new UserError(`measure: unknown measurement '${what}'; expected one of ${KINDS.join(", ")}`);
      const result = await measure(what as Kind, o);
      if (o.json) console.log(JSON.stringify(result, null, 2));
      else printResult(what as Kind, result);
    });
}

async function measure(what: Kind, o: Opts): Promise<Record<string, unknown>> {
  const { RunStore, resolveLabDir } = await import("../store/run-store.ts");
  const lab = resolveLabDir(o.lab);
  const store = RunStore.open(lab);
  let info, checkpoints, stored: Record<string, unknown> = {};
  try {
    info = store.getRun(o.run);
    if (info === undefined) throw new UserError(`measure: no run '${o.run}' in ${lab} (see \`icl-lab runs\`)`);
    if (info.corrupt) throw new UserError(`measure: run '${o.run}' has a corrupt stored config (${info.corrupt})`);
    checkpoints = store.checkpoints(o.run);
    if (what === "phase") {
      stored = {
        icl: store.metricSeries(o.run, "icl.score"),
        loss: store.metricSeries(o.run, "train_loss"),
        heads: store.jsonSeries(o.run, "heads.heads").map((r) => ({ tokens: r.tokens, heads: r.value as Array<{ layer: number; head: number; induction: number }> })),
      };
    }
  } finally {
    store.close();
  }
  if (what === "phase") {
    const { iclPhaseChange, inductionPhaseChange, detectLossBump } = await import("../measure/index.ts");
    const icl = stored.icl as Array<{ tokens: number; value: number }>;
    if (icl.length === 0) throw new UserError(`measure phase: run '${o.run}' has no stored ICL scores (train it with measures: ["icl"])`);
    return {
      run: o.run,
      iclScore: iclPhaseChange(icl),
      inductionScore: (stored.heads as unknown[]).length > 0 ? inductionPhaseChange(stored.heads as never) : { status: "none", reason: "no head scores stored" },
      lossBump: detectLossBump(stored.loss as Array<{ tokens: number; value: number }>),
    };
  }
  const wanted = int("checkpoint", o.checkpoint);
  if (checkpoints.length === 0) throw new UserError(`measure: run '${o.run}' has no checkpoints yet`);
  const ck = wanted === undefined ? checkpoints[checkpoints.length - 1] : checkpoints.find((c) => c.tokens === wanted);
  if (ck === undefined) throw new UserError(`measure: run '${o.run}' has no checkpoint at ${wanted} tokens; it has ${checkpoints.map((c) => c.tokens).join(", ")}`);
  const { resolve, isAbsolute } = await import("node:path");
  const path = isAbsolute(ck.path) ? ck.path : resolve(lab, ck.path);
  const { modelFromCheckpoint } = await import("../model/load.ts");
  const config = info.config as { model: { nCtx: number } };
  const { model } = modelFromCheckpoint(config.model, path);

  const m = await import("../measure/index.ts");
  const seed = int("seed", o.seed) ?? 0;
  const length = config.model.nCtx + 1;
  // Windows: from the file, else the run's own held-out windows (the data pipeline's cache).
  let windows: Int32Array | undefined;
  let eodId: number | undefined;
  let tokenCounts: Float64Array | undefined;
  if ((what !== "heads" && what !== "tasks") || o.dumpWindows !== undefined) {
    if (o.windowsFile !== undefined) {
      const f = m.readWindowsNpy(o.windowsFile);
      if (f.length !== length) throw new UserError(`--windows-file ${o.windowsFile}: windows have ${f.length} tokens, this model needs nCtx + 1 = ${length}`);
      windows = f.windows;
    } else {
      const { prepareTrainData } = await import("../data/train-data.ts");
      // More windows than the run measured with: the same held-out split, a longer prefix of it.
      const c = info.config as { data: { evalWindows: number } };
      const want = int("windows", o.windows) ?? c.data.evalWindows;
      const data = await prepareTrainData({ ...c, data: { ...c.data, evalWindows: Math.max(want, c.data.evalWindows) } } as never, lab);
      windows = data.eval.windows;
      eodId = data.eodId;
      tokenCounts = data.tokenCounts;
    }
    const n = int("windows", o.windows);
    if (n !== undefined) {
      if (n * length > windows.length) throw new UserError(`--windows ${n}: only ${windows.length / length} windows are available`);
      windows = windows.subarray(0, n * length);
    }
    if (o.dumpWindows !== undefined) m.writeWindowsNpy(o.dumpWindows, windows, { length });
  }
  const vocab = { bos: eodId ?? null, frequencies: tokenCounts };
  const base = { run: o.run, checkpoint: ck.tokens, windows: windows === undefined ? 0 : windows.length / length };
  switch (what) {
    case "icl":
      return { ...base, ...m.iclScore(model, windows!, { windowLength: length, seed }) };
    case "heads":
      return { ...base, ...m.headScores(model, { seed, vocab }) };
    case "ablate":
      return { ...base, ...m.headAblation(model, windows!, { windowLength: length, seed }) };
    case "tasks":
      return { ...base, ...m.taskAccuracy(model, { seed, vocab }) };
  }
}

function printResult(what: Kind, r: Record<string, unknown>): void {
  const f = (x: unknown, d = 3) => (typeof x === "number" ? x.toFixed(d) : String(x));
  if (what === "icl") {
    console.log(`run ${r.run} at ${r.checkpoint} tokens, ${r.windows} windows`);
    console.log(`ICL score ${f(r.score)} [${f(r.lo)}, ${f(r.hi)}] (95% bootstrap), loss@50 ${f(r.loss50)}, loss@500 ${f(r.loss500)}`);
    return;
  }
  if (what === "heads") {
    const heads = (r.heads ?? []) as Array<Record<string, number>>;
    console.log(`run ${r.run} at ${r.checkpoint} tokens`);
    console.log("head    induction  prefix  prev-token  copying");
    for (const h of heads) console.log(`L${h.layer}H${h.head}`.padEnd(8) + [h.induction, h.prefixMatching, h.previousToken, h.copying].map((x) => f(x, 2).padStart(9)).join("  "));
    return;
  }
  console.log(JSON.stringify(r, null, 2));
}
