/**
 * Transformers: attention-only (`attn-only`), attention + MLP (`transformer`) and MLP-only
 * (`mlp-only`, no attention: each position sees only its own token, so by construction no ICL).
 *
 * Parameter names and layouts (TransformerLens names; layouts chosen so each projection is one
 * GEMM; export.ts converts to TransformerLens' per-head shapes):
 *   embed.W_E [dVocab, dModel]          pos_embed.W_pos [nCtx, dModel] (shortformer, learned)
 *   blocks.{l}.ln1.w|b [dModel]         blocks.{l}.attn.W_Q|W_K|W_V [dModel, nHeads·dHead]
 *   blocks.{l}.attn.b_Q|b_K|b_V [nHeads·dHead]      blocks.{l}.attn.W_O [nHeads·dHead, dModel]
 *   blocks.{l}.attn.b_O [dModel]        blocks.{l}.attn.smear_alpha [nHeads] (smeared keys)
 *   blocks.{l}.ln2.w|b, blocks.{l}.mlp.W_in [dModel, dMlp], b_in, W_out [dMlp, dModel], b_out
 *   ln_final.w|b [dModel]               unembed.W_U [dModel, dVocab], unembed.b_U [dVocab]
 */
import * as op from "../engine/ops/index.ts";
import { Tensor, allocRaw, noGrad, track } from "../engine/tensor.ts";
import type { AttentionConfig, ModelConfig } from "./config.ts";
import { ParamSet, matrixStd } from "./init.ts";
import { blockHooks } from "./hooks.ts";
import { addEmbeddings, addUnembed, embedTokens, languageModel, ln, type Pass, type HookOptions, type LanguageModel } from "./common.ts";

type AttnOnly = Extract<ModelConfig, { kind: "attn-only" }>;
type Full = Extract<ModelConfig, { kind: "transformer" }>;
type MlpOnly = Extract<ModelConfig, { kind: "mlp-only" }>;

function addAttention(ps: ParamSet, c: AttentionConfig, l: number): void {
  const std = matrixStd(c.dModel, c.initScale);
  const hd = c.nHeads * c.dHead;
  if (c.layerNorm) {
    ps.constant(`blocks.${l}.ln1.w`, [c.dModel], 1);
    ps.constant(`blocks.${l}.ln1.b`, [c.dModel], 0);
  }
  for (const m of ["Q", "K", "V"]) ps.normal(`blocks.${l}.attn.W_${m}`, [c.dModel, hd], std);
  for (const m of ["Q", "K", "V"]) ps.constant(`blocks.${l}.attn.b_${m}`, [hd], 0);
  ps.normal(`blocks.${l}.attn.W_O`, [hd, c.dModel], std);
  ps.constant(`blocks.${l}.attn.b_O`, [c.dModel], 0);
  if (c.smearedKeys) ps.constant(`blocks.${l}.attn.smear_alpha`, [c.nHeads], 0);
}

function addMlp(ps: ParamSet, c: { dModel: number; dMlp: number; initScale: number; layerNorm: boolean }, l: number): void {
  const std = matrixStd(c.dModel, c.initScale);
  if (c.layerNorm) {
    ps.constant(`blocks.${l}.ln2.w`, [c.dModel], 1);
    ps.constant(`blocks.${l}.ln2.b`, [c.dModel], 0);
  }
  ps.normal(`blocks.${l}.mlp.W_in`, [c.dModel, c.dMlp], std);
  ps.constant(`blocks.${l}.mlp.b_in`, [c.dMlp], 0);
  ps.normal(`blocks.${l}.mlp.W_out`, [c.dMlp, c.dModel], std);
  ps.constant(`blocks.${l}.mlp.b_out`, [c.dModel], 0);
}

/**
 * The attention scores q·kᵀ·scale [B, H, T, T] with −∞ above the diagonal (TransformerLens'
 * hook_attn_scores), computed only when that hook is captured: the fused attention kernel never
 * materialises them. No gradient.
 */
function attentionScores(q: Tensor, k: Tensor, B: number, T: number, H: number, D: number): Tensor {
  const out = allocRaw(B * H * T * T);
  const scale = 1 / Math.sqrt(D),
    qd = q.data,
    kd = k.data,
    HD = H * D;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const row = ((b * H + h) * T + i) * T,
          qo = (b * T + i) * HD + h * D;
        for (let j = 0; j < T; j++) {
          if (j > i) {
            out[row + j] = -Infinity;
            continue;
          }
          const ko = (b * T + j) * HD + h * D;
          let s = 0;
          for (let d = 0; d < D; d++) s += qd[qo + d] * kd[ko + d];
          out[row + j] = s * scale;
        }
      }
    }
  }
  return track(new Tensor(out, [B, H, T, T]));
}

