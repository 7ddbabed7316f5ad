/**
 * `icl-lab export RUN [--checkpoint TOKENS] [--format safetensors] [--out DIR]`: writes a run's
 * checkpoint (the last by default) as model.safetensors with TransformerLens names (attention
 * models) or PyTorch nn.LSTM / nn.RNN names (recurrent ones), config.json and the run's
 * tokenizer.json; layouts in src/model/export.ts. Default folder: `<lab>/exports/<run>-<tokens>/`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { exportRun } from "../model/export.ts";
import { RunStore, resolveLabDir, runDir } from "../store/run-store.ts";
import { UserError, withUserErrors } from "./errors.ts";
import { labOptions } from "./options.ts";
import { stderrLog } from "./progress.ts";

const FORMATS = ["safetensors"] as const;

/**
 * The run's tokenizer.json: the copy in its run folder (written by `icl-lab train`), else the
 * one its config's `data.tokenizer` names in the lab's tokenizer cache (rebuilt if missing: BPE
 * training is deterministic for the same sources).
 */
async function tokenizerFor(lab: string, runId: string, log: (m: string) => void): Promise<string | undefined> {
  const own = join(runDir(lab, runId), "tokenizer.json");
  if (existsSync(own)) return own;
  const store = RunStore.open(lab);
  let spec: { kind?: string; vocab?: number; sources?: string[] } | undefined;
  try {
    spec = (store.getRun(runId)?.config as { data?: { tokenizer?: typeof spec } } | null)?.data?.tokenizer;
  } finally {
    store.close();
  }
  const data = await import("../data/index.ts");
  if (spec?.kind === "byte") {
    const path = join(data.dataPaths(lab).tokenizers, "byte", "tokenizer.json");
    if (!existsSync(path)) data.byteTokenizer().save(path);
    return path;
  }
  if (spec?.kind === "bpe") {
    const r = await data.getBpeTokenizer({ kind: "bpe", vocab: spec.vocab ?? 4096, sources: spec.sources }, { lab, log });
    return join(r.dir, "tokenizer.json");
  }
  log(`icl-lab: run '${runId}' records no tokenizer; exporting the weights without tokenizer.json`);
  return undefined;
}

export function register(program: Command): void {
  labOptions(
    program
      .command("export")
      .description("export a run's checkpoint as safetensors (TransformerLens / PyTorch names), config.json and tokenizer.json")
      .argument("<run>", "run id (see `icl-lab runs`)")
      .option("--checkpoint <tokens>", "the checkpoint's token count (default: the last)")
      .option("--format <format>", `output format: ${FORMATS.join(", ")}`, "safetensors")
      .option("--out <dir>", "output folder (default: <lab>/exports/<run>-<tokens>)"),
    { quiet: true },
  ).action(
    withUserErrors(async (run: string, opts: { checkpoint?: string; format: string; out?: string; lab?: string; json?: boolean; quiet?: boolean }) => {
      if (!(FORMATS as readonly string[]).includes(opts.format)) {
        throw new UserError(`--format must be ${FORMATS.map((f) => `'${f}'`).join(" or ")}, found '${opts.format}'`);
      }
      let checkpoint: number | undefined;
      if (opts.checkpoint !== undefined) {
        checkpoint = Number(opts.checkpoint);
        if (!/^\d+$/.test(opts.checkpoint) || !Number.isSafeInteger(checkpoint)) {
          throw new UserError(`--checkpoint must be a token count (a non-negative integer), found '${opts.checkpoint}'`);
        }
      }
      const lab = resolveLabDir(opts.lab);
      const store = RunStore.open(lab);
      let exists: boolean;
      try {
        exists = store.getRun(run) !== undefined;
      } finally {
        store.close();
      }
      if (!exists) throw new UserError(`run '${run}' does not exist in the lab ${lab} (see \`icl-lab runs --lab ${lab}\`)`);
      const tokenizerPath = await tokenizerFor(lab, run, stderrLog(opts.quiet));
      const r = exportRun(run, { lab, checkpoint, out: opts.out, tokenizerPath });
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ runId: r.runId, tokens: r.tokens, dir: r.dir, layout: r.layout, files: r.files, tensors: r.tensors, bytes: r.bytes }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(
        `${r.dir}\n  ${r.runId} at ${r.tokens.toLocaleString("en-US")} tokens: ${r.tensors} tensors (${r.layout} layout), ` +
          `${(r.bytes / 1e6).toFixed(1)} MB; ${r.files.map((f) => f.slice(r.dir.length + 1)).join(", ")}\n`,
      );
    }),
  );
}
