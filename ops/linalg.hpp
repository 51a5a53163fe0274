// Matrix products.
#pragma once

#include "rewind/core/graph.hpp"

namespace rwd {

/// op(a) · op(b) for 2-D a and b, where op transposes when the flag is set. Transposes are
/// passed to BLAS as flags; the one exception is a leaf (parameter or input) used transposed
/// by several thin products in one graph round, which is transposed once for the round and
/// reused (Note [Thin products], ops/linalg.cpp). Throws ShapeError unless op(a) is [M, K] and
/// op(b) is [K, N].
template <Scalar T>
Var<T> matmul(Var<T> a, Var<T> b, bool transpose_a = false, bool transpose_b = false);

/// base + op(a) · op(b) in one node: the product accumulates into a copy of base (BLAS
/// beta = 1). base is [M, N], or a row [N] added to every row.
template <Scalar T>
Var<T> addmm(Var<T> base, Var<T> a, Var<T> b, bool transpose_a = false, bool transpose_b = false);

/// x · wᵀ + bias, with w stored [out, in] as PyTorch's Linear does. x is [B, in]; bias is
/// [out] (or an empty Var for none). One addmm node (or a matmul without a bias).
template <Scalar T>
Var<T> linear(Var<T> x, Var<T> w, Var<T> bias = {});

}  // namespace rwd
