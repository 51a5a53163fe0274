// GEMM providers: OpenBLAS through CBLAS, and oneDNN's sgemm when built with it.
#include "rewind/ops/blas.hpp"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string_view>
#include <type_traits>

#include "rewind/core/error.hpp"
#include "rewind/core/threads.hpp"

#if REWIND_HAVE_DNNL
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#endif

extern "C" void openblas_set_num_threads(int threads) __attribute__((weak));

namespace rwd {
namespace {

constexpr bool kHaveOneDNN = REWIND_HAVE_DNNL != 0;

GemmProvider provider_from_env() {
  const char* env = std::getenv("REWIND_GEMM");
  if (env == nullptr || *env == '\0') return GemmProvider::kAuto;
  const std::string_view v(env);
  for (GemmProvider p : {GemmProvider::kAuto, GemmProvider::kOpenBLAS, GemmProvider::kOneDNN}) {
    if (v != gemm_provider_name(p)) continue;
    if (!gemm_provider_available(p))
      throw ValueError(fmt::format(
          "REWIND_GEMM: '{}' is not in this build (rewind was built without oneDNN)", v));
    return p;
  }
  throw ValueError(
      fmt::format("REWIND_GEMM: unknown value '{}'; expected auto, openblas or onednn", v));
}

std::atomic<int> g_provider{-1};  // -1: REWIND_GEMM decides

// Note [GEMM threads]: OpenBLAS has one process-wide thread count, so it cannot follow a
// per-caller budget; it runs one thread (set once, before its first product here), which
// also keeps its pool from fighting rewind's threads and other MPI ranks.
//
// oneDNN threads its sgemm with OpenMP, but how it shares a product out depends on the
// thread count: on some shapes ([64, 2048] x [2048, 512] among them) it splits the inner
// dimension, and then 1 and 2 threads round differently. So rewind threads oneDNN's products
// itself: a product whose larger output dimension is at least 2 * kMinPiece is cut along it
// into pieces whose number and size depend only on the shape, each piece one single-threaded
// dnnl_sgemm, and the pieces shared among the caller's thread_budget() threads (OpenMP).
// Every element of C is then computed by the same call, in the same order, whatever the
// thread count: the same bits on 1 and N threads (tests/ops/test_blas.cpp). Cutting costs
// one thread a little (the uncut operand is packed once per piece); pieces of at least 512
// rows or columns keep that within the noise on the recurrent layers' shapes.
constexpr int64_t kMinPiece = 512;
constexpr int64_t kMaxPieces = 8;

// The number of pieces of a product with output [m, n], cut along the larger dimension.
int64_t gemm_pieces(int64_t m, int64_t n) {
  return std::clamp<int64_t>(std::max(m, n) / kMinPiece, 1, kMaxPieces);
}

void use_one_openblas_thread() {
  static const bool done = [] {
    if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

template <class T>
void zero_k(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  // op(A) op(B) is all zeros; BLAS implementations disagree on this edge.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

CBLAS_TRANSPOSE cblas_op(bool trans) {
  return trans ? CblasTrans : CblasNoTrans;
}

#if REWIND_HAVE_DNNL
void onednn_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // Note [GEMM threads]: pieces along the larger output dimension, by shape alone.
  const bool cut_rows = m >= n;
  const int64_t dim = cut_rows ? m : n;
  const int64_t pieces = gemm_pieces(m, n);
  const int64_t piece = (dim + pieces - 1) / pieces;
  const int threads = int(std::min<int64_t>(detail::thread_budget(), pieces));
  const int had = omp_get_max_threads();
  if (had != 1) omp_set_num_threads(1);  // each dnnl_sgemm runs on the thread that calls it
  std::atomic<int> failed{int(dnnl_success)};
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t i = 0; i < pieces; ++i) {
    const int64_t lo = i * piece;
    const int64_t len = std::min(piece, dim - lo);
    const float* ai = a;
    const float* bi = b;
    float* ci = c;
    if (cut_rows) {
      ai = ta ? a + lo : a + lo * lda;
      ci = c + lo * ldc;
    } else {
      bi = tb ? b + lo * ldb : b + lo;
      ci = c + lo;
    }
    const dnnl_status_t st =
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', cut_rows ? len : m, cut_rows ? n : len, k, alpha,
                   ai, lda, bi, ldb, beta, ci, ldc);
    if (st != dnnl_success) failed.store(int(st), std::memory_order_relaxed);
  }
  if (had != 1) omp_set_num_threads(had);
  if (failed.load() != int(dnnl_success))
    throw ValueError(
        fmt::format("gemm (onednn): dnnl_sgemm failed with status {} for [{}, {}] x "
                    "[{}, {}]",
                    failed.load(), m, k, k, n));
}
#endif

}  // namespace

const char* gemm_provider_name(GemmProvider p) {
  switch (p) {
    case GemmProvider::kAuto:
      return "auto";
    case GemmProvider::kOpenBLAS:
      return "openblas";
    case GemmProvider::kOneDNN:
      return "onednn";
  }
  return "?";
}

bool gemm_provider_available(GemmProvider p) {
  return p != GemmProvider::kOneDNN || kHaveOneDNN;
}

void set_gemm_provider(GemmProvider p) {
  if (!gemm_provider_available(p))
    throw ValueError(
        fmt::format("set_gemm_provider: '{}' is not in this build (rewind was built "
                    "without oneDNN)",
                    gemm_provider_name(p)));
  g_provider.store(int(p), std::memory_order_relaxed);
}

GemmProvider gemm_provider() {
  const int set = g_provider.load(std::memory_order_relaxed);
  if (set >= 0) return GemmProvider(set);
  static const GemmProvider from_env = provider_from_env();
  return from_env;
}

// Auto: oneDNN for every float product when it is there. Measured on an AMD EPYC (Zen 5) with
// the OpenBLAS kernel the machine picks, on the shapes of the recurrent layers' rows, it was
// 1.5 to 2.7 times as fast on every one (docs/performance.md, "GEMM providers").
template <Scalar T>
GemmProvider gemm_provider_for(int64_t /*m*/, int64_t /*n*/, int64_t /*k*/) {
  if constexpr (std::is_same_v<T, float>) {
    const GemmProvider p = gemm_provider();
    if (p == GemmProvider::kAuto)
      return kHaveOneDNN ? GemmProvider::kOneDNN : GemmProvider::kOpenBLAS;
    return p;
  } else {
    return GemmProvider::kOpenBLAS;
  }
}

template <Scalar T>
std::string describe_gemm(int64_t m, int64_t n, int64_t k) {
  const GemmProvider p = gemm_provider_for<T>(m, n, k);
  const int threads = p == GemmProvider::kOneDNN
                          ? int(std::min<int64_t>(detail::thread_budget(), gemm_pieces(m, n)))
                          : 1;
  return fmt::format("{} [{}, {}] x [{}, {}]: {}, {} thread{}",
                     std::is_same_v<T, float> ? "float" : "double", m, k, k, n,
                     gemm_provider_name(p), threads, threads == 1 ? "" : "s");
}

template GemmProvider gemm_provider_for<float>(int64_t, int64_t, int64_t);
template GemmProvider gemm_provider_for<double>(int64_t, int64_t, int64_t);
template std::string describe_gemm<float>(int64_t, int64_t, int64_t);
template std::string describe_gemm<double>(int64_t, int64_t, int64_t);

namespace detail {

template <>
void gemm<float>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return zero_k(m, n, beta, c, ldc);
#if REWIND_HAVE_DNNL
  if (gemm_provider_for<float>(m, n, k) == GemmProvider::kOneDNN)
    return onednn_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
  use_one_openblas_thread();
  cblas_sgemm(CblasRowMajor, cblas_op(trans_a), cblas_op(trans_b), int(m), int(n), int(k), alpha, a,
              int(lda), b, int(ldb), beta, c, int(ldc));
}

template <>
void gemm<double>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                  double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return zero_k(m, n, beta, c, ldc);
  use_one_openblas_thread();
  cblas_dgemm(CblasRowMajor, cblas_op(trans_a), cblas_op(trans_b), int(m), int(n), int(k), alpha, a,
              int(lda), b, int(ldb), beta, c, int(ldc));
}

}  // namespace detail
}  // namespace rwd