/** cos/sin tables [T, 1, dHead] for rotary embeddings (GPT-NeoX layout: halves rotate together). */
function rotaryTables(T: number, dHead: number): { cos: Tensor; sin: Tensor } {
  const half = dHead / 2;
  const cos = allocRaw(T * dHead),
    sin = allocRaw(T * dHead);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const theta = t / Math.pow(10000, (2 * i) / dHead);
      cos[t * dHead + i] = cos[t * dHead + i + half] = Math.cos(theta);
      sin[t * dHead + i] = sin[t * dHead + i + half] = Math.sin(theta);
    }
  }
  return { cos: track(new Tensor(cos, [T, 1, dHead])), sin: track(new Tensor(sin, [T, 1, dHead])) };
}

/** x [B, T, H·D] → x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁] per head. */
function rotary(x: Tensor, B: number, T: number, H: number, D: number, tables: { cos: Tensor; sin: Tensor }): Tensor {
  const x4 = op.reshape(x, [B, T, H, D]);
  const x1 = op.slice(x4, 3, 0, D / 2),
    x2 = op.slice(x4, 3, D / 2, D);
  const rot = op.concat([op.neg(x2), x1], 3);
  const y = op.add(op.mul(x4, tables.cos), op.mul(rot, tables.sin));
  return op.reshape(y, [B, T, H * D]);
}

/** Smeared keys: k_j ← σ(α_h)·k_j + (1 − σ(α_h))·k_{j−1}; position 0 keeps its own key. */
function smearKeys(k: Tensor, alpha: Tensor, B: number, T: number, H: number, D: number): Tensor {
  const k4 = op.reshape(k, [B, T, H, D]);
  const prev = T > 1 ? op.concat([op.slice(k4, 1, 0, 1), op.slice(k4, 1, 0, T - 1)], 1) : k4;
  const s = op.reshape(op.sigmoid(alpha), [H, 1]); // broadcasts over [B, T, H, D]
  const mixed = op.add(prev, op.mul(s, op.sub(k4, prev))); // s·k + (1−s)·prev
  return op.reshape(mixed, [B, T, H * D]);
}

function headMask(H: number, D: number, layer: number, hooks: HookOptions): Tensor | null {
  const heads = (hooks.ablate ?? []).filter((h) => h.layer === layer);
  if (heads.length === 0) return null;
  const m = allocRaw(H * D).fill(1);
  for (const { head } of heads) {
    if (head < 0 || head >= H) throw new Error(`ablate: head ${head} does not exist in layer ${layer} (nHeads=${H})`);
    m.fill(0, head * D, (head + 1) * D);
  }
  return track(new Tensor(m, [H * D]));
}

function attentionBlock(ps: ParamSet, c: AttentionConfig, l: number, resid: Tensor, pass: Pass, rope: { cos: Tensor; sin: Tensor } | null): Tensor {
  const { B, T } = pass;
  const H = c.nHeads,
    D = c.dHead;
  const pre = `blocks.${l}`,
    hk = blockHooks(l);
  const heads = (t: Tensor) => op.reshape(t, [B, T, H, D]);
  const xv = c.layerNorm ? pass.hook(hk.ln1, ln(ps, `${pre}.ln1`, resid, true)) : resid;
  let xqk = xv;
  if (c.positions === "shortformer") {
    // TransformerLens' TransformerBlock: query_input = ln1(resid_pre) + shortformer_pos_embed
    // (the same for keys); values see ln1(resid_pre) alone.
    xqk = op.add(xv, op.slice(ps.get("pos_embed.W_pos"), 0, 0, T));
  } else if (c.positions === "shortformer-pre-ln") {
    xqk = ln(ps, `${pre}.ln1`, op.add(resid, op.slice(ps.get("pos_embed.W_pos"), 0, 0, T)), c.layerNorm);
  }
  const proj = (x: Tensor, m: string) => op.add(op.matmul(x, ps.get(`${pre}.attn.W_${m}`)), ps.get(`${pre}.attn.b_${m}`));
  let q = proj(xqk, "Q"),
    k = proj(xqk, "K");
  const v = pass.hook(hk.v, proj(xv, "V"), heads);
  if (rope !== null) {
    q = rotary(q, B, T, H, D, rope);
    k = rotary(k, B, T, H, D, rope);
  }
  if (c.smearedKeys) k = smearKeys(k, ps.get(`${pre}.attn.smear_alpha`), B, T, H, D);
  pass.hook(hk.q, q, heads);
  pass.hook(hk.k, k, heads);
  if (pass.wants(hk.attnScores))
    pass.hook(
      hk.attnScores,
      noGrad(() => attentionScores(q, k, B, T, H, D)),
    );
  const fixed = pass.hooks.patterns?.get(l);
  let z: Tensor;
  if (fixed !== undefined) {
    z = op.attentionWithPattern(fixed, v, H);
    pass.hook(hk.pattern, fixed);
  } else {
    // The T×T pattern only when a hook captures or edits it: training never materialises it.
    const r = op.attention(q, k, v, { nHeads: H, pattern: pass.wants(hk.pattern) });
    z = r.out;
    if (r.pattern !== null) pass.hook(hk.pattern, r.pattern);
  }
  const mask = headMask(H, D, l, pass.hooks);
  if (mask !== null) z = op.mul(z, mask);
  pass.hook(hk.z, z, heads);
  const out = pass.hook(hk.attnOut, op.add(op.matmul(z, ps.get(`${pre}.attn.W_O`)), ps.get(`${pre}.attn.b_O`)));
  return op.add(resid, out);
}

