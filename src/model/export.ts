/**
 * Export: a model (or a run's checkpoint) as a folder the Python ecosystem reads, and back.
 *
 *   <dir>/model.safetensors   float32 weights, names and shapes below (little-endian, row-major)
 *   <dir>/config.json         our model config, the run it came from, and a TransformerLens
 *                             `HookedTransformerConfig`-style dict (attention models) or the
 *                             PyTorch modules to build (recurrent models)
 *   <dir>/tokenizer.json      the run's tokenizer (Hugging Face format), when there is one
 *
 * Every file is written atomically (a temporary sibling, fsync, rename), config.json last; its
 * `model` must match the config recorded in model.safetensors' metadata, so a folder mixing two
 * exports is refused on load. `loadExported(dir)` reads a folder back into an icl-lab model.
 *
 * Attention models (`attn-only`, `transformer`): TransformerLens state-dict names and shapes, with
 * H = nHeads, D = dHead, d = dModel, V = dVocab (ours → theirs; icl-lab keeps each projection as
 * one [d, H·D] matrix so it is one GEMM):
 *   embed.W_E              [V, d]         = ours
 *   pos_embed.W_pos        [nCtx, d]      = ours (shortformer, learned); zeros for positions
 *                                            "none" (TransformerLens has no such type: declared
 *                                            "standard" with zero W_pos, which is then exact) and
 *                                            "shortformer-pre-ln" (below); absent for rotary
 *                                            (TransformerLens keeps none either)
 *   pos_embed.W_pos_pre_ln [nCtx, d]      = ours pos_embed.W_pos, positions "shortformer-pre-ln"
 *                                            only: an icl-lab extension (config.json
 *                                            `extensions.pre_ln_positions`), below
 *   blocks.{l}.ln1.w|b     [d]            = ours (absent without layer norm; likewise ln2, ln_final)
 *   blocks.{l}.attn.W_Q|W_K|W_V [H, d, D] : W_Q[h, i, j] = ours W_Q[i, h·D + j]
 *   blocks.{l}.attn.b_Q|b_K|b_V [H, D]    = ours [H·D] reshaped
 *   blocks.{l}.attn.W_O    [H, D, d]      = ours [H·D, d] reshaped
 *   blocks.{l}.attn.b_O    [d]            = ours
 *   blocks.{l}.attn.smear_alpha [H]       = ours. An icl-lab extension (smeared keys,
 *                                            k_j ← σ(α_h)·k_j + (1 − σ(α_h))·k_{j−1} after the key
 *                                            projection and rotary; position 0 keeps its key):
 *                                            TransformerLens has no such parameter, so a model with
 *                                            it needs the key hook to apply it
 *   blocks.{l}.ln2.w|b     [d]            = ours (transformer)
 *   blocks.{l}.mlp.W_in    [d, dMlp], b_in [dMlp], W_out [dMlp, d], b_out [d]  = ours; the
 *                                            activation is GELU's tanh approximation (op.gelu), which
 *                                            TransformerLens calls "gelu_new" ("gelu" is erf's)
 *   ln_final.w|b           [d]            = ours
 *   unembed.W_U            [d, V]         = ours;  unembed.b_U [V] = ours
 * Conventions TransformerLens shares with us: layer norm ε = 1e-5; scores divided by attn_scale =
 * √D; causal mask; shortformer adds W_pos[:T] to the query and key inputs after ln1
 * (q_in = k_in = ln1(resid) + W_pos, v_in = ln1(resid)); rotary is GPT-NeoX style (dimension i
 * turns with i + D/2, θ_{t,i} = t / 10000^(2i/D), rotary_dim = D, rotary_adjacent_pairs false).
 * `load_state_dict` needs `strict=False` there: TransformerLens' buffers (masks, rotary tables)
 * are not weights. The config dict names attn_scale and rotary_adjacent_pairs explicitly, so a
 * TransformerLens older than 2.2 refuses it rather than compute another rotary layout (before
 * 1.12.1 its default was GPT-J's adjacent pairs).
 *
 * Positions "shortformer-pre-ln" (q_in = k_in = ln1(resid + W_pos), v_in = ln1(resid)) have no
 * TransformerLens positional_embedding_type; they are exported as "shortformer" with a zero
 * pos_embed.W_pos (so TransformerLens' own after-ln1 addition adds nothing) and
 * use_split_qkv_input = true, and the trained positions as pos_embed.W_pos_pre_ln, which a hook
 * adds before ln1. With use_split_qkv_input, TransformerLens' TransformerBlock.forward
 * (components/transformer_block.py, unchanged since 2.2) passes resid_pre repeated per head,
 * [batch, pos, n_heads, d_model], through blocks.{l}.hook_q_input / hook_k_input / hook_v_input,
 * then computes query_input = ln1(hook_q_input) + shortformer_pos_embed (keys alike) and
 * value_input = ln1(hook_v_input), projecting per head; so a forward hook adding W_pos_pre_ln[:T]
 * (broadcast over heads) at hook_q_input and hook_k_input of every layer computes exactly ours.
 * load_state_dict(strict=False) ignores W_pos_pre_ln: without the hook TransformerLens computes a
 * model without positions. config.json `extensions.pre_ln_positions` says so, with the snippet.
 *
 * `mlp-only` models (no attention; TransformerLens cannot hold them): the same names as above for
 * the parts they have (embed.W_E, blocks.{l}.ln2.*, blocks.{l}.mlp.*, ln_final.*, unembed.*).
 *
 * Recurrent models: PyTorch `nn.Embedding`, `nn.LSTM` / `nn.RNN` (tanh, batch_first) and
 * `nn.Linear` state-dict names; with H = dHidden and dIn = dModel for layer 0, else H:
 *   embed.weight           [V, dModel]    = ours embed.W_E
 *   lstm.weight_ih_l{l}    [4H, dIn]      = ours lstm.{l}.W_ihᵀ   (gate order i, f, g, o, as PyTorch)
 *   lstm.weight_hh_l{l}    [4H, H]        = ours lstm.{l}.W_hhᵀ
 *   lstm.bias_ih_l{l}      [4H]           = ours lstm.{l}.b
 *   lstm.bias_hh_l{l}      [4H]           = zeros (we keep one bias; loading adds the two)
 *   rnn.weight_ih_l{l} [H, dIn], rnn.weight_hh_l{l} [H, H], rnn.bias_ih_l{l}, rnn.bias_hh_l{l}: likewise
 *   unembed.weight         [V, H]         = ours unembed.W_Uᵀ;  unembed.bias [V] = ours unembed.b_U
 * Initial states are zero. config.json's `torch` gives each module's class and keyword arguments.
 *
 * scripts/check_export.py computes, in plain PyTorch and from these files alone, what
 * TransformerLens would (attention models: driven by config.json's `transformer_lens` dict, written
 * from TransformerLens' source, not from ours) or what the PyTorch modules compute (recurrent
 * models); export.test.ts compares its logits with ours.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadCheckpoint, listCheckpoints } from "./checkpoint.ts";
import { loadTensors, saveTensors, type LoadedTensor } from "./safetensors.ts";
import { parseModelConfig } from "./config.ts";
import { addOurs, exportTensors, layoutOf, type ExportLayout } from "./export-layout.ts";
import { extensionsOf, torchModules, transformerLensConfig } from "./export-config.ts";
import { setParams } from "./load.ts";
import { buildModel, type LanguageModel } from "./model.ts";
import { RunStore, resolveLabDir, runDir } from "../store/run-store.ts";
import { writeFileAtomic } from "../util/fs.ts";

export const EXPORT_FORMAT = "icl-lab-export";
export const EXPORT_FORMAT_VERSION = 1;
export const WEIGHTS_FILE = "model.safetensors";
export const CONFIG_FILE = "config.json";
export const TOKENIZER_FILE = "tokenizer.json";

export { exportedShapes, exportTensors, PRE_LN_POSITIONS_TENSOR, type ExportLayout } from "./export-layout.ts";
export { transformerLensConfig } from "./export-config.ts";

export interface ExportSource {
  runId: string;
  tokens: number;
  step?: number;
  /** The run's resolved training config. */
  train?: unknown;
}

