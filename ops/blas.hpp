// The one place rewind calls a GEMM library: C = alpha * op(A) * op(B) + beta * C, row-major.
//
// Two providers: OpenBLAS, always, and oneDNN's sgemm when rewind is built with it
// (REWIND_WITH_DNNL, on when CMake finds Debian's libdnnl-dev). oneDNN generates its kernels
// for the CPU it runs on; OpenBLAS runs the kernel its build has for the CPU, or the one
// OPENBLAS_CORETYPE names, so its speed depends on which CPU and environment it meets
// (docs/performance.md). Products of a few rows by a weight that fits in L2 run in rewind's
// own thin kernels instead (Note [Thin products] in ops/linalg.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "rewind/core/tensor.hpp"

namespace rwd {

enum class GemmProvider : uint8_t {
  kAuto,      // choose per product (gemm_provider_for)
  kOpenBLAS,  // cblas_sgemm / cblas_dgemm
  kOneDNN,    // dnnl_sgemm (float only; double products stay in OpenBLAS)
};

/// "auto", "openblas" or "onednn".
[[nodiscard]] const char* gemm_provider_name(GemmProvider p);
/// Whether this build can use `p` (kAuto and kOpenBLAS always).
[[nodiscard]] bool gemm_provider_available(GemmProvider p);

/// The process-wide choice, for products run from now on: kAuto, or one provider pinned.
/// Read once from REWIND_GEMM (auto, openblas, onednn) on first use; set_gemm_provider
/// overrides it. ValueError for a provider this build does not have, or an unknown
/// REWIND_GEMM value (named). Safe to call from any thread; a product in flight keeps the
/// provider it started with.
void set_gemm_provider(GemmProvider p);
[[nodiscard]] GemmProvider gemm_provider();

/// The provider that runs a product of op(A) [m, k] by op(B) [k, n] in T now.
template <Scalar T>
[[nodiscard]] GemmProvider gemm_provider_for(int64_t m, int64_t n, int64_t k);
/// One line a user can print: the provider and the threads a product of op(A) [m, k] by
/// op(B) [k, n] in T gets now, e.g. "float [700, 200] x [200, 800]: onednn, 1 thread".
/// oneDNN's products share the caller's budget (detail::thread_budget()) when at least one
/// output dimension is 1024 or more (Note [GEMM threads] in ops/blas.cpp).
template <Scalar T>
[[nodiscard]] std::string describe_gemm(int64_t m, int64_t n, int64_t k);

}  // namespace rwd

namespace rwd::detail {

/// Row-major gemm: op(A) is [m, k], op(B) is [k, n], C is [m, n]; lda/ldb/ldc are the row
/// strides of A, B, C as stored. Runs in gemm_provider_for<T>(m, n, k).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace rwd::detail
