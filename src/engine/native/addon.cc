// The N-API surface of the native kernels: one function per `Kernels` method (see
// src/engine/kernels.ts and the adapter in index.ts). Each wrapper reads its arguments with the
// plain C API (no per-call allocation), checks every buffer length against the dimensions before
// touching memory, and throws a JS Error naming the kernel, the argument, the expected and the found
// size, in the style of the reference backend:
//   gemm: 'a' has 12 elements, expected at least 15 for m=3, k=5, lda=5
// The kernel's name comes from the export table at the end (Init); a buffer keeps the name it was
// read under; most kernels state their length checks as one table of (buffer, layout) rows (needAll).
#include <napi.h>
#include <pthread.h>
#include <signal.h>

#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

#include "kernels.h"

namespace icl {
namespace {

/** A JS Error to throw (caught in `entry` and turned into a JS exception). */
struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/** A typed-array argument: its data, its length, its name in messages, and whether null was allowed. */
template <class T>
struct Buf {
  T* p = nullptr;
  idx len = 0;
  const char* name = "";
  bool optional = false;
};
using F32 = Buf<float>;
using I32 = Buf<std::int32_t>;

std::string num(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

constexpr std::size_t kMaxArgs = 20;
// Dimensions above this are rejected outright, so that products of a few of them cannot overflow.
constexpr double kMaxDim = 1099511627776.0;  // 2^40

struct Call {
  napi_env env;
  const char* kernel;
  napi_value argv[kMaxArgs];
  std::size_t argc = kMaxArgs;

  [[noreturn]] void fail(const std::string& msg) const { throw KernelError(std::string(kernel) + ": " + msg); }

  napi_valuetype type(std::size_t i) const {
    napi_valuetype t = napi_undefined;
    if (i < argc) napi_typeof(env, argv[i], &t);
    return t;
  }

  std::string describe(std::size_t i) const {
    switch (type(i)) {
      case napi_undefined: return "undefined";
      case napi_null: return "null";
      case napi_boolean: return "boolean";
      case napi_number: return "number";
      case napi_string: return "string";
      case napi_object: {
        napi_typedarray_type tt;
        std::size_t len;
        if (napi_get_typedarray_info(env, argv[i], &tt, &len, nullptr, nullptr, nullptr) == napi_ok) {
          static const char* names[] = {"Int8Array",    "Uint8Array",   "Uint8ClampedArray", "Int16Array",
                                        "Uint16Array",  "Int32Array",   "Uint32Array",       "Float32Array",
                                        "Float64Array", "BigInt64Array", "BigUint64Array"};
          if (static_cast<unsigned>(tt) < sizeof names / sizeof names[0]) return names[tt];
          return "a typed array";
        }
        bool isArray = false;
        napi_is_array(env, argv[i], &isArray);
        return isArray ? "Array" : "object";
      }
      default: return "a value of another type";
    }
  }

  template <class T>
  Buf<T> typed(std::size_t i, const char* name, napi_typedarray_type want, const char* wantName) const {
    napi_typedarray_type tt;
    std::size_t len = 0;
    void* data = nullptr;
    if (i >= argc || napi_get_typedarray_info(env, argv[i], &tt, &len, &data, nullptr, nullptr) != napi_ok ||
        tt != want) {
      fail(std::string("'") + name + "' must be a " + wantName + ", found " + describe(i));
    }
    return Buf<T>{static_cast<T*>(data), static_cast<idx>(len), name};
  }
  F32 f32(std::size_t i, const char* name) const {
    return typed<float>(i, name, napi_float32_array, "Float32Array");
  }
  /** Consecutive Float32Array arguments from `first` on, one per name (for structured bindings). */
  template <class... Names>
  std::array<F32, sizeof...(Names)> f32s(std::size_t first, Names... names) const {
    const char* const list[] = {names...};
    std::array<F32, sizeof...(Names)> bufs;
    for (std::size_t k = 0; k < bufs.size(); k++) bufs[k] = f32(first + k, list[k]);
    return bufs;
  }
  I32 i32(std::size_t i, const char* name) const {
    return typed<std::int32_t>(i, name, napi_int32_array, "Int32Array");
  }
  /** A Float32Array or null (undefined is taken as null too). */
  F32 f32OrNull(std::size_t i, const char* name) const {
    const napi_valuetype t = type(i);
    const bool null = t == napi_null || t == napi_undefined;
    F32 b = null ? F32{} : typed<float>(i, name, napi_float32_array, "Float32Array or null");
    b.name = name;
    b.optional = true;
    return b;
  }

  double number(std::size_t i, const char* name) const {
    double v;
    if (i >= argc || napi_get_value_double(env, argv[i], &v) != napi_ok) {
      fail(std::string("'") + name + "' must be a number, found " + describe(i));
    }
    return v;
  }
  bool has(std::size_t i) const { return type(i) != napi_undefined; }

  /** A non-negative integer (dimension, count, offset, stride). */
  idx dim(std::size_t i, const char* name) const {
    double v;
    if (i >= argc || napi_get_value_double(env, argv[i], &v) != napi_ok || !(v >= 0) || v != std::floor(v) ||
        v > kMaxDim) {
      fail(std::string("'") + name + "' must be a non-negative integer, found " +
           (type(i) == napi_number ? num(number(i, name)) : describe(i)));
    }
    return static_cast<idx>(v);
  }

  bool boolean(std::size_t i, const char* name) const {
    bool b;
    if (i >= argc || napi_get_value_bool(env, argv[i], &b) != napi_ok) {
      fail(std::string("'") + name + "' must be a boolean, found " + describe(i));
    }
    return b;
  }

  /** The op name (a short string) into buf. */
  void str(std::size_t i, const char* name, char* buf, std::size_t cap) const {
    std::size_t len;
    if (i >= argc || napi_get_value_string_utf8(env, argv[i], buf, cap, &len) != napi_ok) {
      fail(std::string("'") + name + "' must be a string, found " + describe(i));
    }
  }

  /**
   * Throws unless b has at least `expected` elements. `what` (where `expected` comes from) is a
   * callable returning the text, so that no string is built unless the check fails.
   */
  template <class T, class W>
  void need(const Buf<T>& b, idx expected, W&& what) const {
    if (b.len < expected) {
      fail(std::string("'") + b.name + "' has " + std::to_string(b.len) + " elements, expected at least " +
           std::to_string(expected) + " for " + what());
    }
  }
  /** need() for several buffers against one length, in the order given. */
  template <class W>
  void need(std::initializer_list<std::reference_wrapper<const F32>> bufs, idx expected, W&& what) const {
    for (const F32& b : bufs) need(b, expected, what);
  }

  [[noreturn]] void failed(const char* what) const { fail(std::string(what) + " failed (oneDNN reported an error)"); }
};

/** a·b, an error when it overflows (dimensions are ≤ 2^40, so this takes absurd inputs). */
idx mul(const Call& c, idx a, idx b) {
  idx r;
  if (__builtin_mul_overflow(a, b, &r)) c.fail("dimensions too large (their product overflows)");
  return r;
}
idx mul(const Call& c, idx a, idx b, idx d) { return mul(c, mul(c, a, b), d); }
idx mul(const Call& c, idx a, idx b, idx d, idx e) { return mul(c, mul(c, a, b, d), e); }

std::string dims(std::initializer_list<std::pair<const char*, idx>> ds) {
  std::string s;
  for (const auto& d : ds) {
    if (!s.empty()) s += ", ";
    s += d.first;
    s += "=";
    s += std::to_string(d.second);
  }
  return s;
}

using Body = napi_value (*)(Call&);

/**
 * Signals are held back while a kernel runs (and delivered when it returns, a few milliseconds at
 * most later). oneDNN 2.6's JIT sgemm kernels (jit_avx512_common_gemm_f32, jit_avx_gemm_f32) point
 * rsp into a heap workspace, so a signal delivered to a thread inside one writes its frame onto the
 * heap: glibc aborts later with "corrupted size vs. prev_size" (uxlfoundation/oneDNN#4845, fixed
 * upstream in 2026 by #4855, not in Debian's 2.6.3). Reproduced here with any handled signal, e.g.
 * `node --cpu-prof` during training, and in plain C with dnnl_sgemm and setitimer (64×512×32).
 * OpenMP's worker threads are created inside kernels, so they inherit the blocked mask for good.
 * Synchronous fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) stay unblocked.
 */
struct HoldSignals {
  sigset_t old;
  HoldSignals() {
    sigset_t all;
    sigfillset(&all);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) sigdelset(&all, s);
    pthread_sigmask(SIG_BLOCK, &all, &old);
  }
  ~HoldSignals() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
};

/** The N-API callback of body F; the kernel's name for messages is the function's data (Init's table). */
template <Body F>
napi_value entry(napi_env env, napi_callback_info info) {
  Call c;
  c.env = env;
  void* name = nullptr;
  napi_get_cb_info(env, info, &c.argc, c.argv, nullptr, &name);
  c.kernel = static_cast<const char*>(name);
  if (c.argc > kMaxArgs) c.argc = kMaxArgs;
  try {
    HoldSignals hold;
    return F(c);
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
    return nullptr;
  }
}

napi_value undef(Call& c) {
  napi_value u;
  napi_get_undefined(c.env, &u);
  return u;
}

/** The return of a kernel built on oneDNN's sgemm, which reports failure by returning false. */
napi_value sgemmDone(Call& c, bool ok) {
  if (!ok) c.failed("dnnl_sgemm");
  return undef(c);
}

// ---------------------------------------------------------------------------------------------

napi_value setThreads(Call& c) {
  const double n = c.number(0, "n");
  if (!(n >= 1) || n != std::floor(n) || n > 4096) c.fail("'n' must be a positive integer, found " + num(n));
  omp_set_num_threads(static_cast<int>(n));
  return undef(c);
}

napi_value getThreads(Call& c) {
  napi_value v;
  napi_create_int32(c.env, omp_get_max_threads(), &v);
  return v;
}

/** Elements a matrix with `rows` rows of `cols` used entries and leading dimension `ld` spans. */
idx span(const Call& c, idx rows, idx cols, idx ld) {
  return rows == 0 || cols == 0 ? 0 : mul(c, rows - 1, ld) + cols;
}

// setPrecision("fp32" | "bf16"): the precision of gemm products (bf16.h; attention stays fp32).
napi_value setPrecision(Call& c) {
  char buf[16] = {0};
  std::size_t len = 0;
  if (c.type(0) != napi_string || napi_get_value_string_utf8(c.env, c.argv[0], buf, sizeof buf, &len) != napi_ok) {
    c.fail("'precision' must be the string 'fp32' or 'bf16', found " + c.describe(0));
  }
  const std::string p(buf, len);
  if (p != "fp32" && p != "bf16") c.fail("'precision' must be 'fp32' or 'bf16', found '" + p + "'");
  setBf16(p == "bf16");
  return undef(c);
}

napi_value getPrecision(Call& c) {
  const char* p = bf16On() ? "bf16" : "fp32";
  napi_value v;
  napi_create_string_utf8(c.env, p, NAPI_AUTO_LENGTH, &v);
  return v;
}

// bf16Hardware(): "amx" | "avx512-bf16" | "none", what oneDNN's effective ISA offers for bf16 products.
napi_value bf16Hardware(Call& c) {
  static const char* names[] = {"none", "avx512-bf16", "amx"};
  napi_value v;
  napi_create_string_utf8(c.env, names[icl::bf16Hardware()], NAPI_AUTO_LENGTH, &v);
  return v;
}

// gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch, strideA, strideB, strideC)
napi_value gemm(Call& c) {
  const bool tA = c.boolean(0, "transA"), tB = c.boolean(1, "transB");
  const idx m = c.dim(2, "m"), n = c.dim(3, "n"), k = c.dim(4, "k");
  const float alpha = static_cast<float>(c.number(5, "alpha"));
  const F32 a = c.f32(6, "a");
  const idx lda = c.dim(7, "lda");
  const F32 b = c.f32(8, "b");
  const idx ldb = c.dim(9, "ldb");
  const float beta = static_cast<float>(c.number(10, "beta"));
  const F32 C = c.f32(11, "c");
  const idx ldc = c.dim(12, "ldc");
  const idx batch = c.has(13) ? c.dim(13, "batch") : 1;
  const char* sn[3] = {"strideA", "strideB", "strideC"};
  idx st[3] = {0, 0, 0};
  for (int s = 0; s < 3; s++) {
    if (c.has(14 + s)) {
      st[s] = c.dim(14 + s, sn[s]);
    } else if (batch > 1) {
      c.fail(std::string("'") + sn[s] + "' is required when batch=" + std::to_string(batch) + " > 1");
    }
  }
  const idx aRows = tA ? k : m, aCols = tA ? m : k;
  const idx bRows = tB ? n : k, bCols = tB ? k : n;
  if (lda < aCols && aRows > 0) {
    c.fail("'lda' is " + std::to_string(lda) + ", expected at least " + std::to_string(aCols) +
           (tA ? " (the row length of Aᵀ stored k×m)" : " (the row length of A stored m×k)"));
  }
  if (ldb < bCols && bRows > 0) {
    c.fail("'ldb' is " + std::to_string(ldb) + ", expected at least " + std::to_string(bCols) +
           (tB ? " (the row length of Bᵀ stored n×k)" : " (the row length of B stored k×n)"));
  }
  if (ldc < n && m > 0) c.fail("'ldc' is " + std::to_string(ldc) + ", expected at least n=" + std::to_string(n));
  if (m == 0 || n == 0 || batch == 0) return undef(c);
  const auto bp = [&] { return batch > 1 ? ", batch=" + std::to_string(batch) : std::string(); };
  const idx spanA = span(c, aRows, aCols, lda), spanB = span(c, bRows, bCols, ldb), spanC = span(c, m, n, ldc);
  if (spanA > 0) {
    c.need(a, mul(c, batch - 1, st[0]) + spanA, [&] {
      return (tA ? dims({{"k", k}, {"m", m}, {"lda", lda}}) : dims({{"m", m}, {"k", k}, {"lda", lda}})) + bp() +
             (batch > 1 ? ", strideA=" + std::to_string(st[0]) : "") + (tA ? " (transA)" : "");
    });
  }
  if (spanB > 0) {
    c.need(b, mul(c, batch - 1, st[1]) + spanB, [&] {
      return (tB ? dims({{"n", n}, {"k", k}, {"ldb", ldb}}) : dims({{"k", k}, {"n", n}, {"ldb", ldb}})) + bp() +
             (batch > 1 ? ", strideB=" + std::to_string(st[1]) : "") + (tB ? " (transB)" : "");
    });
  }
  c.need(C, mul(c, batch - 1, st[2]) + spanC, [&] {
    return dims({{"m", m}, {"n", n}, {"ldc", ldc}}) + bp() + (batch > 1 ? ", strideC=" + std::to_string(st[2]) : "");
  });
  return sgemmDone(c,
                   gemmBatched(tA, tB, m, n, k, alpha, a.p, lda, b.p, ldb, beta, C.p, ldc, batch, st[0], st[1], st[2]));
}

/** Shape and stride vectors packed by index.ts into one Float64Array: [rank, v0..., v1..., ...]. */
struct Packed {
  int rank;
  idx v[4][kMaxRank];
};

Packed unpack(const Call& c, std::size_t i, int nVec, const char* const* names) {
  const Buf<double> m = c.typed<double>(i, "meta", napi_float64_array, "Float64Array (packed by index.ts)");
  if (m.len < 1) c.fail("'meta' is empty");
  const double r = m.p[0];
  if (!(r >= 0 && r <= kMaxRank && r == std::floor(r))) {
    c.fail(std::string("'") + names[0] + "' has rank " + num(r) + ", expected at most " + std::to_string(kMaxRank));
  }
  Packed p;
  p.rank = static_cast<int>(r);
  if (m.len < 1 + nVec * p.rank) c.fail("'meta' is too short");
  for (int k = 0; k < nVec; k++) {
    for (int d = 0; d < p.rank; d++) {
      const double v = m.p[1 + k * p.rank + d];
      if (!(v >= 0) || v != std::floor(v) || v > kMaxDim) {
        c.fail(std::string("'") + names[k] + "[" + std::to_string(d) + "]' must be a non-negative integer, found " +
               num(v));
      }
      p.v[k][d] = static_cast<idx>(v);
    }
  }
  return p;
}

std::string bracket(const idx* v, int rank) {
  std::string s = "[";
  for (int d = 0; d < rank; d++) {
    if (d) s += ", ";
    s += std::to_string(v[d]);
  }
  return s + "]";
}

idx countOf(const Call& c, const idx* shape, int rank) {
  idx n = 1;
  for (int d = 0; d < rank; d++) n = mul(c, n, shape[d]);
  return n;
}

/** 1 + the largest offset reached by `strides` over `shape` (0 for an empty space). */
idx reach(const Call& c, const idx* shape, const idx* strides, int rank) {
  idx last = 0;
  for (int d = 0; d < rank; d++) {
    if (shape[d] == 0) return 0;
    last += mul(c, shape[d] - 1, strides[d]);
  }
  return last + 1;
}

// binary(op, a, b, out, meta = [rank, shape, aStrides, bStrides])
napi_value binary(Call& c) {
  char op[16];
  c.str(0, "op", op, sizeof op);
  BinOp o;
  if (!std::strcmp(op, "add")) o = BinOp::Add;
  else if (!std::strcmp(op, "sub")) o = BinOp::Sub;
  else if (!std::strcmp(op, "mul")) o = BinOp::Mul;
  else if (!std::strcmp(op, "div")) o = BinOp::Div;
  else c.fail(std::string("unknown op '") + op + "', expected one of add, sub, mul, div");
  const auto [a, b, out] = c.f32s(1, "a", "b", "out");
  static const char* names[] = {"shape", "aStrides", "bStrides"};
  const Packed p = unpack(c, 4, 3, names);
  const idx count = countOf(c, p.v[0], p.rank);
  const auto what = [&] { return std::string("shape " + bracket(p.v[0], p.rank)); };
  c.need(a, reach(c, p.v[0], p.v[1], p.rank), [&] { return what() + ", aStrides " + bracket(p.v[1], p.rank); });
  c.need(b, reach(c, p.v[0], p.v[2], p.rank), [&] { return what() + ", bStrides " + bracket(p.v[2], p.rank); });
  c.need(out, count, what);
  icl::binary(o, a.p, p.v[1], b.p, p.v[2], out.p, p.v[0], p.rank);
  return undef(c);
}

UnOp unaryOp(Call& c, std::size_t i, float* alpha, std::size_t alphaArg) {
  char op[16];
  c.str(i, "op", op, sizeof op);
  static const char* names[] = {"gelu", "tanh", "sigmoid", "relu", "exp", "log", "neg", "scale", "square"};
  for (int k = 0; k < 9; k++) {
    if (!std::strcmp(op, names[k])) {
      const UnOp u = static_cast<UnOp>(k);
      *alpha = 1.0f;
      if (u == UnOp::Scale) {
        if (c.type(alphaArg) != napi_number) c.fail("op 'scale' needs 'alpha', found " + c.describe(alphaArg));
        *alpha = static_cast<float>(c.number(alphaArg, "alpha"));
      }
      return u;
    }
  }
  c.fail(std::string("unknown op '") + op + "', expected one of gelu, tanh, sigmoid, relu, exp, log, neg, scale, square");
}

// unary(op, x, out, alpha?)
napi_value unary(Call& c) {
  float alpha;
  const UnOp op = unaryOp(c, 0, &alpha, 3);
  const F32 x = c.f32(1, "x"), out = c.f32(2, "out");
  c.need(out, x.len, [&] { return "n=" + std::to_string(x.len) + " (the length of 'x')"; });
  icl::unary(op, x.p, out.p, x.len, alpha);
  return undef(c);
}

// unaryBackward(op, x, y, dy, dx, alpha?)
napi_value unaryBackward(Call& c) {
  float alpha;
  const UnOp op = unaryOp(c, 0, &alpha, 5);
  const auto [x, y, dy, dx] = c.f32s(1, "x", "y", "dy", "dx");
  const idx n = x.len;
  c.need({y, dy, dx}, n, [&] { return std::string("n=" + std::to_string(n) + " (the length of 'x')"); });
  icl::unaryBackward(op, x.p, y.p, dy.p, dx.p, n, alpha);
  return undef(c);
}

// sumInto(x, out, meta = [rank, shape, outStrides])
napi_value sumInto(Call& c) {
  const auto [x, out] = c.f32s(0, "x", "out");
  static const char* names[] = {"shape", "outStrides"};
  const Packed p = unpack(c, 2, 2, names);
  const idx count = countOf(c, p.v[0], p.rank);
  const idx needOut = reach(c, p.v[0], p.v[1], p.rank);
  const auto what = [&] { return std::string("shape " + bracket(p.v[0], p.rank)); };
  c.need(x, count, what);
  c.need(out, needOut, [&] { return what() + ", outStrides " + bracket(p.v[1], p.rank); });
  icl::sumInto(x.p, p.v[0], p.rank, out.p, p.v[1], needOut);
  return undef(c);
}

// permute(x, out, meta = [rank, shape, perm], accumulate)
napi_value permute(Call& c) {
  const auto [x, out] = c.f32s(0, "x", "out");
  static const char* names[] = {"shape", "perm"};
  const Packed p = unpack(c, 2, 2, names);
  const bool acc = c.boolean(3, "accumulate");
  int perm[kMaxRank];
  bool seen[kMaxRank] = {false, false, false, false, false, false};
  for (int d = 0; d < p.rank; d++) {
    const idx q = p.v[1][d];
    if (q >= p.rank || seen[q]) {
      c.fail("'perm' " + bracket(p.v[1], p.rank) + " is not a permutation of 0.." + std::to_string(p.rank - 1));
    }
    seen[q] = true;
    perm[d] = static_cast<int>(q);
  }
  const idx count = countOf(c, p.v[0], p.rank);
  const auto what = [&] { return std::string("shape " + bracket(p.v[0], p.rank)); };
  c.need({x, out}, count, what);
  icl::permute(x.p, p.v[0], perm, p.rank, out.p, acc);
  return undef(c);
}

// copyBlocks(src, srcOffset, srcStride, dst, dstOffset, dstStride, blockLen, nBlocks, accumulate)
napi_value copyBlocks(Call& c) {
  const F32 src = c.f32(0, "src");
  const idx so = c.dim(1, "srcOffset"), ss = c.dim(2, "srcStride");
  const F32 dst = c.f32(3, "dst");
  const idx dof = c.dim(4, "dstOffset"), ds = c.dim(5, "dstStride");
  const idx len = c.dim(6, "blockLen"), nb = c.dim(7, "nBlocks");
  const bool acc = c.boolean(8, "accumulate");
  if (len == 0 || nb == 0) return undef(c);
  c.need(src, so + mul(c, nb - 1, ss) + len,
         [&] { return dims({{"srcOffset", so}, {"srcStride", ss}, {"blockLen", len}, {"nBlocks", nb}}); });
  c.need(dst, dof + mul(c, nb - 1, ds) + len,
         [&] { return dims({{"dstOffset", dof}, {"dstStride", ds}, {"blockLen", len}, {"nBlocks", nb}}); });
  icl::copyBlocks(src.p + so, ss, dst.p + dof, ds, len, nb, acc);
  return undef(c);
}

napi_value sumSquares(Call& c) {
  const F32 x = c.f32(0, "x");
  napi_value v;
  napi_create_double(c.env, icl::sumSquares(x.p, x.len), &v);
  return v;
}

// ---------------------------------------------------------------------------------------------

/**
 * A kernel's length checks as one table, run in the order given: each row a buffer and a layout of
 * the kernel's dimension struct D, which gives the layout's element count (D::count, its products
 * overflow-checked when the row is checked) and its description for the message (D::describe). A
 * null optional buffer (f32OrNull) is skipped.
 */
template <class D>
void needAll(const Call& c, const D& d, std::initializer_list<std::pair<const F32&, typename D::Layout>> rows) {
  for (const auto& row : rows) {
    const F32& b = row.first;
    if (!(b.optional && b.p == nullptr)) c.need(b, d.count(c, row.second), [&] { return d.describe(row.second); });
  }
}

/** The layouts of the row-wise kernels: [rows, n], one value per row, one per column. */
enum RowsLayout { kTotal, kRows, kN };

/** `rows` and `n` of the row-wise kernels (softmax, layer norm, cross-entropy), for needAll. */
struct RowsN {
  using Layout = RowsLayout;
  idx rows, n;
  idx count(const Call& c, Layout l) const { return l == kTotal ? mul(c, rows, n) : l == kRows ? rows : n; }
  std::string describe(Layout l) const {
    return l == kTotal ? dims({{"rows", rows}, {"n", n}}) : l == kRows ? dims({{"rows", rows}}) : dims({{"n", n}});
  }
};

RowsN rowsN(const Call& c, std::size_t i) { return RowsN{c.dim(i, "rows"), c.dim(i + 1, "n")}; }

// softmax(x, rows, n, out)
napi_value softmax(Call& c) {
  const F32 x = c.f32(0, "x");
  const RowsN r = rowsN(c, 1);
  const F32 out = c.f32(3, "out");
  needAll(c, r, {{x, kTotal}, {out, kTotal}});
  icl::softmax(x.p, r.rows, r.n, out.p);
  return undef(c);
}

// softmaxBackward(y, dy, rows, n, dx)
napi_value softmaxBackward(Call& c) {
  const auto [y, dy] = c.f32s(0, "y", "dy");
  const RowsN r = rowsN(c, 2);
  const F32 dx = c.f32(4, "dx");
  needAll(c, r, {{y, kTotal}, {dy, kTotal}, {dx, kTotal}});
  icl::softmaxBackward(y.p, dy.p, r.rows, r.n, dx.p);
  return undef(c);
}

// layerNorm(x, gamma, beta, rows, n, eps, y, mean, rstd)
napi_value layerNorm(Call& c) {
  const F32 x = c.f32(0, "x"), gamma = c.f32OrNull(1, "gamma"), beta = c.f32OrNull(2, "beta");
  const RowsN r = rowsN(c, 3);
  const float eps = static_cast<float>(c.number(5, "eps"));
  const auto [y, mean, rstd] = c.f32s(6, "y", "mean", "rstd");
  needAll(c, r, {{x, kTotal}, {y, kTotal}, {gamma, kN}, {beta, kN}, {mean, kRows}, {rstd, kRows}});
  icl::layerNorm(x.p, gamma.p, beta.p, r.rows, r.n, eps, y.p, mean.p, rstd.p);
  return undef(c);
}

// layerNormBackward(dy, x, gamma, mean, rstd, rows, n, dx, dgamma, dbeta)
napi_value layerNormBackward(Call& c) {
  const F32 dy = c.f32(0, "dy"), x = c.f32(1, "x"), gamma = c.f32OrNull(2, "gamma");
  const auto [mean, rstd] = c.f32s(3, "mean", "rstd");
  const RowsN r = rowsN(c, 5);
  const F32 dx = c.f32(7, "dx"), dgamma = c.f32OrNull(8, "dgamma"), dbeta = c.f32OrNull(9, "dbeta");
  needAll(c, r, {{dy, kTotal}, {x, kTotal}, {dx, kTotal}, {gamma, kN}, {dgamma, kN}, {dbeta, kN},
                 {mean, kRows}, {rstd, kRows}});
  icl::layerNormBackward(dy.p, x.p, gamma.p, mean.p, rstd.p, r.rows, r.n, dx.p, dgamma.p, dbeta.p);
  return undef(c);
}

void checkTargets(Call& c, const I32& t, idx rows, idx n) {
  c.need(t, rows, [&] { return std::string("rows=" + std::to_string(rows)); });
  for (idx r = 0; r < rows; r++) {
    if (t.p[r] >= n) {
      c.fail("target " + std::to_string(t.p[r]) + " at row " + std::to_string(r) + " is out of range for n=" +
             std::to_string(n) + " classes (valid: 0.." + std::to_string(n - 1) + ", or negative for no loss)");
    }
  }
}

// crossEntropy(logits, targets, rows, n, losses, lse)
napi_value crossEntropy(Call& c) {
  const F32 logits = c.f32(0, "logits");
  const I32 targets = c.i32(1, "targets");
  const RowsN r = rowsN(c, 2);
  const auto [losses, lse] = c.f32s(4, "losses", "lse");
  needAll(c, r, {{logits, kTotal}});
  checkTargets(c, targets, r.rows, r.n);
  needAll(c, r, {{losses, kRows}, {lse, kRows}});
  icl::crossEntropy(logits.p, targets.p, r.rows, r.n, losses.p, lse.p);
  return undef(c);
}

// crossEntropyBackward(logits, targets, lse, dloss, rows, n, dlogits)
napi_value crossEntropyBackward(Call& c) {
  const F32 logits = c.f32(0, "logits");
  const I32 targets = c.i32(1, "targets");
  const auto [lse, dloss] = c.f32s(2, "lse", "dloss");
  const RowsN r = rowsN(c, 4);
  const F32 dlogits = c.f32(6, "dlogits");
  needAll(c, r, {{logits, kTotal}});
  checkTargets(c, targets, r.rows, r.n);
  needAll(c, r, {{lse, kRows}, {dloss, kRows}, {dlogits, kTotal}});
  icl::crossEntropyBackward(logits.p, targets.p, lse.p, dloss.p, r.rows, r.n, dlogits.p);
  return undef(c);
}

/** The layouts of the attention buffers: tokens [B, T, H·D], probabilities [B, H, T, T], lse [B, H, T]. */
enum AttnLayout { kTok, kProbs, kLse };

/** B, T, H, D of the attention kernels and their buffer sizes (computed when read), for needAll. */
struct AttnArgs {
  using Layout = AttnLayout;
  idx B, T, H, D, nTok, nProbs, nLse;
  idx count(const Call&, Layout l) const { return l == kTok ? nTok : l == kProbs ? nProbs : nLse; }
  std::string describe(Layout l) const {
    if (l == kTok) return "[B, T, H·D] with " + dims({{"B", B}, {"T", T}, {"H", H}, {"D", D}});
    return (l == kProbs ? "[B, H, T, T] with " : "[B, H, T] with ") + dims({{"B", B}, {"H", H}, {"T", T}});
  }
};

AttnArgs attnDims(Call& c, std::size_t i) {
  AttnArgs a;
  a.B = c.dim(i, "B");
  a.T = c.dim(i + 1, "T");
  a.H = c.dim(i + 2, "H");
  a.D = c.dim(i + 3, "D");
  a.nTok = mul(c, a.B, a.T, a.H, a.D);
  a.nProbs = mul(c, a.B, a.H, a.T, a.T);
  a.nLse = mul(c, a.B, a.H, a.T);
  return a;
}

// attention(q, k, v, B, T, H, D, scale, causal, probs | null, lse, out)
napi_value attention(Call& c) {
  const auto [q, k, v] = c.f32s(0, "q", "k", "v");
  const AttnArgs a = attnDims(c, 3);
  const float scale = static_cast<float>(c.number(7, "scale"));
  const bool causal = c.boolean(8, "causal");
  const F32 probs = c.f32OrNull(9, "probs"), lse = c.f32(10, "lse"), out = c.f32(11, "out");
  needAll(c, a, {{q, kTok}, {k, kTok}, {v, kTok}, {out, kTok}, {lse, kLse}, {probs, kProbs}});
  icl::attention(q.p, k.p, v.p, a.B, a.T, a.H, a.D, scale, causal, probs.p, lse.p, out.p);
  return undef(c);
}

// attentionBackward(q, k, v, out, lse, dout, B, T, H, D, scale, causal, dq, dk, dv)
napi_value attentionBackward(Call& c) {
  const auto [q, k, v, out, lse, dout] = c.f32s(0, "q", "k", "v", "out", "lse", "dout");
  const AttnArgs a = attnDims(c, 6);
  const float scale = static_cast<float>(c.number(10, "scale"));
  const bool causal = c.boolean(11, "causal");
  const auto [dq, dk, dv] = c.f32s(12, "dq", "dk", "dv");
  needAll(c, a, {{q, kTok}, {k, kTok}, {v, kTok}, {out, kTok}, {lse, kLse},
                 {dout, kTok}, {dq, kTok}, {dk, kTok}, {dv, kTok}});
  icl::attentionBackward(q.p, k.p, v.p, out.p, lse.p, dout.p, a.B, a.T, a.H, a.D, scale, causal, dq.p, dk.p, dv.p);
  return undef(c);
}

// attentionLegacy(q, k, v, B, T, H, D, scale, causal, probs, out): the previous kernel (benchmarks).
napi_value attentionLegacy(Call& c) {
  const auto [q, k, v] = c.f32s(0, "q", "k", "v");
  const AttnArgs a = attnDims(c, 3);
  const float scale = static_cast<float>(c.number(7, "scale"));
  const bool causal = c.boolean(8, "causal");
  const auto [probs, out] = c.f32s(9, "probs", "out");
  needAll(c, a, {{q, kTok}, {k, kTok}, {v, kTok}, {out, kTok}, {probs, kProbs}});
  return sgemmDone(c, icl::attentionLegacy(q.p, k.p, v.p, a.B, a.T, a.H, a.D, scale, causal, probs.p, out.p));
}

// attentionBackwardLegacy(q, k, v, probs, dout, B, T, H, D, scale, dq, dk, dv): the previous kernel (benchmarks).
napi_value attentionBackwardLegacy(Call& c) {
  const auto [q, k, v, probs, dout] = c.f32s(0, "q", "k", "v", "probs", "dout");
  const AttnArgs a = attnDims(c, 5);
  const float scale = static_cast<float>(c.number(9, "scale"));
  const auto [dq, dk, dv] = c.f32s(10, "dq", "dk", "dv");
  needAll(c, a, {{q, kTok}, {k, kTok}, {v, kTok}, {probs, kProbs}, {dout, kTok}, {dq, kTok}, {dk, kTok}, {dv, kTok}});
  return sgemmDone(
      c, icl::attentionBackwardLegacy(q.p, k.p, v.p, probs.p, dout.p, a.B, a.T, a.H, a.D, scale, dq.p, dk.p, dv.p));
}

/** Checks ids[0..n) against the rows of a [vocab, d] table (vocab = table length / d). */
void checkIds(Call& c, const F32& table, const I32& ids, idx n, idx d) {
  c.need(ids, n, [&] { return std::string("n=" + std::to_string(n)); });
  if (d == 0) {
    for (idx i = 0; i < n; i++) {
      if (ids.p[i] < 0) c.fail("id " + std::to_string(ids.p[i]) + " at position " + std::to_string(i) + " is negative");
    }
    return;
  }
  if (table.len % d != 0) {
    c.fail(std::string("'") + table.name + "' has " + std::to_string(table.len) +
           " elements, expected a multiple of d=" + std::to_string(d) + " ([vocab, d])");
  }
  const idx vocab = table.len / d;
  for (idx i = 0; i < n; i++) {
    const idx id = ids.p[i];
    if (id < 0 || id >= vocab) {
      c.fail("id " + std::to_string(id) + " at position " + std::to_string(i) + " is out of range for vocab size " +
             std::to_string(vocab) + " (valid: 0.." + std::to_string(vocab - 1) + ")");
    }
  }
}

/**
 * embedding(table, ids, n, d, out) and, when Backward, embeddingBackward(ids, dout, n, d, dtable):
 * one body for the two, since they check the same things (ids against the rows of the [vocab, d]
 * table, out / dout [n, d]); the arguments are read in position order, as every kernel does.
 */
template <bool Backward>
napi_value embeddingKernel(Call& c) {
  const F32 first = Backward ? F32{} : c.f32(0, "table");
  const I32 ids = c.i32(Backward ? 0 : 1, "ids");
  const F32 dout = Backward ? c.f32(1, "dout") : F32{};
  const idx n = c.dim(2, "n"), d = c.dim(3, "d");
  const F32 last = c.f32(4, Backward ? "dtable" : "out");
  const F32& table = Backward ? last : first;
  const F32& rows = Backward ? dout : last;
  checkIds(c, table, ids, n, d);
  c.need(rows, mul(c, n, d), [&] { return dims({{"n", n}, {"d", d}}); });
  if (d > 0 && Backward) icl::embeddingBackward(ids.p, rows.p, n, d, table.p);
  if (d > 0 && !Backward) icl::embedding(table.p, ids.p, n, d, rows.p);
  return undef(c);
}

// adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step)
napi_value adamw(Call& c) {
  const auto [p, g, m, v] = c.f32s(0, "p", "g", "m", "v");
  const double lr = c.number(4, "lr"), b1 = c.number(5, "beta1"), b2 = c.number(6, "beta2");
  const double eps = c.number(7, "eps"), wd = c.number(8, "weightDecay"), step = c.number(9, "step");
  if (!(step >= 1) || step != std::floor(step)) c.fail("'step' must be a positive integer, found " + num(step));
  const idx n = p.len;
  c.need({g, m, v}, n, [&] { return std::string("n=" + std::to_string(n) + " (the length of 'p')"); });
  const double bc1 = 1.0 - std::pow(b1, step), bc2 = 1.0 - std::pow(b2, step);
  icl::adamw(p.p, g.p, m.p, v.p, n, static_cast<float>(lr), static_cast<float>(b1), static_cast<float>(b2),
             static_cast<float>(eps), static_cast<float>(wd), bc1, bc2);
  return undef(c);
}

/** The layouts of the recurrent buffers: [T, B, H], [T, B, gates·H], state [B, H], weights [H, gates·H]. */
enum SeqLayout { kSeq, kSeqG, kState, kW };

/** T, B, H of the recurrent kernels (G = gates·H: 4 for the LSTM, 1 for the RNN), for needAll. */
struct SeqArgs {
  using Layout = SeqLayout;
  idx T, B, H, G, gates;
  idx count(const Call& c, Layout l) const {
    switch (l) {
      case kSeq: return mul(c, T, B, H);
      case kSeqG: return mul(c, T, B, G);
      case kState: return mul(c, B, H);
      default: return mul(c, H, G);
    }
  }
  std::string describe(Layout l) const {
    const std::string tbh = dims({{"T", T}, {"B", B}, {"H", H}});
    switch (l) {
      case kSeq: return "[T, B, H] with " + tbh;
      case kSeqG: return "[T, B, 4H] with " + tbh;
      case kState: return "[B, H] with " + dims({{"B", B}, {"H", H}});
      default: return (gates == 4 ? "[H, 4H] with H=" : "[H, H] with H=") + std::to_string(H);
    }
  }
};

SeqArgs seqDims(Call& c, std::size_t i, idx gates) {
  SeqArgs s;
  s.T = c.dim(i, "T");
  s.B = c.dim(i + 1, "B");
  s.H = c.dim(i + 2, "H");
  s.gates = gates;
  s.G = mul(c, gates, s.H);
  return s;
}

// lstm(xw, whh, h0, c0, T, B, H, hs, cs, gates)
napi_value lstm(Call& c) {
  const auto [xw, whh, h0, c0] = c.f32s(0, "xw", "whh", "h0", "c0");
  const SeqArgs s = seqDims(c, 4, 4);
  const auto [hs, cs, gates] = c.f32s(7, "hs", "cs", "gates");
  needAll(c, s, {{xw, kSeqG}, {whh, kW}, {h0, kState}, {c0, kState}, {hs, kSeq}, {cs, kSeq}, {gates, kSeqG}});
  return sgemmDone(c, icl::lstm(xw.p, whh.p, h0.p, c0.p, s.T, s.B, s.H, hs.p, cs.p, gates.p));
}

// lstmBackward(whh, h0, c0, hs, cs, gates, dhs, T, B, H, dxw, dwhh, dh0, dc0)
napi_value lstmBackward(Call& c) {
  const auto [whh, h0, c0, hs, cs, gates, dhs] = c.f32s(0, "whh", "h0", "c0", "hs", "cs", "gates", "dhs");
  const SeqArgs s = seqDims(c, 7, 4);
  const auto [dxw, dwhh, dh0, dc0] = c.f32s(10, "dxw", "dwhh", "dh0", "dc0");
  needAll(c, s, {{whh, kW}, {h0, kState}, {c0, kState}, {hs, kSeq}, {cs, kSeq}, {gates, kSeqG}, {dhs, kSeq},
                 {dxw, kSeqG}, {dwhh, kW}, {dh0, kState}, {dc0, kState}});
  return sgemmDone(
      c, icl::lstmBackward(whh.p, h0.p, c0.p, hs.p, cs.p, gates.p, dhs.p, s.T, s.B, s.H, dxw.p, dwhh.p, dh0.p, dc0.p));
}

// rnn(xw, whh, h0, T, B, H, hs)
napi_value rnn(Call& c) {
  const auto [xw, whh, h0] = c.f32s(0, "xw", "whh", "h0");
  const SeqArgs s = seqDims(c, 3, 1);
  const F32 hs = c.f32(6, "hs");
  needAll(c, s, {{xw, kSeq}, {whh, kW}, {h0, kState}, {hs, kSeq}});
  return sgemmDone(c, icl::rnn(xw.p, whh.p, h0.p, s.T, s.B, s.H, hs.p));
}

// rnnBackward(whh, h0, hs, dhs, T, B, H, dxw, dwhh, dh0)
napi_value rnnBackward(Call& c) {
  const auto [whh, h0, hs, dhs] = c.f32s(0, "whh", "h0", "hs", "dhs");
  const SeqArgs s = seqDims(c, 4, 1);
  const auto [dxw, dwhh, dh0] = c.f32s(7, "dxw", "dwhh", "dh0");
  needAll(c, s, {{whh, kW}, {h0, kState}, {hs, kSeq}, {dhs, kSeq}, {dxw, kSeq}, {dwhh, kW}, {dh0, kState}});
  return sgemmDone(c, icl::rnnBackward(whh.p, h0.p, hs.p, dhs.p, s.T, s.B, s.H, dxw.p, dwhh.p, dh0.p));
}

napi_value info(Call& c) {
  // A short description for logs and the benchmark: build flags and the thread count.
  std::string s = std::string("icl_native: oneDNN ") + (bf16On() ? "bf16 matmul" : "sgemm") + ", OpenMP";
#if defined(__AVX512F__)
  s += ", built for AVX-512";
#elif defined(__AVX2__)
  s += ", built for AVX2+FMA";
#endif
  s += std::string(", attention ") + attentionIsa();
  s += ", threads=" + std::to_string(omp_get_max_threads());
  napi_value v;
  napi_create_string_utf8(c.env, s.c_str(), s.size(), &v);
  return v;
}

}  // namespace
}  // namespace icl