function mlpBlock(ps: ParamSet, l: number, resid: Tensor, layerNorm: boolean, pass: Pass): Tensor {
  const pre = `blocks.${l}`,
    hk = blockHooks(l);
  const x = layerNorm ? pass.hook(hk.ln2, ln(ps, `${pre}.ln2`, resid, true)) : resid;
  const hPre = pass.hook(hk.mlpPre, op.add(op.matmul(x, ps.get(`${pre}.mlp.W_in`)), ps.get(`${pre}.mlp.b_in`)));
  const h = pass.hook(hk.mlpPost, op.gelu(hPre));
  return op.add(resid, pass.hook(hk.mlpOut, op.add(op.matmul(h, ps.get(`${pre}.mlp.W_out`)), ps.get(`${pre}.mlp.b_out`))));
}

function attentionModel(c: AttentionConfig, seed: number, withMlp: boolean): LanguageModel {
  if (c.positions === "rotary" && c.dHead % 2 !== 0) throw new Error(`rotary positions need an even dHead, found ${c.dHead}`);
  const ps = new ParamSet(seed);
  addEmbeddings(ps, c, c.positions !== "rotary" && c.positions !== "none");
  for (let l = 0; l < c.nLayers; l++) {
    addAttention(ps, c, l);
    if (withMlp) addMlp(ps, { ...c, dMlp: (c as Full).dMlp }, l);
  }
  addUnembed(ps, c);
  return languageModel(c, ps, c.layerNorm, (tokens, pass) => {
    const { T } = pass;
    const rope = c.positions === "rotary" ? noGrad(() => rotaryTables(T, c.dHead)) : null;
    const positions = c.positions === "learned" ? "residual" : c.positions === "rotary" || c.positions === "none" ? "none" : "shortformer";
    let resid = embedTokens(ps, tokens, pass, positions);
    for (let l = 0; l < c.nLayers; l++) {
      const hk = blockHooks(l);
      pass.hook(hk.residPre, resid);
      resid = attentionBlock(ps, c, l, resid, pass, rope);
      if (withMlp) resid = mlpBlock(ps, l, pass.hook(hk.residMid, resid), c.layerNorm, pass);
      pass.hook(hk.residPost, resid);
    }
    return resid;
  });
}

export function buildAttnOnly(c: AttnOnly, seed: number): LanguageModel {
  return attentionModel(c, seed, false);
}

export function buildTransformer(c: Full, seed: number): LanguageModel {
  return attentionModel(c, seed, true);
}

export function buildMlpOnly(c: MlpOnly, seed: number): LanguageModel {
  const ps = new ParamSet(seed);
  addEmbeddings(ps, c, false);
  for (let l = 0; l < c.nLayers; l++) addMlp(ps, c, l);
  addUnembed(ps, c);
  return languageModel(c, ps, c.layerNorm, (tokens, pass) => {
    let resid = embedTokens(ps, tokens, pass, "none");
    for (let l = 0; l < c.nLayers; l++) {
      const hk = blockHooks(l);
      pass.hook(hk.residPre, resid);
      resid = pass.hook(hk.residPost, mlpBlock(ps, l, resid, c.layerNorm, pass));
    }
    return resid;
  });
}
