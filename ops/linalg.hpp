// Matrix products.
#pragma once

#include "rewind/core/graph.hpp"

namespace rwd {

/// op(a) · op(b) for 2-D a and b, where op transposes when the flag is set. Transposes are
/// passed to BLAS as flags, never copied. Throws ShapeError unless op(a) is [M, K] and op(b)
/// is [K, N].
template <Scalar T>
Var<T> matmul(Var<T> a, Var<T> b, bool transpose_a = false, bool transpose_b = false);

/// x · wᵀ + bias, with w stored [out, in] as PyTorch's Linear does. x is [B, in]; bias is
/// [out] (or an empty Var for none). Composed of matmul and add.
template <Scalar T>
Var<T> linear(Var<T> x, Var<T> w, Var<T> bias = {});

}  // namespace rwd