export interface ExportOptions {
  /** A tokenizer.json to copy beside the weights. */
  tokenizerPath?: string;
  /** Where the weights came from (recorded in config.json). */
  source?: ExportSource;
}

export interface ExportResult {
  dir: string;
  layout: ExportLayout;
  files: string[];
  tensors: number;
  bytes: number;
}

/** Writes `model` to `dir` (created if needed) as model.safetensors, tokenizer.json and config.json. */
export function exportModel(model: LanguageModel, dir: string, opts: ExportOptions = {}): ExportResult {
  const config = model.config;
  const { layout } = layoutOf(config);
  const transformerLens = transformerLensConfig(config);
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  let tokenizer: Buffer | null = null;
  if (opts.tokenizerPath !== undefined) {
    if (!existsSync(opts.tokenizerPath)) throw new Error(`export: tokenizer file ${opts.tokenizerPath} does not exist`);
    tokenizer = readFileSync(opts.tokenizerPath);
  }
  const modelJson = JSON.stringify(config);
  const metadata: Record<string, string> = {
    format: EXPORT_FORMAT,
    format_version: String(EXPORT_FORMAT_VERSION),
    layout,
    icl_lab_model: modelJson,
  };
  if (opts.source) {
    metadata.run_id = opts.source.runId;
    metadata.tokens = String(opts.source.tokens);
  }
  const tensors = exportTensors(model);
  const saved = saveTensors(join(out, WEIGHTS_FILE), tensors, { metadata });
  const files = [saved.path];
  if (tokenizer !== null) {
    writeFileAtomic(join(out, TOKENIZER_FILE), tokenizer);
    files.push(join(out, TOKENIZER_FILE));
  }
  const doc = {
    format: EXPORT_FORMAT,
    format_version: EXPORT_FORMAT_VERSION,
    layout,
    model: config,
    run: opts.source ? { id: opts.source.runId, tokens: opts.source.tokens, step: opts.source.step ?? null, train: opts.source.train ?? null } : null,
    files: { weights: WEIGHTS_FILE, tokenizer: tokenizer === null ? null : TOKENIZER_FILE },
    transformer_lens: transformerLens,
    torch: torchModules(config),
    extensions: extensionsOf(config),
    notes:
      "Layouts are documented in icl-lab's src/model/export.ts; scripts/check_export.py computes what TransformerLens (attention models) or the PyTorch modules (recurrent models) compute from these files, in plain PyTorch.",
  };
  writeFileAtomic(join(out, CONFIG_FILE), `${JSON.stringify(doc, null, 2)}\n`);
  files.push(join(out, CONFIG_FILE));
  return { dir: out, layout, files, tensors: Object.keys(tensors).length, bytes: saved.bytes };
}

