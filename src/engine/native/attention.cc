// Fused multi-head attention, flash style: per (batch, head, block of 64 query rows) the keys are
// visited in blocks of 64 with an online softmax (running max and sum per query), so training never
// writes the B×H×T×T probabilities; the forward keeps lse = log Σ_j exp(s_ij) per query instead and
// the backward (FlashAttention-2) recomputes P = exp(S − lse) tile by tile.
//
// The tiles and micro-kernels are in attention_impl.inc, compiled twice: for AVX2+FMA (the build's
// baseline ISA) and for AVX-512 inside functions with target("avx512f,avx512bw,avx512vl"), chosen
// once at run time by __builtin_cpu_supports; ICL_LAB_NO_AVX512=1 forces the AVX2 code (tests).
// Everything is fp32 in both precisions (bf16 products measured slower here without AMX), no
// -ffast-math: NaN inputs give NaN outputs.
//
// Threads: the forward shares (batch, head, query block) items out dynamically, largest causal
// blocks first; the backward gives each thread whole heads (dk, dv and dq of a head stay with one
// thread, no atomics), or, with fewer heads than threads, splits each head's key blocks between
// threads with private dq buffers summed in thread order.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace icl {

namespace {

constexpr idx kBr = 64;  // query rows per block = keys per block = lanes of a score tile

struct Dims {
  idx B, T, H, D, HD;
};

/**
 * One head's backward inputs and accumulators, all contiguous (row stride D, or kBr for the
 * transposed blocks): rows H·D floats apart, or a transposed [D][T] with rows T floats apart,
 * thrash the caches when the stride is a multiple of 256 floats.
 */
struct HeadBufs {
  idx Tp;                 // T rounded up to a multiple of kBr
  float *QT, *dOT;        // [Tp / kBr][D][kBr]: scale·log2(e)·Qᵀ and dOᵀ by query block (columns ≥ T zero)
  float *Q, *dO, *K, *V;  // [Tp][D]
  float *lse, *delta;     // [Tp]: log2(e)·lse, Δ_i = Σ_d dO_id·O_id (0 past T)
  float *dQ, *dK, *dV;    // [Tp][D] accumulators
};

namespace avx2 {
#define ICL_W 8
#define ICL_TGT
#include "attention_impl.inc"
#undef ICL_TGT
#undef ICL_W
}  // namespace avx2

// GCC 12 warns that the undefined pass-through operand inside _mm512_max_ps & co. "may be used
// uninitialized" (a false positive of its own headers).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace avx512 {
#define ICL_W 16
#define ICL_TGT __attribute__((target("avx512f,avx512bw,avx512vl")))
#include "attention_impl.inc"
#undef ICL_TGT
#undef ICL_W
}  // namespace avx512
#pragma GCC diagnostic pop

bool pickAvx512() {
  const char* off = std::getenv("ICL_LAB_NO_AVX512");
  if (off != nullptr && off[0] != '\0' && !(off[0] == '0' && off[1] == '\0')) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}

/** Read once: the ISA of the attention kernels for the life of the process. */
bool useAvx512() {
  static const bool on = pickAvx512();
  return on;
}

constexpr std::size_t fwdWorkFloats(idx D) {
  return static_cast<std::size_t>(D * kBr + kBr * kBr + kBr * D + 4 * kBr + 64);
}

/** Numbers attention() calls, so that a thread's packed K and V are never reused across calls. */
std::atomic<std::uint64_t> gForwardCall{0};

/** The head whose K and V rows [0, rows) this thread has packed (scratch slot 1), and in which call. */
struct PackedKV {
  std::uint64_t call = 0;
  idx bh = -1, rows = 0;
};
thread_local PackedKV tPacked;

void forwardItem(const Dims& a, const float* q, const float* k, const float* v, float scale, bool causal,
                 float* probs, float* lse, float* out, idx b, idx h, idx i0, idx rows, std::uint64_t call) {
  // K and V rows of the head, contiguous, packed once per thread and head: items come head by
  // head, the largest (all keys) first, so the later blocks of a head find them packed.
  const idx T = a.T, D = a.D, bh = b * a.H + h, kEnd = causal ? i0 + rows : T;
  float* kv = scratch<float>(1, static_cast<std::size_t>(2 * T * D + 64));
  PackedKV& pk = tPacked;
  if (pk.call != call || pk.bh != bh) {
    pk.call = call;
    pk.bh = bh;
    pk.rows = 0;
  }
  if (pk.rows < kEnd) {
    const idx head = b * T * a.HD + h * D;
    for (idx r = pk.rows; r < kEnd; r++) {
      std::memcpy(kv + r * D, k + head + r * a.HD, sizeof(float) * static_cast<std::size_t>(D));
      std::memcpy(kv + (T + r) * D, v + head + r * a.HD, sizeof(float) * static_cast<std::size_t>(D));
    }
    pk.rows = kEnd;
  }
  float* work = scratch<float>(0, fwdWorkFloats(D));
  if (useAvx512()) {
    avx512::forwardBlock(a, q, kv, kv + T * D, scale, causal, probs, lse, out, b, h, i0, rows, work);
  } else {
    avx2::forwardBlock(a, q, kv, kv + T * D, scale, causal, probs, lse, out, b, h, i0, rows, work);
  }
}

