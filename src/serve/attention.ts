/**
 * The attention view's data: every head's attention pattern at one checkpoint of a run, on a
 * text (encoded with the run's tokenizer) or on a repeated random sequence: the induction score's
 * sequence (src/measure/heads.ts), drawn with the run's measurement inputs (src/measure/
 * run-inputs.ts: its BOS, its head-score token pool and, unless the request gives one, its seed),
 * so that with `length` = the run's induction length it is the first sequence its stored induction
 * scores average over, and the per-head score on it is the measure's (patternScore, targeted rows).
 * A run trained before its inputs were stored has no pool: the tokens then come from every token
 * but BOS, and a note says so.
 *
 * The store keeps head scores, not patterns, so this is the dashboard's one use of a model: the
 * checkpoint's parameters are loaded into the model its config describes and the forward pass
 * captures `blocks.{l}.attn.hook_pattern` (like src/report/attention.ts, for all heads and any tokens;
 * src/model/load.ts maps the checkpoint onto the model).
 * The server imports this module lazily, on the first attention request. Checkpoint files are
 * read only from inside the lab folder and verified by their checksums; the last two models
 * loaded stay in memory (hovering around one checkpoint should not reload it).
 */
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { isAttentionModel, parseModelConfig, type AttentionConfig } from "../model/config.ts";
import { modelFromCheckpoint } from "../model/load.ts";
import type { LanguageModel } from "../model/model.ts";
import { attentionPatterns, inductionDetection, patternScore, repeatedSequences, tokenPool, type HeadScore } from "../measure/heads.ts";
import type { MeasureInputs } from "../measure/inputs.ts";
import { METRIC, RECORD } from "../measure/names.ts";
import { storedMeasureInputs } from "../measure/run-inputs.ts";
import { byteTokenizer, loadTokenizer, type Tokenizer } from "../data/tokenizer.ts";
import type { RunInfo, RunStore } from "../store/run-store.ts";
import { Rng } from "../util/random.ts";
import { fileInside } from "./files.ts";
import type { AttentionView } from "./types.ts";

/** A head is shown as an induction head from this score up (on the sequence, or stored): the 2-layer anchor's best head reaches 0.75. */
export const INDUCTION_THRESHOLD = 0.3;
/** Most tokens of a text shown (every head's pattern grows with the square of it). */
export const MAX_TEXT_TOKENS = 128;
/** Longest repeated segment. */
export const MAX_REPEAT_LENGTH = 60;

/** A request the page can get wrong: the server answers with `statusCode` and the message. */
export class AttentionRequestError extends Error {
  constructor(
    readonly statusCode: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = "AttentionRequestError";
  }
}

export interface AttentionRequest {
  /** Tokens of the checkpoint (default: the last one). */
  checkpoint?: number;
  /** A text to encode; without it, a repeated random sequence. */
  text?: string;
  /** Length of the repeated segment (default 20). */
  length?: number;
  /** Seed of the random tokens (default: the run's measurement seed). */
  seed?: number;
}

const models = new Map<string, LanguageModel>();

function loadModel(path: string, sha: string, config: AttentionConfig): LanguageModel {
  const key = `${path}:${sha}`;
  const cached = models.get(key);
  if (cached) return cached;
  let model: LanguageModel;
  try {
    model = modelFromCheckpoint(config, path).model;
  } catch (e) {
    throw new AttentionRequestError(409, (e as Error).message);
  }
  models.set(key, model);
  while (models.size > 2) models.delete(models.keys().next().value!);
  return model;
}

/** The run's tokenizer: its run folder's tokenizer.json, else the byte tokenizer when the config names it; null otherwise. */
function runTokenizer(store: RunStore, info: RunInfo): Tokenizer | null {
  const own = join(store.runDir(info.id), "tokenizer.json");
  if (existsSync(own)) return loadTokenizer(own);
  const spec = (info.config as { data?: { tokenizer?: { kind?: string } } } | null)?.data?.tokenizer;
  return spec?.kind === "byte" ? byteTokenizer() : null;
}

