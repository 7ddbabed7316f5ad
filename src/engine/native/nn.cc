// Row-wise kernels (softmax, layer norm, cross-entropy), and the previous multi-head attention
// kernels (the engine's attention is attention.cc; these stay for bench/attention.ts).
//
// Row kernels run one row per iteration of an OpenMP loop. The exp-heavy loops (softmax rows,
// log-sum-exp, the cross-entropy gradient) use AVX2 intrinsics: an 8-lane exp, a 4-accumulator row
// max and masked tails, because the scalar-style code of common.h left NaN-keeping clamps as
// compare+blend pairs and serial tails that cost ~25% of the attention softmax.
// attentionLegacy / attentionBackwardLegacy: the attention kernels before the flash kernels of
// attention.cc, kept only so that bench/attention.ts can compare the two in one process (not part
// of the Kernels interface). They work per (batch, head, block of 64 query rows): QKᵀ and PV are
// oneDNN sgemm calls on strided views of q, k, v, the softmax runs in place in probs between the
// two products, and the backward reads probs (finding each block's causal extent from its zeros).
#include <algorithm>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels.h"

namespace icl {

namespace {

#if defined(__AVX2__)
/** Lane mask for the first r (0..8) lanes: 8 ints from kTailMask + 8 − r. */
alignas(64) const std::int32_t kTailMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
ICL_INLINE __m256i tailMask(idx r) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailMask + 8 - r));
}

/** vexp on 8 lanes with explicit max/min clamps (GCC will not turn the NaN-keeping ?: into them). */
ICL_INLINE __m256 vexp8(__m256 x) {
  const __m256 shift = _mm256_set1_ps(12582912.0f);
  __m256 xc = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);  // NaN: the second operand, x
  xc = _mm256_min_ps(_mm256_set1_ps(89.0f), xc);
  const __m256 kf = _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), shift);
  const __m256 n = _mm256_sub_ps(kf, shift);
  const __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(kf), _mm256_set1_epi32(0x4B400000));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
}

ICL_INLINE float hsum8(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}
#endif

/**
 * Largest entry of a row (NaN entries may be skipped: a NaN makes the row NaN later anyway).
 * Four independent accumulators (one would serialise on the max latency), masked tail.
 */
ICL_INLINE float rowMax(const float* x, idx n) {
#if defined(__AVX2__)
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  idx j = 0;
  for (; j + 32 <= n; j += 32) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + j + 8));
    m2 = _mm256_max_ps(m2, _mm256_loadu_ps(x + j + 16));
    m3 = _mm256_max_ps(m3, _mm256_loadu_ps(x + j + 24));
  }
  for (; j + 8 <= n; j += 8) m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + j));
  if (j < n) {
    const __m256i mask = tailMask(n - j);
    const __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + j, mask), _mm256_castsi256_ps(mask));
    m2 = _mm256_max_ps(m2, v);
  }
  m0 = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
#else
  float m = -INFINITY;
  for (idx j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
  return m;
#endif
}

/** y[j] = exp(x[j] − shift) (y may be x, or null to only sum); returns Σ_j exp(x[j] − shift). */
ICL_INLINE float expShiftSum(const float* x, float* y, idx n, float shift) {
#if defined(__AVX2__)
  const __m256 vs = _mm256_set1_ps(shift);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  idx j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256 e0 = vexp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), vs));
    const __m256 e1 = vexp8(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vs));
    if (y != nullptr) {
      _mm256_storeu_ps(y + j, e0);
      _mm256_storeu_ps(y + j + 8, e1);
    }
    a0 = _mm256_add_ps(a0, e0);
    a1 = _mm256_add_ps(a1, e1);
  }
  for (; j < n; j += 8) {  // the last 1..15 entries, 8 lanes at a time, masked
    const __m256i mask = tailMask(std::min<idx>(8, n - j));
    const __m256 e = _mm256_and_ps(vexp8(_mm256_sub_ps(_mm256_maskload_ps(x + j, mask), vs)),
                                   _mm256_castsi256_ps(mask));
    if (y != nullptr) _mm256_maskstore_ps(y + j, mask, e);
    a1 = _mm256_add_ps(a1, e);
  }
  return hsum8(_mm256_add_ps(a0, a1));
