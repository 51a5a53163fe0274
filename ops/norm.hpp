// Normalisation layers as single ops: layer_norm over the last axis.
#pragma once

#include <type_traits>

#include "rewind/core/graph.hpp"

namespace rwd {

/// Layer normalisation over the last axis (Ba et al. 2016, "Layer Normalization", eq. 4), as
/// PyTorch's F.layer_norm(x, [D], gain, bias, eps): each row of D elements becomes
///   y = (x - mean) / sqrt(var + eps) * gain + bias,
/// with the biased variance (divided by D). x has rank >= 1 and last dimension D; gain and
/// bias are [D], or an empty Var for none (gain 1, bias 0). One node; backward reads the
/// per-row mean and 1/sqrt(var + eps) the forward kept.
/// Throws ShapeError for a rank-0 x or a gain or bias not [D], ValueError for eps <= 0.
template <Scalar T>
Var<T> layer_norm(Var<T> x, Var<T> gain, Var<T> bias, std::type_identity_t<T> eps = T(1e-5));
/// The same without gain and bias: (x - mean) / sqrt(var + eps) along the last axis.
template <Scalar T>
Var<T> layer_norm(Var<T> x, std::type_identity_t<T> eps = T(1e-5)) {
  return layer_norm(x, Var<T>(), Var<T>(), eps);
}

}  // namespace rwd
