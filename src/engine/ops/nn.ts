/**
 * Neural-network ops backed by fused kernels: embedding lookup, layer norm, softmax,
 * cross-entropy from logits (fused log-softmax), and multi-head causal attention.
 */
import { kernels } from "../backend.ts";
import { Tensor, allocRaw, gradOrScratch, fmtShape, makeOutput, releaseBuffer, shapeSize, track } from "../tensor.ts";

/** table [vocab, d] looked up at ids → [...shape, d]; the gradient scatter-adds into the table. */
export function embedding(table: Tensor, ids: Int32Array, shape: readonly number[]): Tensor {
  if (table.rank !== 2) throw new Error(`embedding: 'table' must be [vocab, d], found ${fmtShape(table.shape)}`);
  const n = shapeSize(shape);
  if (ids.length !== n) throw new Error(`embedding: ${ids.length} ids given for shape ${fmtShape(shape)} (${n} expected)`);
  const [vocab, d] = table.shape;
  for (let i = 0; i < n; i++) {
    if (!(ids[i] >= 0 && ids[i] < vocab)) throw new Error(`embedding: id ${ids[i]} at position ${i} is outside the vocabulary [0, ${vocab})`);
  }
  const K = kernels();
  const data = allocRaw(n * d);
  K.embedding(table.data, ids, n, d, data);
  return makeOutput(data, [...shape, d], [table], (out) => {
    K.embeddingBackward(ids, out.grad!, n, d, table.gradBuffer());
  });
}

/** Layer norm over the last axis with optional affine parameters (gamma, beta of shape [n]). */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  const n = x.shape[x.rank - 1];
  for (const [name, p] of [
    ["gamma", gamma],
    ["beta", beta],
  ] as const) {
    if (p !== null && (p.rank !== 1 || p.shape[0] !== n)) {
      throw new Error(`layerNorm: '${name}' must have shape [${n}] for x ${fmtShape(x.shape)}, found ${fmtShape(p.shape)}`);
    }
  }
  const rows = x.size / n;
  const K = kernels();
  const data = allocRaw(x.size);
  const mean = allocRaw(rows),
    rstd = allocRaw(rows);
  K.layerNorm(x.data, gamma?.data ?? null, beta?.data ?? null, rows, n, eps, data, mean, rstd);
  // mean/rstd live as long as the graph does.
  track(new Tensor(mean, [rows]));
  track(new Tensor(rstd, [rows]));
  const inputs = [x, gamma, beta].filter((t): t is Tensor => t !== null);
  return makeOutput(data, x.shape, inputs, (out) => {
    K.layerNormBackward(
      out.grad!,
      x.data,
      gamma?.data ?? null,
      mean,
      rstd,
      rows,
      n,
      x.gradBuffer(),
      gamma?.requiresGrad ? gamma.gradBuffer() : null,
      beta?.requiresGrad ? beta.gradBuffer() : null,
    );
  });
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const n = x.shape[x.rank - 1];
  const rows = x.size / n;
  const K = kernels();
  const data = allocRaw(x.size);
  K.softmax(x.data, rows, n, data);
  return makeOutput(data, x.shape, [x], (out) => {
    K.softmaxBackward(out.data, out.grad!, rows, n, x.gradBuffer());
  });
}

/**
 * Cross-entropy of logits [..., V] against integer targets (one per row; a negative target is
 * ignored). reduction "mean" (default) averages over the counted rows; "none" returns the
 * per-row losses with the logits' leading shape (the per-position loss of the measurements).
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, opts: { reduction?: "mean" | "none" } = {}): Tensor {
  const reduction = opts.reduction ?? "mean";
  const V = logits.shape[logits.rank - 1];
  const rows = logits.size / V;
  if (targets.length !== rows) {
    throw new Error(`crossEntropy: ${targets.length} targets for logits ${fmtShape(logits.shape)} (${rows} rows expected)`);
  }
  let counted = 0;
  for (let i = 0; i < rows; i++) {
    const t = targets[i];
    if (t >= V || !Number.isInteger(t)) throw new Error(`crossEntropy: target ${t} at row ${i} is outside [0, ${V})`);
    if (t >= 0) counted++;
  }
  const K = kernels();
  const losses = allocRaw(rows),
    lse = allocRaw(rows);
  K.crossEntropy(logits.data, targets, rows, V, losses, lse);
  track(new Tensor(lse, [rows]));
  if (reduction === "none") {
    return makeOutput(losses, logits.shape.slice(0, -1), [logits], (out) => {
      K.crossEntropyBackward(logits.data, targets, lse, out.grad!, rows, V, logits.gradBuffer());
    });
  }
  let total = 0;
  for (let i = 0; i < rows; i++) total += losses[i];
  releaseBuffer(losses);
  const data = allocRaw(1);
  data[0] = counted > 0 ? total / counted : 0;
  return makeOutput(data, [], [logits], (out) => {
    const dloss = allocRaw(rows);
    dloss.fill(counted > 0 ? out.grad![0] / counted : 0);
    K.crossEntropyBackward(logits.data, targets, lse, dloss, rows, V, logits.gradBuffer());
    releaseBuffer(dloss);
  });
}

export interface AttentionResult {
  /** [B, T, H·D] */
  out: Tensor;
  /** Attention pattern [B, H, T, T] (query × key) when asked for (`pattern: true`), else null; no gradient flows through it. */
  pattern: Tensor | null;
}

