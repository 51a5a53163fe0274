// Embedding lookup: rows of a table picked by integer ids.
#pragma once

#include <cstdint>
#include <span>

#include "rewind/core/graph.hpp"

namespace rwd {

/// Rows `ids` of `table` [V, D], as [ids.size(), D]. Every id must be in [0, V). The
/// gradient is scattered back into the table's rows; an id that repeats gets the sum.
template <Scalar T>
Var<T> embedding(Var<T> table, std::span<const int64_t> ids);

}  // namespace rwd
