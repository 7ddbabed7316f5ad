/**
 * The kernel interface: the one contract between the autograd engine (TypeScript, `ops/`) and a
 * backend that does the arithmetic. Two backends implement it:
 *   - `reference/` in plain TypeScript: readable, the oracle of every test, the fallback;
 *   - `native/` a C++ addon (oneDNN GEMM, fused OpenMP kernels): the fast path.
 *
 * Conventions that hold for every kernel:
 *   - buffers are float32 (`F32`) or int32 (`I32`) typed arrays, row-major, contiguous unless a
 *     leading dimension (`ld*`) or stride is given; views made with `subarray()` are fine;
 *   - forward kernels OVERWRITE their outputs;
 *   - backward kernels ACCUMULATE into gradient buffers (`dx[i] += ...`), so a tensor used twice
 *     gets the sum of both gradients without a temporary;
 *   - no kernel allocates memory that outlives the call, and none keeps a reference to a buffer;
 *   - NaN and ±Inf propagate (no kernel clamps them away), except where a kernel says it is
 *     written to stay finite for large finite inputs (softmax, cross-entropy: max-subtraction).
 */

export type F32 = Float32Array;
export type I32 = Int32Array;

/** C = alpha · op(A) · op(B) + beta · C, row-major, repeated `batch` times. */
export interface GemmParams {
  transA: boolean;
  transB: boolean;
  /** op(A) is m×k, op(B) is k×n, C is m×n. */
  m: number;
  n: number;
  k: number;
  alpha: number;
  /** A is stored m×k (row length lda ≥ k) or, when transA, k×m (lda ≥ m). */
  a: F32;
  lda: number;
  /** B is stored k×n (ldb ≥ n) or, when transB, n×k (ldb ≥ k). */
  b: F32;
  ldb: number;
  /** beta = 0 means C is overwritten, and its old contents (even NaN) are ignored. */
  beta: number;
  c: F32;
  ldc: number;
  /** Number of independent products (default 1); matrix i starts at i·stride* in each buffer. */
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

/**
 * The precision of the matrix products of gemm (attention stays fp32 in both: see `attention`):
 * `fp32`, or `bf16`: the inputs of each product rounded to bfloat16 (round to nearest even), the
 * accumulation and the output in f32. Everything else (softmax, layer norm, loss, reductions,
 * master weights, AdamW) is f32 in both. See src/engine/precision.ts for how it is chosen.
 */
export type Precision = "fp32" | "bf16";

/** What the CPU offers for bf16 products: AMX tiles, AVX-512-BF16 only, or neither. */
export type Bf16Hardware = "amx" | "avx512-bf16" | "none";

export type BinaryOp = "add" | "sub" | "mul" | "div";

/** Element-wise functions. `scale` is x·alpha; `gelu` is the tanh approximation (GPT-2's). */
export type UnaryOp = "gelu" | "tanh" | "sigmoid" | "relu" | "exp" | "log" | "neg" | "scale" | "square";

export interface Kernels {
  readonly name: "native" | "reference";

  /** Threads used by every parallel kernel (one OpenMP pool, shared with oneDNN). */
  setThreads(n: number): void;
  getThreads(): number;

  /** Precision of the products from now on (a process-wide setting, like the thread count). */
  setPrecision(p: Precision): void;
  getPrecision(): Precision;
  /** The CPU's bf16 support as the backend sees it (the reference backend emulates bf16 and says "none"). */
  bf16Hardware(): Bf16Hardware;

  gemm(p: GemmParams): void;

  /**
   * out[i] = a[ia] op b[ib] over an N-d index space `shape` (rank ≤ 6). The element at
   * multi-index (i0..ir) of a is at Σ ij·aStrides[j]; a stride of 0 broadcasts that axis.
   * `out` is contiguous with shape `shape`.
   */
  binary(op: BinaryOp, a: F32, aStrides: number[], b: F32, bStrides: number[], out: F32, shape: number[]): void;

