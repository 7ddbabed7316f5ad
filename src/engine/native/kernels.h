// The native kernels behind the addon, on raw pointers. Arguments are already checked by addon.cc
// (lengths, ranges, ids), so these functions never validate and never throw; they mirror the
// `Kernels` interface of src/engine/kernels.ts one to one.
#pragma once

#include "bf16.h"
#include "common.h"

namespace icl {

enum class BinOp : int { Add = 0, Sub = 1, Mul = 2, Div = 3 };
enum class UnOp : int { Gelu = 0, Tanh = 1, Sigmoid = 2, Relu = 3, Exp = 4, Log = 5, Neg = 6, Scale = 7, Square = 8 };

constexpr int kMaxRank = 6;

/** Batched gemm: parallel over the batch (one thread per product) when that pays, else serial. */
bool gemmBatched(bool transA, bool transB, idx m, idx n, idx k, float alpha, const float* a, idx lda,
                 const float* b, idx ldb, float beta, float* c, idx ldc, idx batch, idx strideA,
                 idx strideB, idx strideC);

void binary(BinOp op, const float* a, const idx* aStrides, const float* b, const idx* bStrides, float* out,
            const idx* shape, int rank);
void unary(UnOp op, const float* x, float* out, idx n, float alpha);
void unaryBackward(UnOp op, const float* x, const float* y, const float* dy, float* dx, idx n, float alpha);
void sumInto(const float* x, const idx* shape, int rank, float* out, const idx* outStrides, idx outLen);
void permute(const float* x, const idx* shape, const int* perm, int rank, float* out, bool accumulate);
void copyBlocks(const float* src, idx srcStride, float* dst, idx dstStride, idx blockLen, idx nBlocks,
                bool accumulate);
double sumSquares(const float* x, idx n);
void adamw(float* p, const float* g, float* m, float* v, idx n, float lr, float beta1, float beta2, float eps,
           float weightDecay, double bc1, double bc2);
void embedding(const float* table, const std::int32_t* ids, idx n, idx d, float* out);
void embeddingBackward(const std::int32_t* ids, const float* dout, idx n, idx d, float* dtable);

void softmax(const float* x, idx rows, idx n, float* out);
void softmaxBackward(const float* y, const float* dy, idx rows, idx n, float* dx);
void layerNorm(const float* x, const float* gamma, const float* beta, idx rows, idx n, float eps, float* y,
               float* mean, float* rstd);
void layerNormBackward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                       idx rows, idx n, float* dx, float* dgamma, float* dbeta);
void crossEntropy(const float* logits, const std::int32_t* targets, idx rows, idx n, float* losses, float* lse);
void crossEntropyBackward(const float* logits, const std::int32_t* targets, const float* lse, const float* dloss,
                          idx rows, idx n, float* dlogits);

/** Flash attention (attention.cc): writes out and lse [B, H, T], and probs unless it is null. */
void attention(const float* q, const float* k, const float* v, idx B, idx T, idx H, idx D, float scale, bool causal,
               float* probs, float* lse, float* out);
/** Accumulates dq, dk, dv from the forward's out and lse (P recomputed per tile). */
void attentionBackward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                       const float* dout, idx B, idx T, idx H, idx D, float scale, bool causal, float* dq, float* dk,
                       float* dv);
/** "avx512" or "avx2": the code attention runs (chosen once; ICL_LAB_NO_AVX512=1 forces avx2). */
const char* attentionIsa();
/** The previous kernels (probs written, sgemm products), for benchmarks only (nn.cc). */
bool attentionLegacy(const float* q, const float* k, const float* v, idx B, idx T, idx H, idx D, float scale,
                     bool causal, float* probs, float* out);
bool attentionBackwardLegacy(const float* q, const float* k, const float* v, const float* probs, const float* dout,
                             idx B, idx T, idx H, idx D, float scale, float* dq, float* dk, float* dv);

bool lstm(const float* xw, const float* whh, const float* h0, const float* c0, idx T, idx B, idx H, float* hs,
          float* cs, float* gates);
bool lstmBackward(const float* whh, const float* h0, const float* c0, const float* hs, const float* cs,
                  const float* gates, const float* dhs, idx T, idx B, idx H, float* dxw, float* dwhh, float* dh0,
                  float* dc0);
bool rnn(const float* xw, const float* whh, const float* h0, idx T, idx B, idx H, float* hs);
bool rnnBackward(const float* whh, const float* h0, const float* hs, const float* dhs, idx T, idx B, idx H,
                 float* dxw, float* dwhh, float* dh0);

}  // namespace icl
