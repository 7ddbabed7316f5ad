// Element-wise and data-movement kernels: binary (strided broadcasting), unary and its backward,
// sumInto, permute, copyBlocks, sumSquares, AdamW, embedding gather / scatter-add, batched gemm.
//
// Strided kernels first collapse the index space (drop size-1 axes, merge axes that are contiguous
// for every operand), so the common cases become one or two long rows whose inner loops the
// compiler vectorises; the flat index range is then split evenly between threads.
#include <algorithm>

#include "kernels.h"

namespace icl {

namespace {

/** An N-d index space walked with up to three stride vectors at once. */
template <int NOPS>
struct Space {
  int rank = 0;
  idx shape[kMaxRank];
  idx st[NOPS][kMaxRank];

  idx count() const {
    idx c = 1;
    for (int d = 0; d < rank; d++) c *= shape[d];
    return c;
  }

  /** Drops size-1 axes and merges neighbours that are contiguous for every operand. */
  void collapse() {
    int r = 0;
    for (int d = 0; d < rank; d++) {
      if (shape[d] == 1) continue;
      if (r > 0) {
        bool merge = true;
        for (int o = 0; o < NOPS; o++) merge = merge && st[o][r - 1] == st[o][d] * shape[d];
        if (merge) {
          shape[r - 1] *= shape[d];
          for (int o = 0; o < NOPS; o++) st[o][r - 1] = st[o][d];
          continue;
        }
      }
      shape[r] = shape[d];
      for (int o = 0; o < NOPS; o++) st[o][r] = st[o][d];
      r++;
    }
    if (r == 0) {  // a single element
      shape[0] = 1;
      for (int o = 0; o < NOPS; o++) st[o][0] = 0;
      r = 1;
    }
    rank = r;
  }

  /**
   * Calls row(offsets, len) for the rows (pieces of the innermost axis) covering flat indices
   * [lo, hi); offsets[o] is operand o's offset of the piece's first element.
   */
  template <class F>
  void forRange(idx lo, idx hi, F&& row) const {
    if (lo >= hi) return;
    const idx L = shape[rank - 1];
    idx ix[kMaxRank];
    idx off[NOPS];
    idx rem = lo / L;
    idx j0 = lo % L;
    for (int o = 0; o < NOPS; o++) off[o] = j0 * st[o][rank - 1];
    for (int d = rank - 2; d >= 0; d--) {
      ix[d] = rem % shape[d];
      rem /= shape[d];
      for (int o = 0; o < NOPS; o++) off[o] += ix[d] * st[o][d];
    }
    idx pos = lo;
    while (pos < hi) {
      const idx len = std::min(L - j0, hi - pos);
      row(off, len);
      pos += len;
      if (pos >= hi) break;
      for (int o = 0; o < NOPS; o++) off[o] -= j0 * st[o][rank - 1];
      j0 = 0;
      for (int d = rank - 2; d >= 0; d--) {
        ix[d]++;
        for (int o = 0; o < NOPS; o++) off[o] += st[o][d];
        if (ix[d] < shape[d]) break;
        for (int o = 0; o < NOPS; o++) off[o] -= st[o][d] * shape[d];
        ix[d] = 0;
      }
    }
  }

