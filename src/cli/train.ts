/**
 * `icl-lab train --preset NAME | --config FILE [--set key=value …]`: trains one model with the
 * trainer (src/train/train.ts) into the lab's runs store and prints the run id and final figures.
 *
 * `--set model.nLayers=3` overrides one field by its dotted path; the value is read as JSON when
 * it parses (numbers, booleans, arrays, quoted strings), else taken as a string. The resulting
 * config is validated before any data is prepared: an unknown key or a wrong type is one line
 * naming the key, exit 1. Re-running an interrupted run's command resumes it (the run id is a hash
 * of the resolved config).
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { PRESETS, PRESET_NAMES, presetConfig } from "../experiments/presets.ts";
import { parseModelConfig } from "../model/config.ts";
import { lastMetric } from "../measure/headline.ts";
import { MEASURE_NAMES } from "../measure/index.ts";
import { METRIC, type MetricName } from "../measure/names.ts";
import { parseTrainConfig, resolveModel } from "../train/config.ts";
import { train, type TrainData } from "../train/train.ts";
import { RunStore, resolveLabDir, runDir } from "../store/run-store.ts";
import { UserError, withUserErrors } from "./errors.ts";
import { LAB_HELP } from "./options.ts";
import { stderrLog } from "./progress.ts";

const KEY_PART = /^[A-Za-z0-9_-]+$/;

/** Parses `key=value`: the value as JSON when it parses, else as a string. */
export function parseSet(arg: string): { path: string[]; value: unknown } {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new UserError(`--set expects key=value (e.g. model.nLayers=3), found '${arg}'`);
  const path = arg.slice(0, eq).split(".");
  if (!path.every((p) => KEY_PART.test(p))) {
    throw new UserError(`--set: '${arg.slice(0, eq)}' is not a dotted key path (letters, digits, '_' and '-' between dots)`);
  }
  const raw = arg.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: a plain string (`--set model.positions=rotary`)
  }
  return { path, value };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Applies `--set` overrides to a config (in place), creating missing objects on the way. */