#else
  float s = 0.0f;
  for (idx j = 0; j < n; j++) {
    const float e = vexp(x[j] - shift);
    if (y != nullptr) y[j] = e;
    s += e;
  }
  return s;
#endif
}

/** Whether any of x[0..n) is non-zero (NaN counts as non-zero, −0 as zero). */
ICL_INLINE bool anyNonZero(const float* x, idx n) {
  std::uint32_t acc = 0;
#pragma omp simd reduction(| : acc)
  for (idx j = 0; j < n; j++) acc |= __builtin_bit_cast(std::uint32_t, x[j]) & 0x7fffffffu;
  return acc != 0;
}

/** y = softmax(x) over n entries (y may be x); a NaN or +Inf anywhere makes the row NaN, as in the reference. */
/**
 * The backward of softmax over one row of n: dx (+)= y ⊙ (dy − Σ_j dy_j·y_j), added to dx when
 * Accumulate, else written (dx may then be dy). Softmax's backward and the legacy attention's dS.
 */
template <bool Accumulate>
ICL_INLINE void softmaxBackwardRow(const float* y, const float* dy, float* dx, idx n) {
  float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
  for (idx j = 0; j < n; j++) dot += dy[j] * y[j];
#pragma omp simd
  for (idx j = 0; j < n; j++) {
    if (Accumulate) dx[j] += y[j] * (dy[j] - dot);
    else dx[j] = y[j] * (dy[j] - dot);
  }
}

ICL_INLINE void softmaxRow(const float* x, float* y, idx n) {
  const float m = rowMax(x, n);
  const float inv = 1.0f / expShiftSum(x, y, n, m);
#pragma omp simd
  for (idx j = 0; j < n; j++) y[j] *= inv;
}

/** Row loops stay on one thread below this many elements in total. */
constexpr idx kRowParMin = kParMin / 2;

}  // namespace

void softmax(const float* x, idx rows, idx n, float* out) {
#pragma omp parallel for if (rows * n >= kRowParMin && rows > 1) schedule(static)
  for (idx r = 0; r < rows; r++) softmaxRow(x + r * n, out + r * n, n);
}

void softmaxBackward(const float* y, const float* dy, idx rows, idx n, float* dx) {
#pragma omp parallel for if (rows * n >= kParMin && rows > 1) schedule(static)
  for (idx r = 0; r < rows; r++) softmaxBackwardRow<true>(y + r * n, dy + r * n, dx + r * n, n);
}

void layerNorm(const float* x, const float* gamma, const float* beta, idx rows, idx n, float eps, float* y,
               float* mean, float* rstd) {
#pragma omp parallel for if (rows * n >= kRowParMin && rows > 1) schedule(static)
  for (idx r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (idx j = 0; j < n; j++) s += static_cast<double>(xr[j]);
    const double mu = s / static_cast<double>(n);
    double v = 0.0;
#pragma omp simd reduction(+ : v)
    for (idx j = 0; j < n; j++) {
      const double d = static_cast<double>(xr[j]) - mu;
      v += d * d;
    }
    const double rsd = 1.0 / std::sqrt(v / static_cast<double>(n) + static_cast<double>(eps));
    mean[r] = static_cast<float>(mu);
    rstd[r] = static_cast<float>(rsd);
    const float muf = static_cast<float>(mu), rs = static_cast<float>(rsd);
    if (gamma != nullptr && beta != nullptr) {
#pragma omp simd
      for (idx j = 0; j < n; j++) yr[j] = (xr[j] - muf) * rs * gamma[j] + beta[j];
    } else if (gamma != nullptr) {
#pragma omp simd
      for (idx j = 0; j < n; j++) yr[j] = (xr[j] - muf) * rs * gamma[j];
    } else if (beta != nullptr) {
#pragma omp simd
      for (idx j = 0; j < n; j++) yr[j] = (xr[j] - muf) * rs + beta[j];
    } else {
#pragma omp simd
      for (idx j = 0; j < n; j++) yr[j] = (xr[j] - muf) * rs;
    }
  }
}

