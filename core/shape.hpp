// Shape: the dimensions of a dense row-major tensor of rank 0 to 4, stored inline.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace rwd {

class Shape {
 public:
  static constexpr int kMaxRank = 4;

  /// Rank 0: a scalar with one element.
  Shape() = default;
  /// Throws ShapeError for rank > 4 or a negative dimension.
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  /// Dimension `axis`, 0 <= axis < rank (unchecked; use dim() for a checked, negative-aware one).
  [[nodiscard]] int64_t operator[](int axis) const { return dims_[axis]; }
  /// Dimension `axis`; negative counts from the end. Throws IndexError when out of range.
  [[nodiscard]] int64_t dim(int axis) const;
  [[nodiscard]] std::span<const int64_t> dims() const { return {dims_.data(), size_t(rank_)}; }

  /// Turns a possibly negative axis into 0..rank-1, or throws IndexError naming `op`.
  [[nodiscard]] int normalize_axis(int axis, const char* op) const;

  /// The same shape with dimension `axis` replaced by `size`.
  [[nodiscard]] Shape with_dim(int axis, int64_t size) const;
  /// The same shape with dimension `axis` removed.
  [[nodiscard]] Shape without_dim(int axis) const;

  /// "[2, 3]"; "[]" for a scalar.
  [[nodiscard]] std::string str() const;

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

/// Sizes of a tensor seen as [outer, n, inner] around `axis`: the layout every
/// along-an-axis op (concat, slice, sum, softmax) loops over.
struct AxisSplit {
  int64_t outer = 1;
  int64_t n = 1;
  int64_t inner = 1;
};
[[nodiscard]] AxisSplit split_at_axis(const Shape& shape, int axis);

}  // namespace rwd