  /** out = f(x) element-wise over n = x.length (out may be x). alpha is used by `scale`. */
  unary(op: UnaryOp, x: F32, out: F32, alpha?: number): void;

  /**
   * dx += f'(x) · dy element-wise. `y` is the forward output f(x) (kernels may use either:
   * tanh and sigmoid use y, gelu uses x). alpha is used by `scale`.
   */
  unaryBackward(op: UnaryOp, x: F32, y: F32, dy: F32, dx: F32, alpha?: number): void;

  /**
   * Reduction by accumulation: for every multi-index i of `shape` (the shape of x, contiguous,
   * rank ≤ 6), out[Σ ij·outStrides[j]] += x[i]. Axes with out-stride 0 are summed over. Used for
   * sums, means and the gradient of broadcasting.
   */
  sumInto(x: F32, shape: number[], out: F32, outStrides: number[]): void;

  /**
   * out = x permuted: out has shape shape[perm[0]], shape[perm[1]], ...; x is contiguous with
   * `shape` (rank ≤ 6). If accumulate, out += permuted x (used by the backward pass).
   */
  permute(x: F32, shape: number[], perm: number[], out: F32, accumulate: boolean): void;

  /**
   * Block copy: for i in [0, nBlocks): dst[dstOffset + i·dstStride + j] (+)= src[srcOffset + i·srcStride + j]
   * for j in [0, blockLen). Slicing and concatenation along any axis are this.
   */
  copyBlocks(
    src: F32,
    srcOffset: number,
    srcStride: number,
    dst: F32,
    dstOffset: number,
    dstStride: number,
    blockLen: number,
    nBlocks: number,
    accumulate: boolean,
  ): void;

  /** Sum of squares of x, accumulated in double precision (gradient clipping). */
  sumSquares(x: F32): number;

  /** Row-wise softmax of x [rows, n], max-subtracted (finite for finite inputs of any size). */
  softmax(x: F32, rows: number, n: number, out: F32): void;
  /** dx += y ⊙ (dy − Σ_j dy_j·y_j) row-wise, y the softmax output. */
  softmaxBackward(y: F32, dy: F32, rows: number, n: number, dx: F32): void;

  /**
   * Layer norm over the last axis: y = (x − mean)·rstd·gamma + beta, rstd = 1/sqrt(var + eps),
   * var the biased variance. gamma/beta null mean 1/0. Writes mean[rows] and rstd[rows].
   */
  layerNorm(x: F32, gamma: F32 | null, beta: F32 | null, rows: number, n: number, eps: number, y: F32, mean: F32, rstd: F32): void;
  /** Accumulates into dx, and into dgamma / dbeta when they are not null. */
  layerNormBackward(dy: F32, x: F32, gamma: F32 | null, mean: F32, rstd: F32, rows: number, n: number, dx: F32, dgamma: F32 | null, dbeta: F32 | null): void;

  /**
   * Cross-entropy from logits, fused with log-softmax. logits [rows, n]; targets[rows] (a negative
   * target means "no loss here": loss 0, gradient 0). Writes losses[r] = lse_r − logits[r, t_r]
   * and lse[r] (log-sum-exp, kept for the backward pass). Finite for logits of any finite size.
   */
  crossEntropy(logits: F32, targets: I32, rows: number, n: number, losses: F32, lse: F32): void;
  /** dlogits[r] += dloss[r] · (softmax(logits[r]) − onehot(t_r)); rows with t_r < 0 get nothing. */
  crossEntropyBackward(logits: F32, targets: I32, lse: F32, dloss: F32, rows: number, n: number, dlogits: F32): void;