// dx per row in parallel; dgamma / dbeta through per-thread double partials combined in thread
// order after a barrier (parallel over columns), so the result does not depend on timing.
void layerNormBackward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                       idx rows, idx n, float* dx, float* dgamma, float* dbeta) {
  if (n == 0 || rows == 0) return;
  const bool params = dgamma != nullptr || dbeta != nullptr;
  double* parts[kMaxThreads];
  const int want = rows * n >= kRowParMin && rows > 1 ? std::min(numThreads(), kMaxThreads) : 1;
#pragma omp parallel num_threads(want) if (want > 1)
  {
    const int nt = omp_get_num_threads(), tid = omp_get_thread_num();
    double* acc = nullptr;  // [dgamma | dbeta] partials of this thread
    if (params) {
      acc = scratch<double>(0, 2 * static_cast<std::size_t>(n));
      std::fill(acc, acc + 2 * n, 0.0);
    }
    parts[tid] = acc;
    const idx r0 = rows * tid / nt, r1 = rows * (tid + 1) / nt;
    for (idx r = r0; r < r1; r++) {
      const float* dyr = dy + r * n;
      const float* xr = x + r * n;
      float* dxr = dx + r * n;
      const float mu = mean[r], rs = rstd[r];
      float sumG = 0.0f, sumGX = 0.0f;
#pragma omp simd reduction(+ : sumG, sumGX)
      for (idx j = 0; j < n; j++) {
        const float xh = (xr[j] - mu) * rs;
        const float g = gamma != nullptr ? dyr[j] * gamma[j] : dyr[j];
        sumG += g;
        sumGX += g * xh;
      }
      const float meanG = sumG / static_cast<float>(n), meanGX = sumGX / static_cast<float>(n);
#pragma omp simd
      for (idx j = 0; j < n; j++) {
        const float xh = (xr[j] - mu) * rs;
        const float g = gamma != nullptr ? dyr[j] * gamma[j] : dyr[j];
        dxr[j] += rs * (g - meanG - xh * meanGX);
      }
      if (params) {
        double* ag = acc;
        double* ab = acc + n;
#pragma omp simd
        for (idx j = 0; j < n; j++) {
          const float xh = (xr[j] - mu) * rs;
          ag[j] += static_cast<double>(dyr[j] * xh);
          ab[j] += static_cast<double>(dyr[j]);
        }
      }
    }
    if (params) {
#pragma omp barrier
      const idx c0 = n * tid / nt, c1 = n * (tid + 1) / nt;
      for (idx j = c0; j < c1; j++) {
        double g = 0.0, b = 0.0;
        for (int t = 0; t < nt; t++) {
          g += parts[t][j];
          b += parts[t][n + j];
        }
        if (dgamma != nullptr) dgamma[j] = static_cast<float>(static_cast<double>(dgamma[j]) + g);
        if (dbeta != nullptr) dbeta[j] = static_cast<float>(static_cast<double>(dbeta[j]) + b);
      }
    }
  }
}

void crossEntropy(const float* logits, const std::int32_t* targets, idx rows, idx n, float* losses, float* lse) {
#pragma omp parallel for if (rows * n >= kRowParMin && rows > 1) schedule(static)
  for (idx r = 0; r < rows; r++) {
    const float* xr = logits + r * n;
    const float m = rowMax(xr, n);
    double l;
    if (m == -INFINITY) {
      l = -INFINITY;  // all −Inf (or n = 0): the sum of exponentials is 0
    } else {
      l = static_cast<double>(m) + std::log(static_cast<double>(expShiftSum(xr, nullptr, n, m)));
    }
    lse[r] = static_cast<float>(l);
    const std::int32_t t = targets[r];
    losses[r] = t < 0 ? 0.0f : static_cast<float>(l - static_cast<double>(xr[t]));
  }
}