/** Allocates (thread-local scratch slot 1) and fills one head's backward buffers. */
HeadBufs packHead(const Dims& a, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float scale, idx b, idx h) {
  HeadBufs hb;
  const idx Tp = (a.T + kBr - 1) / kBr * kBr, TD = Tp * a.D;
  float* buf = scratch<float>(1, static_cast<std::size_t>(9 * TD + 2 * Tp + 64));
  hb.Tp = Tp;
  hb.QT = buf;
  hb.dOT = buf + TD;
  hb.Q = buf + 2 * TD;
  hb.dO = buf + 3 * TD;
  hb.K = buf + 4 * TD;
  hb.V = buf + 5 * TD;
  hb.dQ = buf + 6 * TD;
  hb.dK = buf + 7 * TD;
  hb.dV = buf + 8 * TD;
  hb.lse = buf + 9 * TD;
  hb.delta = hb.lse + Tp;
  if (useAvx512()) {
    avx512::backwardPack(a, q, k, v, out, lse, dout, scale, b, h, hb);
  } else {
    avx2::backwardPack(a, q, k, v, out, lse, dout, scale, b, h, hb);
  }
  return hb;
}

void backwardKeys(const Dims& a, float scale, bool causal, const HeadBufs& hb, idx kb0, idx kb1) {
  float* work = scratch<float>(0, static_cast<std::size_t>(2 * kBr * kBr + 64));
  if (useAvx512()) {
    avx512::backwardKeys(a.T, a.D, scale, causal, hb, kb0, kb1, work);
  } else {
    avx2::backwardKeys(a.T, a.D, scale, causal, hb, kb0, kb1, work);
  }
}

/** dst rows [r0, r1) of head (b, h) (row stride H·D) += src rows (stride D). */
void addRows(const Dims& a, const float* src, float* dst, idx b, idx h, idx r0, idx r1) {
  const idx D = a.D;
  for (idx r = r0; r < r1; r++) {
    const float* s = src + r * D;
    float* d = dst + (b * a.T + r) * a.HD + h * D;
#pragma omp simd
    for (idx j = 0; j < D; j++) d[j] += s[j];
  }
}

}  // namespace

const char* attentionIsa() { return useAvx512() ? "avx512" : "avx2"; }

void attention(const float* q, const float* k, const float* v, idx B, idx T, idx H, idx D, float scale, bool causal,
               float* probs, float* lse, float* out) {
  if (B == 0 || T == 0 || H == 0) return;
  const Dims a{B, T, H, D, H * D};
  const idx nBlk = (T + kBr - 1) / kBr;
  const idx items = B * H * nBlk;
  const std::uint64_t call = gForwardCall.fetch_add(1) + 1;
  // Head by head (consecutive items share K and V in cache), last block first: with the causal
  // mask the last blocks are the largest, so dynamic scheduling ends each head with small items.
#pragma omp parallel for schedule(dynamic, 1) if (items > 1 && numThreads() > 1)
  for (idx it = 0; it < items; it++) {
    const idx blk = nBlk - 1 - it % nBlk, bh = it / nBlk;
    const idx i0 = blk * kBr, rows = std::min(kBr, T - i0);
    forwardItem(a, q, k, v, scale, causal, probs, lse, out, bh / H, bh % H, i0, rows, call);
  }
}

void attentionBackward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                       const float* dout, idx B, idx T, idx H, idx D, float scale, bool causal, float* dq, float* dk,
                       float* dv) {
  if (B == 0 || T == 0 || H == 0 || D == 0) return;
  const Dims a{B, T, H, D, H * D};
  const idx heads = B * H, nBlk = (T + kBr - 1) / kBr;
  const int nt = numThreads();
  if (heads >= nt || nt == 1 || nBlk == 1) {
#pragma omp parallel for schedule(dynamic, 1) if (heads > 1 && nt > 1)
    for (idx bh = 0; bh < heads; bh++) {
      const idx b = bh / H, h = bh % H;
      const HeadBufs hb = packHead(a, q, k, v, out, lse, dout, scale, b, h);
      backwardKeys(a, scale, causal, hb, 0, nBlk);
      addRows(a, hb.dQ, dq, b, h, 0, T);
      addRows(a, hb.dK, dk, b, h, 0, T);
      addRows(a, hb.dV, dv, b, h, 0, T);
    }
    return;
  }
  // Fewer heads than threads: each head's key blocks split between the threads (cyclically, so
  // that the long first causal blocks spread out). dK, dV rows of a key block belong to one
  // thread; dq rows get a contribution from every thread, added in thread order after a barrier.
  const int want = static_cast<int>(std::min<idx>(nt, std::min<idx>(nBlk, kMaxThreads)));
  const float* parts[kMaxThreads];
  for (idx bh = 0; bh < heads; bh++) {
    const idx b = bh / H, h = bh % H;
#pragma omp parallel num_threads(want)
    {
      const int tn = omp_get_num_threads(), tid = omp_get_thread_num();
      const HeadBufs hb = packHead(a, q, k, v, out, lse, dout, scale, b, h);
      parts[tid] = hb.dQ;
      for (idx kb = tid; kb < nBlk; kb += tn) {
        backwardKeys(a, scale, causal, hb, kb, kb + 1);
        const idx r0 = kb * kBr, r1 = std::min(T, r0 + kBr);
        addRows(a, hb.dK, dk, b, h, r0, r1);
        addRows(a, hb.dV, dv, b, h, r0, r1);
      }
#pragma omp barrier
      const idx r0 = T * tid / tn, r1 = T * (tid + 1) / tn;
      for (int t = 0; t < tn; t++) addRows(a, parts[t], dq, b, h, r0, r1);
    }
  }
}

}  // namespace icl
