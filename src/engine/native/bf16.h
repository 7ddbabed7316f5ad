// bfloat16 matrix products on oneDNN's matmul primitive (AMX or AVX-512-BF16 brgemm kernels):
// the precision switch, fp32 → bf16 rounding, and a per-thread table of matmul primitives created
// once per shape. See ../shared/docs/amx-bf16.md for what oneDNN 2.6.3 does with bf16 here.
//
// Numerics (the recipe of Kalamkar et al. 2019 and PyTorch's CPU autocast): only the INPUTS of a
// product are rounded to bf16 (round to nearest even, NaN kept); accumulation and output are f32,
// and so is everything outside the products (softmax, layer norm, loss, master weights, AdamW).
#pragma once

#include "common.h"

namespace icl {

using bf16 = std::uint16_t;

/** The precision of the matrix products: false = fp32 (dnnl_sgemm), true = bf16 inputs, f32 accumulation. */
void setBf16(bool on);
bool bf16On();

/** What the CPU offers for bf16 products, as oneDNN sees it: 2 = AMX, 1 = AVX-512-BF16 only, 0 = none. */
int bf16Hardware();

/** fp32 → bf16, round to nearest even; NaN stays NaN (quiet), ±Inf stays ±Inf. */
ICL_INLINE bf16 toBf16(float x) {
  const std::uint32_t u = __builtin_bit_cast(std::uint32_t, x);
  const std::uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return (u & 0x7fffffffu) > 0x7f800000u ? static_cast<bf16>((u >> 16) | 0x40u) : static_cast<bf16>(r);
}
ICL_INLINE float fromBf16(bf16 h) { return __builtin_bit_cast(float, static_cast<std::uint32_t>(h) << 16); }

/** dst[r·cols + c] = bf16(src[r·ld + c]) for a rows×cols block (dst contiguous); parallel when large. */
void toBf16Rows(const float* src, idx ld, idx rows, idx cols, bf16* dst);

/**
 * A bf16 product C = alpha·op(A)·op(B) + beta·C (row-major, A and B bf16 with leading dimensions
 * lda/ldb as stored, C f32), planned once per shape on the calling thread. `plan` returns null when
 * oneDNN has no fast kernel for the shape (it refuses AMX for tiny ones and would fall back to its
 * reference code): the caller then runs the product in fp32.
 */
struct Bf16Plan;
const Bf16Plan* bf16Plan(bool transA, bool transB, idx m, idx n, idx k, float alpha, idx lda, idx ldb, float beta,
                         idx ldc);
bool bf16Run(const Bf16Plan* p, const bf16* a, const bf16* b, float* c);

/** Whether a product of this shape runs faster in bf16 on this CPU (else it stays fp32 in bf16 precision). */
bool bf16Pays(idx m, idx n, idx k);

/** gemm with bf16 inputs: converts op(A) and op(B) (f32) and runs the plan, or sgemm when there is none. */
bool gemmBf16(bool transA, bool transB, idx m, idx n, idx k, float alpha, const float* a, idx lda, const float* b,
              idx ldb, float beta, float* c, idx ldc);

}  // namespace icl