  /** Splits the flat range between threads (one thread below kParMin elements). */
  template <class F>
  void parallelRows(F&& row) const {
    const idx n = count();
    const int want = n >= kParMin ? numThreads() : 1;
#pragma omp parallel num_threads(want) if (want > 1)
    {
      const int nt = omp_get_num_threads();
      const int tid = omp_get_thread_num();
      forRange(n * tid / nt, n * (tid + 1) / nt, row);
    }
  }
};

void contiguous(const idx* shape, int rank, idx* st) {
  idx acc = 1;
  for (int d = rank - 1; d >= 0; d--) {
    st[d] = acc;
    acc *= shape[d];
  }
}

struct AddF { static ICL_INLINE float f(float a, float b) { return a + b; } };
struct SubF { static ICL_INLINE float f(float a, float b) { return a - b; } };
struct MulF { static ICL_INLINE float f(float a, float b) { return a * b; } };
struct DivF { static ICL_INLINE float f(float a, float b) { return a / b; } };

template <class Op>
void binRow(const float* __restrict a, idx sa, const float* __restrict b, idx sb, float* out, idx len) {
  // `out` may alias a or b element for element (in-place ops), so no __restrict on it; the
  // simd pragma asserts the loop has no cross-iteration dependence, which holds for such aliasing.
  if (sa == 1 && sb == 1) {
#pragma omp simd
    for (idx j = 0; j < len; j++) out[j] = Op::f(a[j], b[j]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
#pragma omp simd
    for (idx j = 0; j < len; j++) out[j] = Op::f(a[j], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
#pragma omp simd
    for (idx j = 0; j < len; j++) out[j] = Op::f(av, b[j]);
  } else {
    for (idx j = 0; j < len; j++) out[j] = Op::f(a[j * sa], b[j * sb]);
  }
}

template <class Op>
void binaryT(const float* a, const float* b, float* out, const Space<3>& s) {
  const idx sa = s.st[0][s.rank - 1], sb = s.st[1][s.rank - 1];
  s.parallelRows([&](const idx* off, idx len) { binRow<Op>(a + off[0], sa, b + off[1], sb, out + off[2], len); });
}

}  // namespace

bool gemmBatched(bool transA, bool transB, idx m, idx n, idx k, float alpha, const float* a, idx lda,
                 const float* b, idx ldb, float beta, float* c, idx ldc, idx batch, idx strideA,
                 idx strideB, idx strideC) {
  if (batch <= 0 || m <= 0 || n <= 0) return true;
  if (bf16On()) {
    // bf16: one product at a time, each converted into the calling thread's scratch and run by a
    // planned oneDNN matmul on every thread.
    for (idx i = 0; i < batch; i++) {
      if (!gemmBf16(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC,
                    ldc)) {
        return false;
      }
    }
    return true;
  }
  if (batch == 1) return sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const int nt = numThreads();
  // One product per thread when there are enough of them and each is small enough that oneDNN's
  // own threading of one product would mostly be synchronisation (measured: 64 × 512×512×32 runs
  // ~15% faster this way on 2 threads). Products must not share C (strideC = 0 would race).
  const double flops = 2.0 * static_cast<double>(m) * n * k;
  const idx spanC = (m - 1) * ldc + n;
  const bool perItem = nt > 1 && batch >= nt && strideC >= spanC && flops < 512.0 * 1024 * 1024;
  if (!perItem) {
    for (idx i = 0; i < batch; i++) {
      if (!sgemm(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC,
                 ldc)) {
        return false;
      }
    }
    return true;
  }
  bool ok = true;
#pragma omp parallel for schedule(dynamic, 1) reduction(&& : ok)
  for (idx i = 0; i < batch; i++) {
    ok = sgemm(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC,
               ldc) && ok;
  }
  return ok;
}

void binary(BinOp op, const float* a, const idx* aStrides, const float* b, const idx* bStrides, float* out,
            const idx* shape, int rank) {
  Space<3> s;
  s.rank = rank;
  for (int d = 0; d < rank; d++) {
    s.shape[d] = shape[d];
    s.st[0][d] = aStrides[d];
    s.st[1][d] = bStrides[d];
  }
  contiguous(shape, rank, s.st[2]);
  if (s.count() == 0) return;
  s.collapse();
  switch (op) {
    case BinOp::Add: binaryT<AddF>(a, b, out, s); break;
    case BinOp::Sub: binaryT<SubF>(a, b, out, s); break;
    case BinOp::Mul: binaryT<MulF>(a, b, out, s); break;
    case BinOp::Div: binaryT<DivF>(a, b, out, s); break;
  }
}

// `out` may be `x`: every loop reads element i before writing element i.
void unary(UnOp op, const float* x, float* out, idx n, float alpha) {
  const bool par = n >= kParMin;
  switch (op) {
    case UnOp::Gelu:
#pragma omp parallel for simd if (n >= kParMin / 4) schedule(static)
      for (idx i = 0; i < n; i++) out[i] = vgelu(x[i]);
      break;
    case UnOp::Tanh:
#pragma omp parallel for simd if (n >= kParMin / 4) schedule(static)
      for (idx i = 0; i < n; i++) out[i] = vtanh(x[i]);
      break;
    case UnOp::Sigmoid:
#pragma omp parallel for simd if (n >= kParMin / 4) schedule(static)
      for (idx i = 0; i < n; i++) out[i] = vsigmoid(x[i]);
      break;
    case UnOp::Relu:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) {
        const float v = x[i];
        out[i] = v > 0.0f ? v : (v != v ? v : 0.0f);  // NaN propagates, as Math.max(x, 0)
      }
      break;
    case UnOp::Exp:
#pragma omp parallel for simd if (n >= kParMin / 4) schedule(static)
      for (idx i = 0; i < n; i++) out[i] = vexp(x[i]);
      break;
    case UnOp::Log:
#pragma omp parallel for if (n >= kParMin / 4) schedule(static)
      for (idx i = 0; i < n; i++) out[i] = std::log(x[i]);
      break;
    case UnOp::Neg:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) out[i] = -x[i];
      break;
    case UnOp::Scale:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) out[i] = x[i] * alpha;
      break;
    case UnOp::Square:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) out[i] = x[i] * x[i];
      break;
  }
}

