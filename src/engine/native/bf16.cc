// bf16 products on oneDNN's matmul primitive (see bf16.h). Written against oneDNN 2.6's C++ API
// (Debian 12's libdnnl-dev): output scales for alpha, a sum post-op for beta, transposes as strides,
// a user scratchpad per plan so that plans on different threads never share memory.
#include "bf16.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace icl {

namespace {

std::atomic<bool> gBf16{false};

dnnl::engine& cpuEngine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct Key {
  bool ta, tb;
  idx m, n, k, lda, ldb, ldc;
  float alpha, beta;
  bool operator==(const Key& o) const {
    return ta == o.ta && tb == o.tb && m == o.m && n == o.n && k == o.k && lda == o.lda && ldb == o.ldb &&
           ldc == o.ldc && std::memcmp(&alpha, &o.alpha, sizeof alpha) == 0 && std::memcmp(&beta, &o.beta, sizeof beta) == 0;
  }
};

struct KeyHash {
  std::size_t operator()(const Key& key) const {
    std::size_t h = 1469598103934665603ull;
    const auto mix = [&](std::uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    mix(static_cast<std::uint64_t>(key.ta) | static_cast<std::uint64_t>(key.tb) << 1);
    for (idx v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc}) mix(static_cast<std::uint64_t>(v));
    mix(__builtin_bit_cast(std::uint32_t, key.alpha));
    mix(__builtin_bit_cast(std::uint32_t, key.beta));
    return h;
  }
};

}  // namespace

struct Bf16Plan {
  dnnl::matmul prim;
  dnnl::memory a, b, c, scratch;
};

namespace {

/** Logical rows×cols matrix stored row-major with leading dimension ld, or its transpose. */
dnnl::memory::desc matDesc(idx rows, idx cols, bool trans, idx ld, dnnl::memory::data_type dt) {
  const dnnl::memory::dims strides = trans ? dnnl::memory::dims{1, ld} : dnnl::memory::dims{ld, 1};
  return dnnl::memory::desc({rows, cols}, dt, strides);
}

std::unique_ptr<Bf16Plan> makePlan(const Key& key) {
  using dt = dnnl::memory::data_type;
  const auto ad = matDesc(key.m, key.k, key.ta, key.lda, dt::bf16);
  const auto bd = matDesc(key.k, key.n, key.tb, key.ldb, dt::bf16);
  const auto cd = matDesc(key.m, key.n, false, key.ldc, dt::f32);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (key.alpha != 1.0f) attr.set_output_scales(0, {key.alpha});
  if (key.beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(key.beta);
    attr.set_post_ops(po);
  }
  dnnl::engine& e = cpuEngine();
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), attr, e);
  // Only oneDNN's brgemm kernels (AMX / AVX-512-BF16) are worth it; its reference and gemm-based
  // bf16 fallbacks are slower than fp32 sgemm, so a shape they would get runs in fp32 instead.
  const std::string impl = pd.impl_info_str();
  if (impl.find("brg") == std::string::npos) return nullptr;
  auto p = std::make_unique<Bf16Plan>();
  p->prim = dnnl::matmul(pd);
  p->a = dnnl::memory(ad, e, DNNL_MEMORY_NONE);
  p->b = dnnl::memory(bd, e, DNNL_MEMORY_NONE);
  p->c = dnnl::memory(cd, e, DNNL_MEMORY_NONE);
  p->scratch = dnnl::memory(pd.scratchpad_desc(), e);
  return p;
}

struct ThreadPlans {
  std::unordered_map<Key, std::unique_ptr<Bf16Plan>, KeyHash> plans;
  std::unique_ptr<dnnl::stream> stream;
};
thread_local ThreadPlans tPlans;

}  // namespace

void setBf16(bool on) { gBf16.store(on, std::memory_order_relaxed); }
bool bf16On() { return gBf16.load(std::memory_order_relaxed); }

int bf16Hardware() {
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  if (isa == dnnl_cpu_isa_avx512_core_amx) return 2;
  if (isa == dnnl_cpu_isa_avx512_core_bf16) return 1;
  return 0;
}