/** How a token is shown: its text with whitespace made visible, or its id. */
function tokenLabel(tok: Tokenizer | null, id: number, bos: number | null): string {
  if (id === bos) return "⟨bos⟩";
  if (!tok) return `#${id}`;
  if (id === tok.eodId) return "⟨eod⟩";
  const text = new TextDecoder("utf-8", { fatal: false }).decode(tok.tokenBytes(id));
  const shown = text
    .replace(/ /g, "·")
    .replace(/\n/g, "↵")
    .replace(/\t/g, "→")
    .replace(/[\u0000-\u001f\u007f]/g, "�");
  return shown === "" ? `#${id}` : shown;
}

export function computeAttention(store: RunStore, info: RunInfo, req: AttentionRequest): AttentionView {
  const { config, ck, model } = checkpointModel(store, info, req.checkpoint);
  const notes: string[] = [];
  let inputs: MeasureInputs | null;
  try {
    inputs = storedMeasureInputs(store, info.id);
  } catch (e) {
    throw new AttentionRequestError(409, (e as Error).message);
  }
  const bosSeries = store.metricSeries(info.id, METRIC.headsBos).filter((p) => Number.isFinite(p.value));
  const bos = inputs !== null ? inputs.bos : bosSeries.length > 0 ? bosSeries[bosSeries.length - 1].value : null;
  let tok: Tokenizer | null = null;
  try {
    tok = runTokenizer(store, info);
    if (tok && tok.vocabSize !== config.dVocab) {
      notes.push(`the run's tokenizer has ${tok.vocabSize} tokens but the model ${config.dVocab}: tokens are shown by id`);
      tok = null;
    }
  } catch (e) {
    notes.push(`the run's tokenizer could not be read (${(e as Error).message}): tokens are shown by id`);
  }

  const { tokens, source, seed } = sequenceOf(req, { runId: info.id, config, tok, bos, inputs, notes });
  const T = tokens.length;
  const H = config.nHeads;
  const perLayer = attentionPatterns(model, tokens, 1); // per layer [1, H, T, T]
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  const patterns = perLayer.map((p) =>
    Array.from({ length: H }, (_, h) => Array.from({ length: T }, (_, q) => Array.from(p.subarray((h * T + q) * T, (h * T + q) * T + q + 1), round))),
  );

  const det = inductionDetection(tokens);
  const targets: Array<{ query: number; key: number }> = [];
  for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) if (det[q * T + k] > 0) targets.push({ query: q, key: k });
  // The measure's own ratio (heads.ts): the induction score on this sequence.
  const sequenceScores = perLayer.map((p) =>
    Array.from({ length: H }, (_, h) => {
      if (targets.length === 0) return null;
      return patternScore(p.subarray(h * T * T, (h + 1) * T * T), det, { rows: "targeted" });
    }),
  );

  const stored = store
    .jsonSeries(info.id, RECORD.heads)
    .filter((r) => r.tokens <= ck.tokens && Array.isArray(r.value))
    .at(-1) as { tokens: number; value: HeadScore[] } | undefined;
  const inductionHeads: string[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    for (let h = 0; h < H; h++) {
      const s = stored?.value.find((x) => x.layer === l && x.head === h)?.induction ?? null;
      const q = sequenceScores[l][h];
      if ((s !== null && s >= INDUCTION_THRESHOLD) || (q !== null && q >= INDUCTION_THRESHOLD)) inductionHeads.push(`L${l}H${h}`);
    }
  }
  return {
    runId: info.id,
    checkpoint: ck.tokens,
    source,
    seed,
    pool: source === "text" ? null : inputs !== null ? "run" : "all",
    tokens: Array.from(tokens),
    labels: Array.from(tokens, (id) => tokenLabel(tok, id, bos)),
    nLayers: config.nLayers,
    nHeads: H,
    patterns,
    sequenceScores,
    stored: stored ? { tokens: stored.tokens, heads: stored.value } : null,
    inductionHeads,
    targets,
    notes,
  };
}