void crossEntropyBackward(const float* logits, const std::int32_t* targets, const float* lse, const float* dloss,
                          idx rows, idx n, float* dlogits) {
#pragma omp parallel for if (rows * n >= kRowParMin && rows > 1) schedule(static)
  for (idx r = 0; r < rows; r++) {
    const std::int32_t t = targets[r];
    if (t < 0) continue;
    const float* xr = logits + r * n;
    float* dr = dlogits + r * n;
    const float l = lse[r], d = dloss[r];
    idx j = 0;
#if defined(__AVX2__)
    const __m256 vl = _mm256_set1_ps(l), vd = _mm256_set1_ps(d);
    for (; j + 8 <= n; j += 8) {
      const __m256 e = vexp8(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vl));
      _mm256_storeu_ps(dr + j, _mm256_fmadd_ps(vd, e, _mm256_loadu_ps(dr + j)));
    }
#endif
    for (; j < n; j++) dr[j] += d * vexp(xr[j] - l);
    dr[t] -= d;
  }
}

// ---------------------------------------------------------------------------------------------
// Attention. Layout: q, k, v, out [B, T, H·D]; head (b, h) is a T×D matrix with row stride H·D
// starting at (b·T·H + h)·D. probs [B, H, T, T].

namespace {

/** Query rows per block: large enough for efficient sgemm, small enough that causal blocks skip most of the masked half. */
#ifndef ICL_ATTN_BLOCK
#define ICL_ATTN_BLOCK 64
#endif
constexpr idx kAttnBlock = ICL_ATTN_BLOCK;

struct AttnDims {
  idx B, T, H, D, HD, nBlk;
};

/** Forward of one block of query rows [i0, i1) of head (b, h). */
bool attnForwardBlock(const AttnDims& a, const float* q, const float* k, const float* v, float scale, bool causal,
                      float* probs, float* out, idx b, idx h, idx i0, idx i1, bool innerPar) {
  const idx T = a.T, HD = a.HD;
  const idx head = b * T * HD + h * a.D;
  const idx rows = i1 - i0;
  const idx kEnd = causal ? i1 : T;  // keys any row of this block can see
  float* P = probs + ((b * a.H + h) * T + i0) * T;
  if (!sgemm(false, true, rows, kEnd, a.D, scale, q + head + i0 * HD, HD, k + head, HD, 0.0f, P, T)) return false;
#pragma omp parallel for if (innerPar) schedule(static)
  for (idx r = 0; r < rows; r++) {
    float* pr = P + r * T;
    const idx valid = causal ? i0 + r + 1 : T;
    softmaxRow(pr, pr, valid);
    std::fill(pr + valid, pr + T, 0.0f);  // masked entries are exactly 0
  }
  return sgemm(false, false, rows, a.D, kEnd, 1.0f, P, T, v + head, HD, 0.0f, out + head + i0 * HD, HD);
}

}  // namespace

bool attentionLegacy(const float* q, const float* k, const float* v, idx B, idx T, idx H, idx D, float scale,
                     bool causal, float* probs, float* out) {
  if (B == 0 || T == 0 || H == 0) return true;
  const AttnDims a{B, T, H, D, H * D, (T + kAttnBlock - 1) / kAttnBlock};
  const idx items = B * H * a.nBlk;
  const int nt = numThreads();
  if (items < nt || nt == 1) {
    // Too few blocks to share out: one at a time, each sgemm and softmax using every thread.
    for (idx it = 0; it < items; it++) {
      const idx blk = it % a.nBlk, bh = it / a.nBlk;
      const idx i0 = blk * kAttnBlock, i1 = std::min(T, i0 + kAttnBlock);
      if (!attnForwardBlock(a, q, k, v, scale, causal, probs, out, bh / H, bh % H, i0, i1, nt > 1)) return false;
    }
    return true;
  }
  bool ok = true;
  // Blocks handed out last-block-first: with the causal mask the last blocks are the largest, so
  // dynamic scheduling ends with small items and the threads finish together.
#pragma omp parallel for schedule(dynamic, 1) reduction(&& : ok)
  for (idx it = 0; it < items; it++) {
    const idx blk = a.nBlk - 1 - it % a.nBlk, bh = it / a.nBlk;
    const idx i0 = blk * kAttnBlock, i1 = std::min(T, i0 + kAttnBlock);
    ok = attnForwardBlock(a, q, k, v, scale, causal, probs, out, bh / H, bh % H, i0, i1, false) && ok;
  }
  return ok;
}

