// Reductions and normalisations along an axis: sum, mean, softmax, log_softmax.
#pragma once

#include "rewind/core/graph.hpp"

namespace rwd {

/// Sum of all elements (a rank-0 value).
template <Scalar T>
Var<T> sum(Var<T> x);
/// Sum along `axis`; keepdim leaves it in place with length 1.
template <Scalar T>
Var<T> sum(Var<T> x, int axis, bool keepdim = false);
/// Mean of all elements (a rank-0 value).
template <Scalar T>
Var<T> mean(Var<T> x);
/// Mean along `axis`; keepdim leaves it in place with length 1.
template <Scalar T>
Var<T> mean(Var<T> x, int axis, bool keepdim = false);
/// exp(x) / sum exp(x) along `axis`, with the maximum subtracted first for stability.
template <Scalar T>
Var<T> softmax(Var<T> x, int axis = -1);
/// x - log sum exp(x) along `axis`, stable for large |x|.
template <Scalar T>
Var<T> log_softmax(Var<T> x, int axis = -1);

}  // namespace rwd
