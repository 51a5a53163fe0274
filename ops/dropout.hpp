// Dropout (inverted: kept values are scaled by 1/(1-p) in training, identity in eval).
#pragma once

#include "rewind/core/graph.hpp"
#include "rewind/core/random.hpp"

namespace rwd {

/// In training, zeroes each element with probability p (drawn from `gen`) and scales the
/// rest by 1/(1-p); in eval (train == false) or with p == 0 it returns x itself. p must be
/// in [0, 1]; p == 1 zeroes everything.
template <Scalar T>
Var<T> dropout(Var<T> x, double p, bool train, Generator& gen);

}  // namespace rwd
