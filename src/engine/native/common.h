// Shared pieces of the native kernels: the row-major sgemm wrapper (oneDNN), vectorisable math
// (exp, tanh, sigmoid written so that GCC turns `#pragma omp simd` loops over them into AVX2 code
// without -ffast-math, which would break NaN propagation), thread-local scratch, a deterministic
// parallel sum, and the threshold below which a kernel stays on one thread.
#pragma once

#include <omp.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace icl {

using idx = std::int64_t;

// Below this many elements an element-wise kernel runs on the calling thread: an OpenMP fork/join
// costs a few microseconds, about what one core needs for ~30k floats of a streaming loop.
constexpr idx kParMin = 1 << 15;

#define ICL_INLINE inline __attribute__((always_inline))

/** Reinterpret bits (vectorises: GCC lowers it to a register move). */
ICL_INLINE float bitsToFloat(std::int32_t i) { return __builtin_bit_cast(float, i); }

/** 2^n for n in [-126, 127] (other n give garbage, never UB: the shift is done unsigned). */
ICL_INLINE float pow2i(std::int32_t n) {
  return __builtin_bit_cast(float, static_cast<std::uint32_t>(n + 127) << 23);
}

/**
 * exp(x) in float, ~1 ulp (Cephes' expf polynomial, range reduction by ln 2 split in two).
 * exp(NaN) = NaN, exp(+Inf) = +Inf, exp(−Inf) = 0, overflow gives +Inf, results below ~1e-45 are 0.
 * Branch-free so that it vectorises inside `omp simd` loops: the two clamps keep NaN (a comparison
 * with NaN is false), which then flows through the arithmetic, and 2^n is built from the bits of
 * the rounding constant, so there is no float-to-int conversion of a NaN. nn.cc has an AVX2
 * intrinsics twin (vexp8) for the exp-bound loops.
 */
ICL_INLINE float vexp(float x) {
  float xc = x < -104.0f ? -104.0f : x;  // below: the result rounds to 0 anyway
  xc = xc > 89.0f ? 89.0f : xc;          // above: the result overflows to +Inf anyway
  // n = round(x / ln 2): adding 1.5·2^23 rounds to an integer, which then sits in the low
  // mantissa bits of the sum (exact for |n| < 2^22).
  const float kf = xc * 1.44269504088896341f + 12582912.0f;
  const float n = kf - 12582912.0f;
  const std::int32_t ni = __builtin_bit_cast(std::int32_t, kf) - 0x4B400000;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * (r * r) + r + 1.0f;
  // 2^n as two factors so that n in [-150, 129] stays within normal exponents; the second product
  // rounds once into the subnormal range or to +Inf.
  const std::int32_t n1 = ni >> 1;
  const std::int32_t n2 = ni - n1;
  return y * pow2i(n1) * pow2i(n2);
}

/** tanh(x) in float, a few ulp: odd polynomial for |x| < 0.625 (Cephes tanhf), 1 − 2/(e^{2|x|}+1) beyond. */
ICL_INLINE float vtanh(float x) {
  const float ax = std::fabs(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float e = vexp(2.0f * ax);
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : big;  // NaN: the comparison is false, `big` is NaN
}

ICL_INLINE float vsigmoid(float x) { return 1.0f / (1.0f + vexp(-x)); }

constexpr float kGeluC = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluA = 0.044715f;

ICL_INLINE float vgelu(float x) {
  return 0.5f * x * (1.0f + vtanh(kGeluC * (x + kGeluA * x * x * x)));
}

ICL_INLINE float vgeluGrad(float x) {
  const float t = vtanh(kGeluC * (x + kGeluA * x * x * x));
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kGeluC * (1.0f + 3.0f * kGeluA * x * x);
}

/** Threads the kernels use (the OpenMP pool oneDNN shares). */
int numThreads();

/**
 * Scratch memory owned by the calling thread (the JS thread or an OpenMP worker), grown on demand
 * and reused by every later call on that thread, so hot kernels allocate nothing per call once warm.
 * `slot` separates buffers that one kernel needs at the same time.
 */
void* scratchBytes(int slot, std::size_t bytes);
template <class T>
T* scratch(int slot, std::size_t n) {
  return static_cast<T*>(scratchBytes(slot, n * sizeof(T)));
}
constexpr int kScratchSlots = 4;

/** Upper bound on OpenMP threads for per-thread partial arrays kept on the stack. */
constexpr int kMaxThreads = 256;

/**
 * Deterministic parallel sum: per-thread partials in double, combined in thread order.
 * `chunk(lo, hi)` returns the sum of terms [lo, hi). Runs on one thread below `minPar` terms.
 */
template <class F>
double parallelSum(idx n, idx minPar, F&& chunk) {
  double parts[kMaxThreads];
  int used = 1;
  const int want = n >= minPar ? (numThreads() < kMaxThreads ? numThreads() : kMaxThreads) : 1;
#pragma omp parallel num_threads(want) if (want > 1)
  {
    const int nt = omp_get_num_threads();
    const int tid = omp_get_thread_num();
    const idx lo = n * tid / nt, hi = n * (tid + 1) / nt;
    parts[tid] = chunk(lo, hi);
#pragma omp single
    used = nt;
  }
  double total = 0.0;
  for (int t = 0; t < used; t++) total += parts[t];
  return total;
}


/**
 * Row-major C = alpha·op(A)·op(B) + beta·C through oneDNN's dnnl_sgemm. Handles m, n or k = 0
 * itself (oneDNN rejects some of those); beta = 0 never reads C. Called inside an OpenMP parallel
 * region it runs on the calling thread only (oneDNN checks omp_in_parallel()).
 * Returns false when oneDNN reports an error.
 */
bool sgemm(bool transA, bool transB, idx m, idx n, idx k, float alpha, const float* a, idx lda,
           const float* b, idx ldb, float beta, float* c, idx ldc);

}  // namespace icl
