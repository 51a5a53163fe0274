// Losses: cross-entropy against integer class ids, mean squared error.
#pragma once

#include <cstdint>
#include <span>

#include "rewind/core/graph.hpp"

namespace rwd {

/// Mean over the batch of -log softmax(logits)[b, targets[b]]. logits is [B, C]; targets
/// holds B class ids in [0, C). Stable for large logits (log-sum-exp with the max taken out).
template <Scalar T>
Var<T> cross_entropy(Var<T> logits, std::span<const int64_t> targets);

/// mean((prediction - target)^2) over all elements; the shapes must match.
template <Scalar T>
Var<T> mse(Var<T> prediction, Var<T> target);

}  // namespace rwd
