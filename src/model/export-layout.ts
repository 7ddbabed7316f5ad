/**
 * The exported tensors of each model kind (names, shapes, and how each relates to one of our
 * parameters: the table in export.ts's header), and the conversions both ways.
 */
import type { FileTensor } from "./safetensors.ts";
import type { ModelConfig, Positions } from "./config.ts";
import type { LanguageModel } from "./model.ts";

export type ExportLayout = "transformer_lens" | "icl_lab_mlp_only" | "torch_lstm" | "torch_rnn";

/**
 * How one exported tensor relates to one of our parameters:
 *   copy        same values in the same order, another shape;
 *   transpose   ours [a, b] → theirs [b, a];
 *   splitHeads  ours [d, H·D] → theirs [H, d, D];
 *   zeros       theirs is zeros on export; on load it is added into `ours` (PyTorch's second
 *               recurrent bias), or must be zero when `ours` is null (W_pos for positions "none" and
 *               "shortformer-pre-ln").
 */
type Transform = "copy" | "transpose" | "splitHeads" | "zeros";

export interface Entry {
  name: string;
  shape: number[];
  ours: string | null;
  transform: Transform;
}

/**
 * Where pos_embed.W_pos comes from: our parameter, zeros (no positions; pre-ln positions, whose
 * values travel as pos_embed.W_pos_pre_ln), or nowhere (rotary).
 */
const POS_EMBED: Record<Positions, "ours" | "zeros" | null> = {
  shortformer: "ours",
  learned: "ours",
  "shortformer-pre-ln": "zeros",
  none: "zeros",
  rotary: null,
};

/** The extra tensor holding positions "shortformer-pre-ln" (config.json `extensions.pre_ln_positions`). */
export const PRE_LN_POSITIONS_TENSOR = "pos_embed.W_pos_pre_ln";