export function applySets(config: Record<string, unknown>, sets: readonly string[]): Record<string, unknown> {
  for (const arg of sets) {
    const { path, value } = parseSet(arg);
    let node = config;
    for (let i = 0; i < path.length - 1; i++) {
      const next = node[path[i]];
      if (next === undefined) node[path[i]] = {};
      else if (!isPlainObject(next)) {
        throw new UserError(`--set ${path.join(".")}: ${path.slice(0, i + 1).join(".")} is ${JSON.stringify(next)}, not an object`);
      }
      node = node[path[i]] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return config;
}

/** The config a `train` invocation describes, validated as far as it can be before the data exist. */
export function configFromOptions(opts: { preset?: string; config?: string; set?: string[] }): Record<string, unknown> {
  if ((opts.preset === undefined) === (opts.config === undefined)) {
    throw new UserError(`give exactly one of --preset NAME (${PRESET_NAMES.join(", ")}) or --config FILE`);
  }
  let config: Record<string, unknown>;
  if (opts.preset !== undefined) {
    if (!Object.hasOwn(PRESETS, opts.preset)) throw new UserError(`unknown preset '${opts.preset}' (known: ${PRESET_NAMES.join(", ")})`);
    config = presetConfig(opts.preset);
  } else {
    const file = opts.config!;
    if (!existsSync(file)) throw new UserError(`--config: ${file} does not exist`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new UserError(`--config: ${file} is not valid JSON (${(e as Error).message})`);
    }
    if (!isPlainObject(parsed))
      throw new UserError(`--config: ${file} must hold a JSON object (a training config), found ${Array.isArray(parsed) ? "an array" : typeof parsed}`);
    config = parsed;
  }
  applySets(config, opts.set ?? []);
  // Validate now: the trainer only checks the model once the tokenizer (maybe minutes away) gives dVocab.
  try {
    const parsed = parseTrainConfig(config);
    parseModelConfig(resolveModel(parsed.model, (parsed.model.dVocab ?? 257) as number));
    const unknown = parsed.measures.filter((m) => !(MEASURE_NAMES as string[]).includes(m));
    if (unknown.length > 0) {
      throw new Error(`invalid training config: measures: unknown measurement '${unknown[0]}' (known: ${MEASURE_NAMES.join(", ")})`);
    }
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  return config;
}

interface TrainCliOptions {
  preset?: string;
  config?: string;
  set: string[];
  lab?: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command("train")
    .description("train a model (a preset or a config file) into the lab's runs store; re-running resumes an interrupted run")
    .option("--preset <name>", `a named configuration: ${PRESET_NAMES.join(", ")}`)
    .option("--config <file>", "a training config (JSON)")
    .option(
      "--set <key=value>",
      "override one field, e.g. model.nLayers=3 (repeatable; value read as JSON, else a string)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("--lab <dir>", LAB_HELP)
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "no progress output")
    .addHelpText("after", `\nPresets:\n${PRESET_NAMES.map((n) => `  ${n.padEnd(16)} ${PRESETS[n].description}`).join("\n")}`)
    .action(
      withUserErrors(async (opts: TrainCliOptions) => {
        const config = configFromOptions(opts);
        const lab = resolveLabDir(opts.lab);
        const log = stderrLog(opts.quiet);
        let tokenizerPath: string | undefined;
        let copied = false;
        const t0 = performance.now();
        const result = await train(config, {
          lab,
          progress: opts.quiet ? "none" : "auto",
          log,
          data: async (c, l): Promise<TrainData> => {
            const { prepareTrainData } = await import("../data/train-data.ts");
            const d = await prepareTrainData(c, l, log);
            tokenizerPath = d.tokenizerPath;
            return d;
          },
          // The run folder keeps its tokenizer, so `icl-lab export` can ship it with the weights.
          onCheckpoint: ({ runId }) => {
            if (copied || tokenizerPath === undefined) return;
            copyInto(tokenizerPath, join(runDir(lab, runId), "tokenizer.json"));
            copied = true;
          },
        });
        const seconds = (performance.now() - t0) / 1000;
        const store = RunStore.open(lab);
        let figures;
        try {
          const last = (name: MetricName) => lastMetric(store, result.runId, name);
          figures = {
            runId: result.runId,
            lab,
            kind: result.config.model.kind,
            params: result.params,
            finished: result.finished,
            resumedFrom: result.resumedFrom,
            tokens: result.tokens,
            steps: result.steps,
            trainLoss: last(METRIC.trainLoss),
            iclScore: last(METRIC.iclScore),
            loss50: last(METRIC.iclLoss50),
            loss500: last(METRIC.iclLoss500),
            tokensPerSecond: Math.round(result.tokensPerSecond),
            seconds: Number(seconds.toFixed(1)),
            checkpoints: store.checkpoints(result.runId).length,
          };
        } finally {
          store.close();
        }
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
          return;
        }
        const f = figures;
        const num = (x: number | null, digits: number) => (x === null || Number.isNaN(x) ? "—" : x.toFixed(digits));
        process.stdout.write(
          `${f.runId}\n` +
            `  ${f.kind}, ${f.params.toLocaleString("en-US")} parameters; ${f.finished ? "finished" : "stopped"} at ${f.tokens.toLocaleString("en-US")} tokens ` +
            `(${f.steps} steps${f.resumedFrom !== null ? `, resumed from ${f.resumedFrom.toLocaleString("en-US")}` : ""}) in ${f.seconds} s, ${f.tokensPerSecond.toLocaleString("en-US")} tokens/s\n` +
            `  train loss ${num(f.trainLoss, 4)}; ICL score ${num(f.iclScore, 3)} (loss@50 ${num(f.loss50, 3)}, loss@500 ${num(f.loss500, 3)}); ` +
            `${f.checkpoints} checkpoints under ${join(runDir(lab, f.runId), "checkpoints")}\n`,
        );
      }),
    );
}

/** Copies a file so that readers see the old one or the complete new one. */
function copyInto(from: string, to: string): void {
  const tmp = `${to}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`; // the trainer clears these if killed
  try {
    copyFileSync(from, tmp);
    renameSync(tmp, to);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
