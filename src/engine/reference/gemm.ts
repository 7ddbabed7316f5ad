/**
 * GEMM: C = alpha · op(A) · op(B) + beta · C, row-major, optionally batched with strides.
 *
 * Each row of C is accumulated in float64 and rounded once. Loop order is i-k-j (a row of op(A)
 * times the rows of B, streaming contiguous rows of B) except when B is transposed, where each
 * element is a dot product of two contiguous rows (i-j-k). In bf16 precision A and B are rounded to
 * bfloat16 first (precision.ts). No zero-skipping, so NaN and Inf in A or
 * B always reach C; beta = 0 never reads C.
 */
import type { GemmParams, Kernels } from "../kernels.ts";
import { checkDim, checkDims, checkLen, dims } from "./check.ts";
import { productInput } from "./precision.ts";

/** Elements a matrix with `rows` rows of `cols` used entries and leading dimension `ld` spans. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

function checkGemm(p: GemmParams): { batch: number; sa: number; sb: number; sc: number } {
  const K = "gemm";
  const { m, n, k, lda, ldb, ldc, transA, transB } = p;
  checkDims(K, { m, n, k, lda, ldb, ldc });
  const batch = p.batch ?? 1;
  checkDim(K, "batch", batch);
  // Strides are required when there is more than one product: a silent default would hide bugs.
  for (const s of ["strideA", "strideB", "strideC"] as const) {
    const v = p[s];
    if (v === undefined) {
      if (batch > 1) throw new Error(`${K}: '${s}' is required when batch=${batch} > 1`);
    } else {
      checkDim(K, s, v);
    }
  }
  const sa = p.strideA ?? 0;
  const sb = p.strideB ?? 0;
  const sc = p.strideC ?? 0;

  // Stored shapes: A is m×k or (transA) k×m; B is k×n or (transB) n×k; C is m×n.
  const [aRows, aCols] = transA ? [k, m] : [m, k];
  const [bRows, bCols] = transB ? [n, k] : [k, n];
  if (lda < aCols && aRows > 0) {
    throw new Error(`${K}: 'lda' is ${lda}, expected at least ${aCols} (the row length of ${transA ? "Aᵀ stored k×m" : "A stored m×k"})`);
  }
  if (ldb < bCols && bRows > 0) {
    throw new Error(`${K}: 'ldb' is ${ldb}, expected at least ${bCols} (the row length of ${transB ? "Bᵀ stored n×k" : "B stored k×n"})`);
  }
  if (ldc < n && m > 0) throw new Error(`${K}: 'ldc' is ${ldc}, expected at least n=${n}`);

  const batchPart = batch > 1 ? `, batch=${batch}` : "";
  if (m > 0 && n > 0 && batch > 0) {
    const spanA = span(aRows, aCols, lda);
    const spanB = span(bRows, bCols, ldb);
    const spanC = span(m, n, ldc);
    if (spanA > 0) {
      checkLen(
        K,
        "a",
        p.a,
        (batch - 1) * sa + spanA,
        dims(transA ? { k, m, lda } : { m, k, lda }) + batchPart + (batch > 1 ? `, strideA=${sa}` : "") + (transA ? " (transA)" : ""),
      );
    }
    if (spanB > 0) {
      checkLen(
        K,
        "b",
        p.b,
        (batch - 1) * sb + spanB,
        dims(transB ? { n, k, ldb } : { k, n, ldb }) + batchPart + (batch > 1 ? `, strideB=${sb}` : "") + (transB ? " (transB)" : ""),
      );
    }
    checkLen(K, "c", p.c, (batch - 1) * sc + spanC, dims({ m, n, ldc }) + batchPart + (batch > 1 ? `, strideC=${sc}` : ""));
  }
  return { batch, sa, sb, sc };
}

export const gemm: Kernels["gemm"] = (p) => {
  const { batch, sa, sb, sc } = checkGemm(p);
  const { m, n, k, alpha, beta, c, lda, ldb, ldc, transA, transB } = p;
  if (m === 0 || n === 0) return;
  // In bf16 the inputs are rounded (precision.ts); the accumulation stays in double.
  const a = productInput(p.a);
  const b = productInput(p.b);
  const acc = new Float64Array(n); // one row of op(A)·op(B), in double precision

  for (let bi = 0; bi < batch; bi++) {
    const a0 = bi * sa;
    const b0 = bi * sb;
    const c0 = bi * sc;
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      if (!transB) {
        // i-k-j: acc += op(A)[i, p] · B[p, :]
        for (let q = 0; q < k; q++) {
          const aip = transA ? a[a0 + q * lda + i] : a[a0 + i * lda + q];
          const bRow = b0 + q * ldb;
          for (let j = 0; j < n; j++) acc[j] += aip * b[bRow + j];
        }
      } else {
        // B stored n×k: C[i, j] is the dot product of row i of op(A) with row j of B.
        for (let j = 0; j < n; j++) {
          const bRow = b0 + j * ldb;
          let s = 0;
          if (transA) {
            for (let q = 0; q < k; q++) s += a[a0 + q * lda + i] * b[bRow + q];
          } else {
            const aRow = a0 + i * lda;
            for (let q = 0; q < k; q++) s += a[aRow + q] * b[bRow + q];
          }
          acc[j] = s;
        }
      }
      const cRow = c0 + i * ldc;
      if (beta === 0) {
        for (let j = 0; j < n; j++) c[cRow + j] = alpha * acc[j];
      } else if (beta === 1) {
        for (let j = 0; j < n; j++) c[cRow + j] = c[cRow + j] + alpha * acc[j];
      } else {
        for (let j = 0; j < n; j++) c[cRow + j] = beta * c[cRow + j] + alpha * acc[j];
      }
    }
  }
};