function attentionEntries(c: Extract<ModelConfig, { kind: "attn-only" | "transformer" }>): Entry[] {
  const { dModel: d, nHeads: H, dHead: D, dVocab: V, nCtx } = c;
  const e: Entry[] = [{ name: "embed.W_E", shape: [V, d], ours: "embed.W_E", transform: "copy" }];
  const pos = POS_EMBED[c.positions];
  if (pos !== null)
    e.push({ name: "pos_embed.W_pos", shape: [nCtx, d], ours: pos === "ours" ? "pos_embed.W_pos" : null, transform: pos === "ours" ? "copy" : "zeros" });
  if (c.positions === "shortformer-pre-ln") e.push({ name: PRE_LN_POSITIONS_TENSOR, shape: [nCtx, d], ours: "pos_embed.W_pos", transform: "copy" });
  const same = (name: string, shape: number[]): Entry => ({ name, shape, ours: name, transform: "copy" });
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blocks.${l}`;
    if (c.layerNorm) e.push(same(`${p}.ln1.w`, [d]), same(`${p}.ln1.b`, [d]));
    for (const m of ["Q", "K", "V"]) e.push({ name: `${p}.attn.W_${m}`, shape: [H, d, D], ours: `${p}.attn.W_${m}`, transform: "splitHeads" });
    for (const m of ["Q", "K", "V"]) e.push(same(`${p}.attn.b_${m}`, [H, D]));
    e.push(same(`${p}.attn.W_O`, [H, D, d]), same(`${p}.attn.b_O`, [d]));
    if (c.smearedKeys) e.push(same(`${p}.attn.smear_alpha`, [H]));
    if (c.kind === "transformer") e.push(...mlpEntries(p, d, c.dMlp, c.layerNorm));
  }
  return [...e, ...unembedEntries(d, V, c.layerNorm)];
}

function mlpEntries(p: string, d: number, dMlp: number, layerNorm: boolean): Entry[] {
  const same = (name: string, shape: number[]): Entry => ({ name, shape, ours: name, transform: "copy" });
  return [
    ...(layerNorm ? [same(`${p}.ln2.w`, [d]), same(`${p}.ln2.b`, [d])] : []),
    same(`${p}.mlp.W_in`, [d, dMlp]),
    same(`${p}.mlp.b_in`, [dMlp]),
    same(`${p}.mlp.W_out`, [dMlp, d]),
    same(`${p}.mlp.b_out`, [d]),
  ];
}

function unembedEntries(d: number, V: number, layerNorm: boolean): Entry[] {
  const same = (name: string, shape: number[]): Entry => ({ name, shape, ours: name, transform: "copy" });
  return [...(layerNorm ? [same("ln_final.w", [d]), same("ln_final.b", [d])] : []), same("unembed.W_U", [d, V]), same("unembed.b_U", [V])];
}

function mlpOnlyEntries(c: Extract<ModelConfig, { kind: "mlp-only" }>): Entry[] {
  const e: Entry[] = [{ name: "embed.W_E", shape: [c.dVocab, c.dModel], ours: "embed.W_E", transform: "copy" }];
  for (let l = 0; l < c.nLayers; l++) e.push(...mlpEntries(`blocks.${l}`, c.dModel, c.dMlp, c.layerNorm));
  return [...e, ...unembedEntries(c.dModel, c.dVocab, c.layerNorm)];
}

function recurrentEntries(c: Extract<ModelConfig, { kind: "lstm" | "rnn" }>): Entry[] {
  const cell = c.kind;
  const G = (cell === "lstm" ? 4 : 1) * c.dHidden,
    H = c.dHidden;
  const e: Entry[] = [{ name: "embed.weight", shape: [c.dVocab, c.dModel], ours: "embed.W_E", transform: "copy" }];
  for (let l = 0; l < c.nLayers; l++) {
    const dIn = l === 0 ? c.dModel : H;
    e.push(
      { name: `${cell}.weight_ih_l${l}`, shape: [G, dIn], ours: `${cell}.${l}.W_ih`, transform: "transpose" },
      { name: `${cell}.weight_hh_l${l}`, shape: [G, H], ours: `${cell}.${l}.W_hh`, transform: "transpose" },
      { name: `${cell}.bias_ih_l${l}`, shape: [G], ours: `${cell}.${l}.b`, transform: "copy" },
      { name: `${cell}.bias_hh_l${l}`, shape: [G], ours: `${cell}.${l}.b`, transform: "zeros" },
    );
  }
  e.push(
    { name: "unembed.weight", shape: [c.dVocab, H], ours: "unembed.W_U", transform: "transpose" },
    { name: "unembed.bias", shape: [c.dVocab], ours: "unembed.b_U", transform: "copy" },
  );
  return e;
}

const LAYOUTS: { [K in ModelConfig["kind"]]: { layout: ExportLayout; entries: (c: Extract<ModelConfig, { kind: K }>) => Entry[] } } = {
  "attn-only": { layout: "transformer_lens", entries: attentionEntries },
  transformer: { layout: "transformer_lens", entries: attentionEntries },
  "mlp-only": { layout: "icl_lab_mlp_only", entries: mlpOnlyEntries },
  lstm: { layout: "torch_lstm", entries: recurrentEntries },
  rnn: { layout: "torch_rnn", entries: recurrentEntries },
};

export function layoutOf(c: ModelConfig): { layout: ExportLayout; entries: Entry[] } {
  const l = LAYOUTS[c.kind] as { layout: ExportLayout; entries: (c: ModelConfig) => Entry[] };
  return { layout: l.layout, entries: l.entries(c) };
}

/** The exported tensors' names and shapes for a config, in state-dict order. */
export function exportedShapes(config: ModelConfig): Array<{ name: string; shape: number[] }> {
  return layoutOf(config).entries.map((e) => ({ name: e.name, shape: [...e.shape] }));
}

/** ours → theirs for one entry. */
function toTheirs(e: Entry, ours: Float32Array | null, oursShape: readonly number[] | null): Float32Array {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (e.transform === "zeros") return out;
  if (ours === null || oursShape === null || ours.length !== n) {
    throw new Error(`export: parameter '${e.ours}' has ${ours?.length ?? 0} values, expected ${n} for '${e.name}' [${e.shape.join(", ")}]`);
  }
  if (e.transform === "copy") out.set(ours);
  else if (e.transform === "transpose") {
    const [a, b] = oursShape;
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[j * a + i] = ours[i * b + j];
  } else {
    const [H, d, D] = e.shape;
    for (let h = 0; h < H; h++) for (let i = 0; i < d; i++) for (let j = 0; j < D; j++) out[(h * d + i) * D + j] = ours[i * H * D + h * D + j];
  }
  return out;
}

/** theirs → ours for one entry, added into `acc` (ours' layout). */
export function addOurs(e: Entry, theirs: Float32Array, acc: Float32Array, oursShape: readonly number[]): void {
  if (e.transform === "copy" || e.transform === "zeros") {
    for (let i = 0; i < acc.length; i++) acc[i] += theirs[i];
  } else if (e.transform === "transpose") {
    const [a, b] = oursShape;
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) acc[i * b + j] += theirs[j * a + i];
  } else {
    const [H, d, D] = e.shape;
    for (let h = 0; h < H; h++) for (let i = 0; i < d; i++) for (let j = 0; j < D; j++) acc[i * H * D + h * D + j] += theirs[(h * d + i) * D + j];
  }
}

/** The model's weights under the exported names and layouts. */
export function exportTensors(model: LanguageModel): Record<string, FileTensor> {
  const out: Record<string, FileTensor> = {};
  for (const e of layoutOf(model.config).entries) {
    const p = e.ours === null ? undefined : model.params.get(e.ours);
    if (e.ours !== null && p === undefined) throw new Error(`export: the model has no parameter '${e.ours}' (needed for '${e.name}')`);
    out[e.name] = { data: toTheirs(e, p?.data ?? null, p?.shape ?? null), shape: [...e.shape] };
  }
  return out;
}
