// The one place rewind calls BLAS: C = alpha * op(A) * op(B) + beta * C, row-major.
#pragma once

#include <cstdint>

namespace rwd::detail {

/// Row-major gemm: op(A) is [m, k], op(B) is [k, n], C is [m, n]; lda/ldb/ldc are the row
/// strides of A, B, C as stored.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace rwd::detail
