// Ops that move elements without arithmetic: concat, stack, slice, split, chunk, reshape,
// transpose, detach.
#pragma once

#include <array>
#include <initializer_list>
#include <span>
#include <vector>

#include "rewind/core/graph.hpp"

namespace rwd {

/// Joins `xs` along `axis` (negative counts from the end). All other dimensions must agree.
template <Scalar T>
Var<T> concat(std::span<const Var<T>> xs, int axis);
template <Scalar T>
Var<T> concat(std::initializer_list<Var<T>> xs, int axis) {
  return concat(std::span<const Var<T>>(xs.begin(), xs.size()), axis);
}

/// Joins `xs`, which must share one shape, along a new axis `axis` of the result (so
/// -rank - 1 <= axis <= rank for inputs of rank `rank`; negative counts from the end).
template <Scalar T>
Var<T> stack(std::span<const Var<T>> xs, int axis);
template <Scalar T>
Var<T> stack(std::initializer_list<Var<T>> xs, int axis) {
  return stack(std::span<const Var<T>>(xs.begin(), xs.size()), axis);
}

/// Elements [start, stop) of `axis`. Along the leading axis (or any axis with only size-1
/// dimensions before it) this is a view: no copy, and its gradient lands directly in the
/// input's gradient.
template <Scalar T>
Var<T> slice(Var<T> x, int axis, int64_t start, int64_t stop);

/// Consecutive pieces of the given sizes along `axis`; the sizes must add up to its length.
template <Scalar T>
std::vector<Var<T>> split(Var<T> x, int axis, std::span<const int64_t> sizes);

/// `n` equal pieces along `axis`; its length must be divisible by n.
template <Scalar T>
std::vector<Var<T>> chunk(Var<T> x, int n, int axis);

/// `N` equal pieces along `axis`, without a heap allocation (for per-step use in cells).
template <size_t N, Scalar T>
std::array<Var<T>, N> chunk(Var<T> x, int axis) {
  const int a = x.shape().normalize_axis(axis, "chunk");
  const int64_t len = x.shape()[a];
  if (len % int64_t(N) != 0) chunk(x, int(N), axis);  // throws the ShapeError
  const int64_t piece = len / int64_t(N);
  std::array<Var<T>, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = slice(x, a, int64_t(i) * piece, int64_t(i + 1) * piece);
  return out;
}

/// The same elements in a new shape (a view; no copy). One dimension may be -1, inferred.
template <Scalar T>
Var<T> reshape(Var<T> x, std::initializer_list<int64_t> dims);
template <Scalar T>
Var<T> reshape(Var<T> x, const Shape& shape);

/// The transpose of a 2-D value (a copy).
template <Scalar T>
Var<T> transpose(Var<T> x);
/// `x` with axes a and b swapped (a copy), for any rank; negative axes count from the end.
template <Scalar T>
Var<T> transpose(Var<T> x, int a, int b);

/// The same value with no gradient flowing back through it (a view).
template <Scalar T>
Var<T> detach(Var<T> x);

}  // namespace rwd