void unaryBackward(UnOp op, const float* x, const float* y, const float* dy, float* dx, idx n, float alpha) {
  const bool par = n >= kParMin;
  switch (op) {
    case UnOp::Gelu:
#pragma omp parallel for simd if (n >= kParMin / 4) schedule(static)
      for (idx i = 0; i < n; i++) dx[i] += vgeluGrad(x[i]) * dy[i];
      break;
    case UnOp::Tanh:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) dx[i] += (1.0f - y[i] * y[i]) * dy[i];
      break;
    case UnOp::Sigmoid:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) dx[i] += y[i] * (1.0f - y[i]) * dy[i];
      break;
    case UnOp::Relu:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) {
        const float v = x[i];
        // slope 1 for x > 0, 0 for x ≤ 0; a NaN input gives a NaN gradient
        dx[i] += v > 0.0f ? dy[i] : (v != v ? v : 0.0f);
      }
      break;
    case UnOp::Exp:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) dx[i] += y[i] * dy[i];
      break;
    case UnOp::Log:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) dx[i] += dy[i] / x[i];
      break;
    case UnOp::Neg:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) dx[i] -= dy[i];
      break;
    case UnOp::Scale:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) dx[i] += alpha * dy[i];
      break;
    case UnOp::Square:
#pragma omp parallel for simd if (par) schedule(static)
      for (idx i = 0; i < n; i++) dx[i] += 2.0f * x[i] * dy[i];
      break;
  }
}

namespace {
double sumRowD(const float* x, idx len) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (idx j = 0; j < len; j++) s += static_cast<double>(x[j]);
  return s;
}
}  // namespace

// Sums are formed in double and added to `out` once per reached element, as the reference does.
void sumInto(const float* x, const idx* shape, int rank, float* out, const idx* outStrides, idx outLen) {
  Space<2> s;
  s.rank = rank;
  for (int d = 0; d < rank; d++) {
    s.shape[d] = shape[d];
    s.st[1][d] = outStrides[d];
  }
  contiguous(shape, rank, s.st[0]);
  const idx count = s.count();
  if (count == 0) return;
  s.collapse();
  const int r = s.rank;
  bool allZero = true;
  for (int d = 0; d < r; d++) allZero = allZero && s.st[1][d] == 0;

  if (allZero) {  // everything into out[0]
    const double total = parallelSum(count, kParMin, [&](idx lo, idx hi) { return sumRowD(x + lo, hi - lo); });
    out[0] = static_cast<float>(static_cast<double>(out[0]) + total);
    return;
  }
  if (r == 1) {  // one element each: out[j·s] += x[j]
    const idx so = s.st[1][0];
#pragma omp parallel for simd if (count >= kParMin) schedule(static)
    for (idx j = 0; j < count; j++) out[j * so] += x[j];
    return;
  }
  if (r == 2 && s.st[1][1] == 0) {  // row sums: out[i·s] += Σ_j x[i, j]
    const idx rows = s.shape[0], L = s.shape[1], so = s.st[1][0];
#pragma omp parallel for if (count >= kParMin) schedule(static)
    for (idx i = 0; i < rows; i++) {
      out[i * so] = static_cast<float>(static_cast<double>(out[i * so]) + sumRowD(x + i * L, L));
    }
    return;
  }
  if (r == 2 && s.st[1][0] == 0) {  // column sums (bias gradients): out[j·s] += Σ_i x[i, j]
    const idx rows = s.shape[0], L = s.shape[1], so = s.st[1][1];
    // Each thread owns a band of columns, so no two threads touch one output element.
    const int want = count >= kParMin ? static_cast<int>(std::min<idx>(numThreads(), std::max<idx>(1, L / 64))) : 1;
#pragma omp parallel num_threads(want) if (want > 1)
    {
      const int nt = omp_get_num_threads(), tid = omp_get_thread_num();
      const idx c0 = L * tid / nt, c1 = L * (tid + 1) / nt, w = c1 - c0;
      double* acc = scratch<double>(0, static_cast<std::size_t>(w));
      for (idx j = 0; j < w; j++) acc[j] = 0.0;
      for (idx i = 0; i < rows; i++) {
        const float* xr = x + i * L + c0;
#pragma omp simd
        for (idx j = 0; j < w; j++) acc[j] += static_cast<double>(xr[j]);
      }
      for (idx j = 0; j < w; j++) {
        float& o = out[(c0 + j) * so];
        o = static_cast<float>(static_cast<double>(o) + acc[j]);
      }
    }
    return;
  }
  // General layout: serial, double accumulators over the reached part of `out`.
  double* acc = scratch<double>(0, static_cast<std::size_t>(outLen));
  unsigned char* touched = scratch<unsigned char>(1, static_cast<std::size_t>(outLen));
  std::fill(acc, acc + outLen, 0.0);
  std::fill(touched, touched + outLen, 0);
  const idx so = s.st[1][r - 1];
  s.forRange(0, count, [&](const idx* off, idx len) {
    const float* xr = x + off[0];
    if (so == 0) {
      acc[off[1]] += sumRowD(xr, len);
      touched[off[1]] = 1;
    } else {
      for (idx j = 0; j < len; j++) {
        acc[off[1] + j * so] += static_cast<double>(xr[j]);
        touched[off[1] + j * so] = 1;
      }
    }
  });
  for (idx i = 0; i < outLen; i++) {
    if (touched[i]) out[i] = static_cast<float>(static_cast<double>(out[i]) + acc[i]);
  }
}