namespace {
struct Export {
  const char* name;
  napi_callback cb;
};
}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace icl;
  static const Export fns[] = {
      {"setThreads", entry<setThreads>},
      {"getThreads", entry<getThreads>},
      {"setPrecision", entry<setPrecision>},
      {"getPrecision", entry<getPrecision>},
      {"bf16Hardware", entry<bf16Hardware>},
      {"gemm", entry<gemm>},
      {"binary", entry<binary>},
      {"unary", entry<unary>},
      {"unaryBackward", entry<unaryBackward>},
      {"sumInto", entry<sumInto>},
      {"permute", entry<permute>},
      {"copyBlocks", entry<copyBlocks>},
      {"sumSquares", entry<sumSquares>},
      {"softmax", entry<softmax>},
      {"softmaxBackward", entry<softmaxBackward>},
      {"layerNorm", entry<layerNorm>},
      {"layerNormBackward", entry<layerNormBackward>},
      {"crossEntropy", entry<crossEntropy>},
      {"crossEntropyBackward", entry<crossEntropyBackward>},
      {"attention", entry<attention>},
      {"attentionBackward", entry<attentionBackward>},
      {"attentionLegacy", entry<attentionLegacy>},
      {"attentionBackwardLegacy", entry<attentionBackwardLegacy>},
      {"embedding", entry<embeddingKernel<false>>},
      {"embeddingBackward", entry<embeddingKernel<true>>},
      {"adamw", entry<adamw>},
      {"lstm", entry<lstm>},
      {"lstmBackward", entry<lstmBackward>},
      {"rnn", entry<rnn>},
      {"rnnBackward", entry<rnnBackward>},
      {"info", entry<info>},
  };
  for (const Export& f : fns) {
    napi_value fn;
    void* data = const_cast<char*>(f.name);
    NAPI_THROW_IF_FAILED(env, napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, data, &fn), exports);
    exports.Set(f.name, Napi::Value(env, fn));
  }
  return exports;
}

NODE_API_MODULE(icl_native, Init)
