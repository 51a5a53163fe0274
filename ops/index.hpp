// Ops that pick elements by integer position: gather, index_select; and Indices, the shaped
// integer array that argmax returns and gather takes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "rewind/core/graph.hpp"

namespace rwd {

/// Integer positions with a shape (PyTorch's int64 index tensors): what argmax returns and
/// gather takes. Row-major, like a Tensor; never on the tape, never differentiated.
class Indices {
 public:
  /// Rank 0 with no values; use the other constructors for real indices.
  Indices() = default;
  /// Throws ShapeError when values.size() differs from shape.numel().
  Indices(Shape shape, std::vector<int64_t> values);
  Indices(Shape shape, std::initializer_list<int64_t> values)
      : Indices(shape, std::vector<int64_t>(values)) {}

  [[nodiscard]] const Shape& shape() const { return shape_; }
  [[nodiscard]] int64_t numel() const { return int64_t(values_.size()); }
  /// The values in row-major order; converts to what cross_entropy and embedding take.
  [[nodiscard]] std::span<const int64_t> values() const { return values_; }
  /// Flat element i (unchecked).
  int64_t operator[](int64_t i) const { return values_[size_t(i)]; }

 private:
  Shape shape_;
  std::vector<int64_t> values_;
};

/// torch.gather: out[i][j][k] = x[i][indices[i][j][k]][k] for axis 1, and likewise for any
/// axis. `indices` has x's rank, no dimension larger than x's except along `axis`; the result
/// has the indices' shape. Backward adds each output's gradient to the element it came from.
/// Throws ShapeError for a rank or size that does not fit, IndexError for an index outside
/// [0, x.size(axis)) (naming it and its position) or an axis out of range.
template <Scalar T>
Var<T> gather(Var<T> x, int axis, const Indices& indices);

/// torch.index_select: the slices of `x` at `indices` along `axis`, in that order (repeats
/// allowed); the result has x's shape with that axis of length indices.size(). Throws
/// IndexError for an index outside [0, x.size(axis)) or an axis out of range.
template <Scalar T>
Var<T> index_select(Var<T> x, int axis, std::span<const int64_t> indices);

}  // namespace rwd
