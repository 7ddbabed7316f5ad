/**
 * Matrix products with their gradients. `matmul` multiplies the last axis of an activation by a
 * weight matrix (all leading axes are rows of one GEMM: the shape the model spends its FLOPs on);
 * `bmm` is the batched product with optional transposes. Every GEMM goes to the backend (oneDNN
 * on the native one).
 */
import { kernels } from "../backend.ts";
import { type Tensor, allocRaw, fmtShape, makeOutput } from "../tensor.ts";

/**
 * x [..., k] · w → [..., n], where w is [k, n], or [n, k] with `transB` (e.g. a tied unembedding).
 */
export function matmul(x: Tensor, w: Tensor, opts: { transB?: boolean } = {}): Tensor {
  const transB = opts.transB ?? false;
  if (w.rank !== 2) throw new Error(`matmul: 'w' must be 2-D, found shape ${fmtShape(w.shape)}`);
  if (x.rank < 1) throw new Error(`matmul: 'x' must have at least one axis, found a scalar`);
  const k = x.shape[x.rank - 1];
  const [wk, n] = transB ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]];
  if (k !== wk) {
    throw new Error(`matmul: inner dimensions differ: x ${fmtShape(x.shape)} and w ${fmtShape(w.shape)}${transB ? " (transposed)" : ""}`);
  }
  const m = x.size / k;
  const K = kernels();
  const data = allocRaw(m * n);
  const ldw = w.shape[1];
  K.gemm({ transA: false, transB, m, n, k, alpha: 1, a: x.data, lda: k, b: w.data, ldb: ldw, beta: 0, c: data, ldc: n });
  return makeOutput(data, [...x.shape.slice(0, -1), n], [x, w], (out) => {
    const dy = out.grad!;
    // dx [m,k] += dy [m,n] · op(w)ᵀ
    if (x.requiresGrad) {
      K.gemm({ transA: false, transB: !transB, m, n: k, k: n, alpha: 1, a: dy, lda: n, b: w.data, ldb: ldw, beta: 1, c: x.gradBuffer(), ldc: k });
    }
    if (w.requiresGrad) {
      if (!transB) {
        // dw [k,n] += xᵀ [k,m] · dy [m,n]
        K.gemm({ transA: true, transB: false, m: k, n, k: m, alpha: 1, a: x.data, lda: k, b: dy, ldb: n, beta: 1, c: w.gradBuffer(), ldc: n });
      } else {
        // dw [n,k] += dyᵀ [n,m] · x [m,k]
        K.gemm({ transA: true, transB: false, m: n, n: k, k: m, alpha: 1, a: dy, lda: n, b: x.data, ldb: k, beta: 1, c: w.gradBuffer(), ldc: k });
      }
    }
  });
}

/**
 * Batched product: a [..., m, k] · b [..., k, n] → [..., m, n] (op(a) and op(b) with the
 * transposes). The leading (batch) axes of a and b must be equal.
 */
export function bmm(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  if (a.rank < 2 || b.rank < 2 || a.rank !== b.rank) {
    throw new Error(`bmm: 'a' and 'b' must have the same rank ≥ 2, found ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  for (let i = 0; i < a.rank - 2; i++) {
    if (a.shape[i] !== b.shape[i]) throw new Error(`bmm: batch axes differ: ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const [ar, ac] = [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const [br, bc] = [b.shape[b.rank - 2], b.shape[b.rank - 1]];
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  if (k !== kb) {
    throw new Error(`bmm: inner dimensions differ: a ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} and b ${fmtShape(b.shape)}${transB ? "ᵀ" : ""}`);
  }
  const batch = a.size / (ar * ac);
  const K = kernels();
  const data = allocRaw(batch * m * n);
  const strideA = ar * ac,
    strideB = br * bc,
    strideC = m * n;
  K.gemm({ transA, transB, m, n, k, alpha: 1, a: a.data, lda: ac, b: b.data, ldb: bc, beta: 0, c: data, ldc: n, batch, strideA, strideB, strideC });
  return makeOutput(data, [...a.shape.slice(0, -2), m, n], [a, b], (out) => {
    const dc = out.grad!;
    if (a.requiresGrad) {
      // C = op(A)·op(B): d op(A) = dC·op(B)ᵀ. If transA, dA = (dC·op(B)ᵀ)ᵀ = op(B)·dCᵀ.
      if (!transA) {
        K.gemm({
          transA: false,
          transB: !transB,
          m,
          n: k,
          k: n,
          alpha: 1,
          a: dc,
          lda: n,
          b: b.data,
          ldb: bc,
          beta: 1,
          c: a.gradBuffer(),
          ldc: ac,
          batch,
          strideA: strideC,
          strideB,
          strideC: strideA,
        });
      } else {
        K.gemm({
          transA: transB,
          transB: true,
          m: k,
          n: m,
          k: n,
          alpha: 1,
          a: b.data,
          lda: bc,
          b: dc,
          ldb: n,
          beta: 1,
          c: a.gradBuffer(),
          ldc: ac,
          batch,
          strideA: strideB,
          strideB: strideC,
          strideC: strideA,
        });
      }
    }
    if (b.requiresGrad) {
      // d op(B) = op(A)ᵀ·dC. If transB, dB = dCᵀ·op(A).
      if (!transB) {
        K.gemm({
          transA: !transA,
          transB: false,
          m: k,
          n,
          k: m,
          alpha: 1,
          a: a.data,
          lda: ac,
          b: dc,
          ldb: n,
          beta: 1,
          c: b.gradBuffer(),
          ldc: bc,
          batch,
          strideA,
          strideB: strideC,
          strideC: strideB,
        });
      } else {
        K.gemm({
          transA: true,
          transB: transA,
          m: n,
          n: k,
          k: m,
          alpha: 1,
          a: dc,
          lda: n,
          b: a.data,
          ldb: ac,
          beta: 1,
          c: b.gradBuffer(),
          ldc: bc,
          batch,
          strideA: strideC,
          strideB: strideA,
          strideC: strideB,
        });
      }
    }
  });
}