namespace {

/**
 * Number of leading keys that rows [i0, i1) of P (row stride T) give weight to: one past the last
 * non-zero entry. Masked (causal) entries are exactly 0, so this recovers the causal extent without
 * a flag and skips the masked part of every product (zeros contribute nothing to any gradient).
 */
idx keyExtent(const float* P, idx T, idx rows) {
  idx ext = 0;
  // Last row first: with a causal mask it has the largest extent, and every other row then only
  // needs the check that its tail [ext, T) is zero (one vectorised pass).
  for (idx r = rows - 1; r >= 0 && ext < T; r--) {
    const float* pr = P + r * T;
    if (!anyNonZero(pr + ext, T - ext)) continue;
    idx j = T;
    while (j > ext) {
      const idx lo = std::max(ext, j - 64);
      if (anyNonZero(pr + lo, j - lo)) {
        while (pr[j - 1] == 0.0f) j--;
        break;
      }
      j = lo;
    }
    ext = j;
  }
  return ext;
}

/** Backward of head (b, h): blocks of query rows, dS in thread-local scratch. */
bool attnBackwardHead(const AttnDims& a, const float* q, const float* k, const float* v, const float* probs,
                      const float* dout, float scale, float* dq, float* dk, float* dv, idx b, idx h, bool innerPar) {
  const idx T = a.T, HD = a.HD, D = a.D;
  const idx head = b * T * HD + h * D;
  float* S = scratch<float>(0, static_cast<std::size_t>(kAttnBlock * T));
  for (idx blk = 0; blk < a.nBlk; blk++) {
    const idx i0 = blk * kAttnBlock, i1 = std::min(T, i0 + kAttnBlock), rows = i1 - i0;
    const float* P = probs + ((b * a.H + h) * T + i0) * T;
    const idx kEnd = keyExtent(P, T, rows);
    if (kEnd == 0) continue;  // all-zero rows contribute nothing
    const float* dO = dout + head + i0 * HD;
    // dP = dO·Vᵀ  (rows × kEnd), into S with row stride kEnd
    if (!sgemm(false, true, rows, kEnd, D, 1.0f, dO, HD, v + head, HD, 0.0f, S, kEnd)) return false;
    // dS = P ⊙ (dP − Σ_j P·dP)
#pragma omp parallel for if (innerPar) schedule(static)
    for (idx r = 0; r < rows; r++) softmaxBackwardRow<false>(P + r * T, S + r * kEnd, S + r * kEnd, kEnd);
    // dV[0:kEnd] += Pᵀ·dO;  dQ[i0:i1] += scale·dS·K;  dK[0:kEnd] += scale·dSᵀ·Q
    if (!sgemm(true, false, kEnd, D, rows, 1.0f, P, T, dO, HD, 1.0f, dv + head, HD)) return false;
    if (!sgemm(false, false, rows, D, kEnd, scale, S, kEnd, k + head, HD, 1.0f, dq + head + i0 * HD, HD)) {
      return false;
    }
    if (!sgemm(true, false, kEnd, D, rows, scale, S, kEnd, q + head + i0 * HD, HD, 1.0f, dk + head, HD)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool attentionBackwardLegacy(const float* q, const float* k, const float* v, const float* probs, const float* dout,
                             idx B, idx T, idx H, idx D, float scale, float* dq, float* dk, float* dv) {
  if (B == 0 || T == 0 || H == 0 || D == 0) return true;
  const AttnDims a{B, T, H, D, H * D, (T + kAttnBlock - 1) / kAttnBlock};
  const idx heads = B * H;
  const int nt = numThreads();
  if (heads < nt || nt == 1) {
    for (idx bh = 0; bh < heads; bh++) {
      if (!attnBackwardHead(a, q, k, v, probs, dout, scale, dq, dk, dv, bh / H, bh % H, nt > 1)) return false;
    }
    return true;
  }
  bool ok = true;
  // One head per thread at a time: dK and dV of a head accumulate over its query blocks, so a head
  // is never split between threads.
#pragma omp parallel for schedule(dynamic, 1) reduction(&& : ok)
  for (idx bh = 0; bh < heads; bh++) {
    ok = attnBackwardHead(a, q, k, v, probs, dout, scale, dq, dk, dv, bh / H, bh % H, false) && ok;
  }
  return ok;
}

}  // namespace icl
