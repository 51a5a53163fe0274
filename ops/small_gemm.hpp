// A register-blocked GEMM for the thin products of recurrent steps (a batch of a few rows
// times a weight): C[m, n] (+)= A[m, k] · B[k, n], all row-major, B read in place. BLAS
// packs B into its own layout on every call, which for one time step costs as much as the
// product itself; here B is streamed as stored (Note [Thin products] in linalg.cpp).
#pragma once

#include <cstdint>

namespace rwd::detail {

/// C[m, n] = (accumulate ? C : 0) + A[m, k] · B[k, n]; lda, ldb, ldc are row strides.
template <class T>
void thin_gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
               T* c, int64_t ldc, bool accumulate);

}  // namespace rwd::detail