/**
 * Multi-head scaled dot-product attention on q, k, v of shape [B, T, H·D] (heads side by side in
 * the last axis, as the projections produce them: no transposes). Causal by default. The T×T
 * pattern is computed only with `pattern: true` (the measurements' hook): training keeps just the
 * log-sum-exp of each query row, and the backward recomputes the probabilities from it.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: { nHeads: number; causal?: boolean; scale?: number; pattern?: boolean }): AttentionResult {
  const { nHeads: H } = opts;
  const causal = opts.causal ?? true;
  if (q.rank !== 3) throw new Error(`attention: 'q' must be [B, T, H·D], found ${fmtShape(q.shape)}`);
  for (const [name, t] of [
    ["k", k],
    ["v", v],
  ] as const) {
    if (t.rank !== 3 || t.shape.some((d, i) => d !== q.shape[i])) {
      throw new Error(`attention: '${name}' has shape ${fmtShape(t.shape)}, expected ${fmtShape(q.shape)} like 'q'`);
    }
  }
  const [B, T, HD] = q.shape;
  if (HD % H !== 0) throw new Error(`attention: last axis ${HD} of 'q' is not divisible by nHeads=${H}`);
  const D = HD / H;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const K = kernels();
  const probs = opts.pattern === true ? allocRaw(B * H * T * T) : null;
  const lse = allocRaw(B * H * T);
  const data = allocRaw(q.size);
  K.attention(q.data, k.data, v.data, B, T, H, D, scale, causal, probs, lse, data);
  const pattern = probs === null ? null : track(new Tensor(probs, [B, H, T, T]));
  track(new Tensor(lse, [B, H, T]));
  const out = makeOutput(data, q.shape, [q, k, v], (o) => {
    const scratch: Float32Array[] = [];
    const g = (t: Tensor) => gradOrScratch(t, scratch);
    K.attentionBackward(q.data, k.data, v.data, o.data, lse, o.grad!, B, T, H, D, scale, causal, g(q), g(k), g(v));
    for (const s of scratch) releaseBuffer(s);
  });
  return { out, pattern };
}

/**
 * Attention with a given pattern [B, H, T, T] instead of one computed from q and k: out = pattern·v
 * per head (pattern-preserving ablation). Gradient flows to v only.
 */
export function attentionWithPattern(pattern: Tensor, v: Tensor, nHeads: number): Tensor {
  const [B, T, HD] = v.shape;
  const H = nHeads,
    D = HD / H;
  if (pattern.rank !== 4 || pattern.shape[0] !== B || pattern.shape[1] !== H || pattern.shape[2] !== T || pattern.shape[3] !== T) {
    throw new Error(`attentionWithPattern: pattern ${fmtShape(pattern.shape)} does not match v ${fmtShape(v.shape)} with ${H} heads`);
  }
  const K = kernels();
  /** For each batch b and head h: c[b, :, h, :] = op(P[b, h]) · x[b, :, h, :] + beta·c (row stride H·D). */
  const perHead = (transA: boolean, x: Float32Array, beta: number, c: Float32Array): void => {
    for (let b = 0; b < B; b++) {
      K.gemm({
        transA,
        transB: false,
        m: T,
        n: D,
        k: T,
        alpha: 1,
        a: pattern.data.subarray(b * H * T * T),
        lda: T,
        b: x.subarray(b * T * HD),
        ldb: HD,
        beta,
        c: c.subarray(b * T * HD),
        ldc: HD,
        batch: H,
        strideA: T * T,
        strideB: D,
        strideC: D,
      });
    }
  };
  const data = allocRaw(v.size);
  perHead(false, v.data, 0, data); // out = P · v
  return makeOutput(data, v.shape, [v], (out) => {
    const dv = v.gradBuffer();
    perHead(true, out.grad!, 1, dv); // dv += Pᵀ · dy
  });
}