/** Reads an exported folder back into an icl-lab model (weights verified against config.json). */
export function loadExported(dir: string): LanguageModel {
  const configPath = join(dir, CONFIG_FILE),
    weightsPath = join(dir, WEIGHTS_FILE);
  for (const p of [configPath, weightsPath]) if (!existsSync(p)) throw new Error(`loadExported: ${p} does not exist`);
  let doc: { format?: unknown; format_version?: unknown; model?: unknown };
  try {
    doc = JSON.parse(readFileSync(configPath, "utf8")) as typeof doc;
  } catch (e) {
    throw new Error(`loadExported: ${configPath} is not valid JSON (${(e as Error).message})`);
  }
  if (doc.format !== EXPORT_FORMAT || doc.format_version !== EXPORT_FORMAT_VERSION) {
    throw new Error(
      `loadExported: ${configPath} has format ${JSON.stringify(doc.format)} version ${JSON.stringify(doc.format_version)}, expected "${EXPORT_FORMAT}" version ${EXPORT_FORMAT_VERSION}`,
    );
  }
  const config = parseModelConfig(doc.model);
  const { tensors, metadata } = loadTensors(weightsPath);
  if (metadata.icl_lab_model !== undefined && metadata.icl_lab_model !== JSON.stringify(doc.model)) {
    throw new Error(`loadExported: ${weightsPath} and ${configPath} describe different models (files from two exports?)`);
  }
  const model = buildModel(config, 0);
  const acc = new Map<string, Float32Array>();
  for (const name of model.params.keys()) acc.set(name, new Float32Array(model.params.get(name)!.size));
  const entries = layoutOf(config).entries;
  const expected = new Set(entries.map((e) => e.name));
  for (const name of Object.keys(tensors)) {
    if (!expected.has(name)) throw new Error(`loadExported: ${weightsPath} has an unexpected tensor '${name}' for a ${config.kind} model`);
  }
  const covered = new Set<string>();
  for (const e of entries) {
    const t = tensors[e.name];
    if (t === undefined) throw new Error(`loadExported: ${weightsPath} has no tensor '${e.name}'`);
    if (t.shape.length !== e.shape.length || t.shape.some((s, i) => s !== e.shape[i])) {
      throw new Error(`loadExported: tensor '${e.name}' has shape [${t.shape.join(", ")}], expected [${e.shape.join(", ")}]`);
    }
    const data = asFloat32(t, e.name);
    if (e.ours === null) {
      if (data.some((x) => x !== 0))
        throw new Error(`loadExported: tensor '${e.name}' must be zero for a model with positions "${(config as { positions?: string }).positions}"`);
      continue;
    }
    addOurs(e, data, acc.get(e.ours)!, model.params.get(e.ours)!.shape);
    covered.add(e.ours);
  }
  for (const [name, p] of model.params) {
    if (!covered.has(name)) throw new Error(`loadExported: no exported tensor sets parameter '${name}'`);
    p.data.set(acc.get(name)!);
  }
  return model;
}