void permute(const float* x, const idx* shape, const int* perm, int rank, float* out, bool accumulate) {
  Space<2> s;
  idx xst[kMaxRank];
  contiguous(shape, rank, xst);
  s.rank = rank;
  for (int d = 0; d < rank; d++) {
    s.shape[d] = shape[perm[d]];
    s.st[0][d] = xst[perm[d]];
  }
  contiguous(s.shape, rank, s.st[1]);
  if (s.count() == 0) return;
  s.collapse();
  const idx sx = s.st[0][s.rank - 1];
  s.parallelRows([&](const idx* off, idx len) {
    const float* __restrict xr = x + off[0];
    float* __restrict orow = out + off[1];
    if (sx == 1) {
      if (accumulate) {
#pragma omp simd
        for (idx j = 0; j < len; j++) orow[j] += xr[j];
      } else {
        std::memcpy(orow, xr, sizeof(float) * static_cast<std::size_t>(len));
      }
    } else if (accumulate) {
      for (idx j = 0; j < len; j++) orow[j] += xr[j * sx];
    } else {
      for (idx j = 0; j < len; j++) orow[j] = xr[j * sx];
    }
  });
}

void copyBlocks(const float* src, idx srcStride, float* dst, idx dstStride, idx blockLen, idx nBlocks,
                bool accumulate) {
  Space<2> s;
  s.rank = 2;
  s.shape[0] = nBlocks;
  s.shape[1] = blockLen;
  s.st[0][0] = srcStride;
  s.st[0][1] = 1;
  s.st[1][0] = dstStride;
  s.st[1][1] = 1;
  if (s.count() == 0) return;
  s.collapse();
  s.parallelRows([&](const idx* off, idx len) {
    const float* sr = src + off[0];
    float* dr = dst + off[1];
    if (accumulate) {
#pragma omp simd
      for (idx j = 0; j < len; j++) dr[j] += sr[j];
    } else {
      std::memmove(dr, sr, sizeof(float) * static_cast<std::size_t>(len));
    }
  });
}

double sumSquares(const float* x, idx n) {
  return parallelSum(n, kParMin, [&](idx lo, idx hi) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (idx i = lo; i < hi; i++) {
      const double v = static_cast<double>(x[i]);
      s += v * v;
    }
    return s;
  });
}

void adamw(float* p, const float* g, float* m, float* v, idx n, float lr, float beta1, float beta2, float eps,
           float weightDecay, double bc1, double bc2) {
  const float decay = 1.0f - lr * weightDecay;
  const float ibc1 = static_cast<float>(1.0 / bc1);
  const float ibc2 = static_cast<float>(1.0 / bc2);
  const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
#pragma omp parallel for simd if (n >= kParMin) schedule(static)
  for (idx i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + c1 * gi;
    const float vi = beta2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (lr * (mi * ibc1)) / (std::sqrt(vi * ibc2) + eps);
  }
}

void embedding(const float* table, const std::int32_t* ids, idx n, idx d, float* out) {
#pragma omp parallel for if (n * d >= kParMin) schedule(static)
  for (idx i = 0; i < n; i++) {
    std::memcpy(out + i * d, table + static_cast<idx>(ids[i]) * d, sizeof(float) * static_cast<std::size_t>(d));
  }
}

// Scatter-add without races: each thread owns a band of columns and walks every id in order, so
// repeated ids accumulate in the same order as a serial loop (bit-identical to it).
void embeddingBackward(const std::int32_t* ids, const float* dout, idx n, idx d, float* dtable) {
  const int want = n * d >= kParMin ? static_cast<int>(std::min<idx>(numThreads(), std::max<idx>(1, d / 16))) : 1;
#pragma omp parallel num_threads(want) if (want > 1)
  {
    const int nt = omp_get_num_threads(), tid = omp_get_thread_num();
    const idx c0 = d * tid / nt, c1 = d * (tid + 1) / nt;
    for (idx i = 0; i < n; i++) {
      float* __restrict dst = dtable + static_cast<idx>(ids[i]) * d;
      const float* __restrict src = dout + i * d;
#pragma omp simd
      for (idx j = c0; j < c1; j++) dst[j] += src[j];
    }
  }
}

}  // namespace icl
