// sgemm through oneDNN, thread-local scratch, thread count.
#include "common.h"

#include <oneapi/dnnl/dnnl.h>

namespace icl {

namespace {
// One set per thread; never shrinks, freed at thread exit. Stored as doubles so that every slot
// is aligned for any element type.
thread_local std::vector<double> tScratch[kScratchSlots];
}  // namespace

void* scratchBytes(int slot, std::size_t bytes) {
  std::vector<double>& v = tScratch[slot];
  const std::size_t n = (bytes + sizeof(double) - 1) / sizeof(double) + 8;
  if (v.size() < n) {
    v.clear();
    v.shrink_to_fit();
    v.resize(n);
  }
  return v.data();
}

int numThreads() { return omp_get_max_threads(); }

bool sgemm(bool transA, bool transB, idx m, idx n, idx k, float alpha, const float* a, idx lda,
           const float* b, idx ldb, float beta, float* c, idx ldc) {
  if (m <= 0 || n <= 0) return true;
  if (k <= 0) {
    // C = beta·C (BLAS semantics: beta = 0 overwrites, even NaN).
    for (idx i = 0; i < m; i++) {
      float* row = c + i * ldc;
      if (beta == 0.0f) {
        std::memset(row, 0, sizeof(float) * static_cast<std::size_t>(n));
      } else if (beta != 1.0f) {
        for (idx j = 0; j < n; j++) row[j] *= beta;
      }
    }
    return true;
  }
  // oneDNN checks ld ≥ max(1, cols) even when the matrix is not read; keep them valid.
  if (lda < 1) lda = 1;
  if (ldb < 1) ldb = 1;
  if (ldc < 1) ldc = 1;
  return dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc) == dnnl_success;
}

}  // namespace icl