function asFloat32(t: LoadedTensor, name: string): Float32Array {
  if (t.dtype === "F32") return t.data as Float32Array;
  if (t.dtype === "F64") return Float32Array.from(t.data as Float64Array);
  throw new Error(`loadExported: tensor '${name}' is ${t.dtype}; expected F32 or F64`);
}

export interface ExportRunOptions extends Omit<ExportOptions, "source"> {
  lab?: string;
  /** The checkpoint's token count (default: the last checkpoint). */
  checkpoint?: number;
  /** Output folder (default `<lab>/exports/<run>-<tokens>`). */
  out?: string;
}

export interface ExportRunResult extends ExportResult {
  runId: string;
  tokens: number;
  checkpointPath: string;
}

/**
 * Exports a stored run's checkpoint (the last by default). Checkpoints are those recorded in the
 * runs store, else the files under `<lab>/runs/<id>/checkpoints/`; the file's checksum must match
 * the recorded one. The run folder's tokenizer.json is copied unless `tokenizerPath` is given.
 */
export function exportRun(runId: string, opts: ExportRunOptions = {}): ExportRunResult {
  const lab = resolveLabDir(opts.lab);
  const store = RunStore.open(lab);
  let info, records;
  try {
    info = store.getRun(runId);
    if (info === undefined) {
      const known = store.listRuns().map((r) => r.id);
      throw new Error(
        `run '${runId}' does not exist in the lab ${lab}${known.length ? ` (runs: ${known.slice(-8).join(", ")}${known.length > 8 ? ", …" : ""})` : " (it has no runs)"}`,
      );
    }
    records = store.checkpoints(runId);
  } finally {
    store.close();
  }
  if (info.corrupt) throw new Error(`run '${runId}' cannot be exported: its stored config is corrupt (${info.corrupt})`);
  const trainConfig = info.config as { model?: unknown };
  const config = parseModelConfig(trainConfig?.model);
  const dir = runDir(lab, runId);
  const available: Array<{ tokens: number; path: string; sha256?: string; step?: number }> =
    records.length > 0 ? records.map((r) => ({ tokens: r.tokens, path: r.path, sha256: r.sha256, step: r.step })) : listCheckpoints(join(dir, "checkpoints"));
  if (available.length === 0) throw new Error(`run '${runId}' has no checkpoints yet`);
  const chosen = opts.checkpoint === undefined ? available[available.length - 1] : available.find((c) => c.tokens === opts.checkpoint);
  if (chosen === undefined) {
    const list = available.map((c) => c.tokens);
    const shown = list.length > 12 ? [...list.slice(0, 6), "…", ...list.slice(-5)] : list;
    throw new Error(`run '${runId}' has no checkpoint at ${opts.checkpoint} tokens; it has ${shown.join(", ")}`);
  }
  const ck = loadCheckpoint(chosen.path);
  if (chosen.sha256 !== undefined && ck.sha256 !== chosen.sha256) {
    throw new Error(`checkpoint ${chosen.path} is not the one the runs store recorded (checksum differs)`);
  }
  const model = buildModel(config, 0);
  setParams(model, ck);
  const runTokenizer = join(dir, TOKENIZER_FILE);
  const tokenizerPath = opts.tokenizerPath ?? (existsSync(runTokenizer) ? runTokenizer : undefined);
  const out = opts.out ?? join(lab, "exports", `${runId}-${ck.tokens}`);
  const r = exportModel(model, out, {
    tokenizerPath,
    source: { runId, tokens: ck.tokens, step: chosen.step ?? (ck.extra as { step?: number } | undefined)?.step, train: info.config },
  });
  return { ...r, runId, tokens: ck.tokens, checkpointPath: chosen.path };
}
