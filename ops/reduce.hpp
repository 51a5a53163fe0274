// Reductions and normalisations along an axis: sum, mean, softmax, log_softmax, var, std,
// logsumexp, max, argmax.
#pragma once

#include <cstdint>

#include "rewind/core/graph.hpp"
#include "rewind/ops/index.hpp"

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

/// Variance along `axis` with PyTorch's correction: sum (x - mean)^2 / (N - correction), N
/// the axis length (correction 1: the unbiased estimate; 0: the population variance).
/// Throws ValueError when N - correction <= 0 (PyTorch returns inf or NaN there: use
/// correction 0 for a single element), IndexError for an axis out of range.
template <Scalar T>
Var<T> var(Var<T> x, int axis, int64_t correction = 1, bool keepdim = false);
/// sqrt(var(x, axis, correction, keepdim)); its gradient is 0 where it is 0 (as PyTorch's).
template <Scalar T>
Var<T> std(Var<T> x, int axis, int64_t correction = 1, bool keepdim = false);

/// log sum exp(x) along `axis`, with the maximum taken out first so large |x| neither
/// overflows nor loses precision. Its gradient is the softmax.
template <Scalar T>
Var<T> logsumexp(Var<T> x, int axis, bool keepdim = false);

/// The largest element along `axis`. Its gradient goes to the first maximal element of each
/// lane (the one argmax names); a NaN counts as maximal. ShapeError for an empty axis.
template <Scalar T>
Var<T> max(Var<T> x, int axis, bool keepdim = false);
/// Where max(x, axis, keepdim) takes its values: the position along `axis` of each lane's
/// first maximal element, in the reduced shape. Records nothing on the tape.
template <Scalar T>
Indices argmax(Var<T> x, int axis, bool keepdim = false);

}  // namespace rwd
