// Pointwise nonlinearities.
#pragma once

#include "rewind/core/graph.hpp"

namespace rwd {

/// 1 / (1 + exp(-x)), computed without overflow for large |x|.
template <Scalar T>
Var<T> sigmoid(Var<T> x);
template <Scalar T>
Var<T> tanh(Var<T> x);
/// max(x, 0); the gradient at 0 is taken as 0, as PyTorch does.
template <Scalar T>
Var<T> relu(Var<T> x);
template <Scalar T>
Var<T> exp(Var<T> x);
/// Natural log; non-positive inputs give -inf or NaN, as std::log does.
template <Scalar T>
Var<T> log(Var<T> x);

}  // namespace rwd