void toBf16Rows(const float* src, idx ld, idx rows, idx cols, bf16* dst) {
  const bool par = rows * cols >= kParMin && rows > 1 && !omp_in_parallel();
#pragma omp parallel for if (par) schedule(static)
  for (idx r = 0; r < rows; r++) {
    const float* s = src + r * ld;
    bf16* d = dst + r * cols;
#pragma omp simd
    for (idx c = 0; c < cols; c++) d[c] = toBf16(s[c]);
  }
}

const Bf16Plan* bf16Plan(bool transA, bool transB, idx m, idx n, idx k, float alpha, idx lda, idx ldb, float beta,
                         idx ldc) {
  const Key key{transA, transB, m, n, k, lda, ldb, ldc, alpha, beta};
  auto it = tPlans.plans.find(key);
  if (it != tPlans.plans.end()) return it->second.get();
  std::unique_ptr<Bf16Plan> p;
  try {
    p = makePlan(key);
  } catch (const dnnl::error&) {
    p = nullptr;  // no bf16 kernel for this shape on this CPU: fp32
  }
  const Bf16Plan* raw = p.get();
  tPlans.plans.emplace(key, std::move(p));
  return raw;
}

bool bf16Run(const Bf16Plan* p, const bf16* a, const bf16* b, float* c) {
  try {
    if (!tPlans.stream) tPlans.stream = std::make_unique<dnnl::stream>(cpuEngine());
    Bf16Plan* q = const_cast<Bf16Plan*>(p);
    q->a.set_data_handle(const_cast<bf16*>(a));
    q->b.set_data_handle(const_cast<bf16*>(b));
    q->c.set_data_handle(c);
    q->prim.execute(*tPlans.stream, {{DNNL_ARG_SRC, q->a},
                                     {DNNL_ARG_WEIGHTS, q->b},
                                     {DNNL_ARG_DST, q->c},
                                     {DNNL_ARG_SCRATCHPAD, q->scratch}});
    tPlans.stream->wait();
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

bool bf16Pays(idx m, idx n, idx k) {
  // AMX: every shape oneDNN gives a brgemm kernel (it refuses the tiny ones itself).
  // AVX-512-BF16 without AMX (measured on a Zen 5 EPYC core, conversion included, bench/gemm.ts):
  // 4096×256×256 1.6×, 4096×256×4096 2.4×, dW 256×4096×4096 1.5× the fp32 sgemm, but 1024×64×64
  // 1.1×, 64×1024×64 0.8× and attention-sized 64×32×512 0.5×: bf16 only where every side is ≥ 128.
  static const int hw = bf16Hardware();
  // ICL_LAB_BF16_ALL=1: every shape with a brgemm kernel, as on AMX (to study bf16's accuracy on
  // small models on a CPU without AMX; not faster).
  static const bool all = [] {
    const char* e = std::getenv("ICL_LAB_BF16_ALL");
    return e != nullptr && e[0] == '1';
  }();
  if (hw == 2 || (hw == 1 && all)) return true;
  return hw == 1 && m >= 128 && n >= 128 && k >= 128;
}

bool gemmBf16(bool transA, bool transB, idx m, idx n, idx k, float alpha, const float* a, idx lda, const float* b,
              idx ldb, float beta, float* c, idx ldc) {
  if (m <= 0 || n <= 0 || k <= 0 || !bf16Pays(m, n, k)) {
    return sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  // The bf16 copies are contiguous in the stored orientation: A is m×k or (transA) k×m.
  const idx aRows = transA ? k : m, aCols = transA ? m : k;
  const idx bRows = transB ? n : k, bCols = transB ? k : n;
  const Bf16Plan* p = bf16Plan(transA, transB, m, n, k, alpha, aCols, bCols, beta, ldc);
  if (p == nullptr) return sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  bf16* a16 = scratch<bf16>(2, static_cast<std::size_t>(aRows * aCols));
  bf16* b16 = scratch<bf16>(3, static_cast<std::size_t>(bRows * bCols));
  toBf16Rows(a, lda, aRows, aCols, a16);
  toBf16Rows(b, ldb, bRows, bCols, b16);
  return bf16Run(p, a16, b16, c);
}

}  // namespace icl
