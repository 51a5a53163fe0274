// Shape checks and printing.
#include "rewind/core/shape.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "rewind/core/error.hpp"

namespace rwd {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims)) {}

Shape::Shape(std::span<const int64_t> dims) {
  if (dims.size() > size_t(kMaxRank))
    throw ShapeError(fmt::format("Shape: rank {} is above the maximum of {} (dims [{}])",
                                 dims.size(), kMaxRank, fmt::join(dims, ", ")));
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0)
      throw ShapeError(
          fmt::format("Shape: dimension {} is negative in [{}]", i, fmt::join(dims, ", ")));
    dims_[i] = dims[i];
  }
  rank_ = int(dims.size());
}

int64_t Shape::dim(int axis) const {
  return dims_[normalize_axis(axis, "Shape::dim")];
}

int Shape::normalize_axis(int axis, const char* op) const {
  const int a = axis < 0 ? axis + rank_ : axis;
  if (a < 0 || a >= rank_)
    throw IndexError(fmt::format("{}: axis {} is out of range for a tensor of shape {} (rank {})",
                                 op, axis, str(), rank_));
  return a;
}

Shape Shape::with_dim(int axis, int64_t size) const {
  Shape s = *this;
  s.dims_[axis] = size;
  return s;
}

Shape Shape::without_dim(int axis) const {
  Shape s;
  for (int i = 0; i < rank_; ++i)
    if (i != axis) s.dims_[s.rank_++] = dims_[i];
  return s;
}

std::string Shape::str() const {
  return fmt::format("[{}]", fmt::join(dims(), ", "));
}

AxisSplit split_at_axis(const Shape& shape, int axis) {
  AxisSplit s;
  for (int i = 0; i < axis; ++i) s.outer *= shape[i];
  s.n = shape[axis];
  for (int i = axis + 1; i < shape.rank(); ++i) s.inner *= shape[i];
  return s;
}

}  // namespace rwd