/** The run's attention model at the requested checkpoint (the last by default), read from a file inside the lab folder. */
function checkpointModel(store: RunStore, info: RunInfo, checkpoint: number | undefined) {
  if (info.corrupt) throw new AttentionRequestError(409, `run '${info.id}' has a corrupt config (${info.corrupt})`);
  const raw = (info.config as { model?: unknown } | null)?.model;
  let config;
  try {
    config = parseModelConfig(raw);
  } catch (e) {
    throw new AttentionRequestError(409, `run '${info.id}' has no readable model config: ${(e as Error).message}`);
  }
  if (!isAttentionModel(config)) throw new AttentionRequestError(400, `run '${info.id}' is a ${config.kind} model: it has no attention heads`);

  const checkpoints = store.checkpoints(info.id);
  if (checkpoints.length === 0) throw new AttentionRequestError(404, `run '${info.id}' has no checkpoint file recorded yet`);
  const ck = checkpoint === undefined ? checkpoints[checkpoints.length - 1] : checkpoints.find((c) => c.tokens === checkpoint);
  if (!ck) {
    throw new AttentionRequestError(404, `run '${info.id}' has no checkpoint at ${checkpoint} tokens; it has ${checkpoints.map((c) => c.tokens).join(", ")}`);
  }
  // Only files inside the lab folder are read.
  if (!fileInside(store.labDir, relative(store.labDir, ck.path).split("\\").join("/"))) {
    throw new AttentionRequestError(404, `the checkpoint file of run '${info.id}' at ${ck.tokens} tokens is missing (or outside the lab folder)`);
  }
  const model = loadModel(ck.path, ck.sha256, config);

  return { config, ck, model };
}

/**
 * The tokens to show: the request's text (after BOS, cut to the context) or a repeated random
 * sequence from the run's head-score token pool; `notes` collects what was changed and why.
 */
function sequenceOf(
  req: AttentionRequest,
  ctx: { runId: string; config: { nCtx: number; dVocab: number }; tok: Tokenizer | null; bos: number | null; inputs: MeasureInputs | null; notes: string[] },
): { tokens: Int32Array; source: AttentionView["source"]; seed: number | null } {
  const { config, tok, bos, inputs, notes } = ctx;
  let tokens: Int32Array;
  let source: AttentionView["source"];
  let seed: number | null = null;
  if (req.text !== undefined) {
    if (!tok)
      throw new AttentionRequestError(409, `run '${ctx.runId}' has no usable tokenizer (no tokenizer.json in its run folder): use a repeated random sequence`);
    const encoded = tok.encode(req.text);
    if (encoded.length === 0) throw new AttentionRequestError(400, "the text is empty");
    const prefix = bos !== null ? [bos] : [];
    const room = Math.min(MAX_TEXT_TOKENS, config.nCtx) - prefix.length;
    if (encoded.length > room) notes.push(`the text has ${encoded.length} tokens; the first ${room} are shown`);
    tokens = Int32Array.from([...prefix, ...encoded.subarray(0, room)]);
    source = "text";
  } else {
    const offset = bos !== null ? 1 : 0;
    let pool: Int32Array;
    if (inputs !== null) pool = inputs.pools.heads;
    else {
      pool = tokenPool(config.dVocab, { bos });
      notes.push(
        "this run has no stored measurement inputs (it was trained before they were stored): the random tokens come from every token but BOS, not from its head scores' pool",
      );
    }
    const wanted = req.length ?? 20;
    const length = Math.max(2, Math.min(wanted, MAX_REPEAT_LENGTH, Math.floor((config.nCtx - offset) / 2), pool.length));
    if (length !== wanted) notes.push(`segment length ${wanted} does not fit (context ${config.nCtx}, ${pool.length} distinct tokens): ${length} used`);
    seed = req.seed ?? inputs?.seed ?? 0;
    tokens = repeatedSequences(pool, new Rng(seed), { count: 1, length, repeats: 2, bos }).tokens;
    source = "repeated";
  }

  return { tokens, source, seed };
}