  /**
   * Multi-head scaled dot-product attention. q, k, v, out: [B, T, H·D] contiguous (head h of token
   * t of batch b is the D floats at ((b·T + t)·H + h)·D). scores = scale · q·kᵀ, causal mask
   * (key index > query index excluded) when `causal`, out = softmax(scores) · v.
   * Writes lse [B, H, T]: the log-sum-exp of each query row's scaled, masked scores (what the
   * backward needs instead of the probabilities). probs [B, H, T, T] = softmax(scores) (masked
   * entries exactly 0) is written only when it is not null: training passes null, and the native
   * kernel then never materialises the T×T probabilities (flash attention: online softmax over key
   * blocks). Computed in fp32 in both precisions (the bf16 setting does not apply to attention).
   */
  attention(q: F32, k: F32, v: F32, B: number, T: number, H: number, D: number, scale: number, causal: boolean, probs: F32 | null, lse: F32, out: F32): void;
  /**
   * Accumulates dq, dk, dv given dout, the forward's out and lse, and the same scale and causal:
   * P = exp(scale·q·kᵀ − lse) is recomputed (masked entries 0), Δ = rowsum(dout ⊙ out),
   * dS = P ⊙ (dout·vᵀ − Δ); dq += scale·dS·k, dk += scale·dSᵀ·q, dv += Pᵀ·dout.
   */
  attentionBackward(
    q: F32,
    k: F32,
    v: F32,
    out: F32,
    lse: F32,
    dout: F32,
    B: number,
    T: number,
    H: number,
    D: number,
    scale: number,
    causal: boolean,
    dq: F32,
    dk: F32,
    dv: F32,
  ): void;

  /** out[i, :] = table[ids[i], :] for i < n; table [vocab, d]. Ids out of range are an error. */
  embedding(table: F32, ids: I32, n: number, d: number, out: F32): void;
  /** dtable[ids[i], :] += dout[i, :] (scatter-add; repeated ids accumulate). */
  embeddingBackward(ids: I32, dout: F32, n: number, d: number, dtable: F32): void;

  /**
   * One AdamW step in place (decoupled weight decay, PyTorch's torch.optim.AdamW):
   *   p ← p − lr·wd·p;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
   *   p ← p − lr · (m / (1−β1^step)) / (sqrt(v / (1−β2^step)) + eps).   step counts from 1.
   */
  adamw(p: F32, g: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;

  /**
   * LSTM over a whole sequence, gate order i, f, g, o (PyTorch's). xw [T, B, 4H] is the input
   * projection x·W_ih + b (precomputed by one GEMM); whh [H, 4H]; h0, c0 [B, H].
   * Per step: z = xw_t + h_{t−1}·whh; i,f,o = σ(z_i, z_f, z_o); g = tanh(z_g);
   * c_t = f⊙c_{t−1} + i⊙g; h_t = o⊙tanh(c_t).
   * Writes hs [T, B, H], cs [T, B, H] and gates [T, B, 4H] (the activated i, f, g, o, kept for backward).
   */
  lstm(xw: F32, whh: F32, h0: F32, c0: F32, T: number, B: number, H: number, hs: F32, cs: F32, gates: F32): void;
  /** Given dhs [T, B, H] (gradient of every h_t), accumulates dxw, dwhh, dh0, dc0. */
  lstmBackward(
    whh: F32,
    h0: F32,
    c0: F32,
    hs: F32,
    cs: F32,
    gates: F32,
    dhs: F32,
    T: number,
    B: number,
    H: number,
    dxw: F32,
    dwhh: F32,
    dh0: F32,
    dc0: F32,
  ): void;

  /** Vanilla (Elman) RNN: h_t = tanh(xw_t + h_{t−1}·whh); xw [T, B, H], whh [H, H]; writes hs [T, B, H]. */
  rnn(xw: F32, whh: F32, h0: F32, T: number, B: number, H: number, hs: F32): void;
  /** Accumulates dxw, dwhh, dh0 given dhs [T, B, H]. */
  rnnBackward(whh: F32, h0: F32, hs: F32, dhs: F32, T: number, B: number, H: number, dxw: F32, dwhh: F32, dh0: F32): void;
}
