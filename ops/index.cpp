// gather and index_select: forward (pick elements) and backward (scatter-add them back).
#include "rewind/ops/index.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "rewind/ops/registry.hpp"

namespace rwd {

Indices::Indices(Shape shape, std::vector<int64_t> values)
    : shape_(shape), values_(std::move(values)) {
  if (int64_t(values_.size()) != shape_.numel())
    throw ShapeError(fmt::format("Indices: {} values for shape {} ({} elements)", values_.size(),
                                 shape_.str(), shape_.numel()));
}

namespace {

// gather's and index_select's attributes.
struct IndexAttrs {
  const int64_t* index;  // gather: [numel(y)], index_select: [y.size(axis)], in the arena
  int axis;
};

// The multi-index of flat element `flat` of `shape`, as "[1, 2]", for error messages.
std::string position_str(const Shape& shape, int64_t flat) {
  const auto strides = row_major_strides(shape);
  std::array<int64_t, Shape::kMaxRank> pos{};
  for (int d = 0; d < shape.rank(); ++d) {
    pos[size_t(d)] = flat / strides[size_t(d)];
    flat %= strides[size_t(d)];
  }
  return fmt::format("[{}]", fmt::join(pos.begin(), pos.begin() + shape.rank(), ", "));
}

// Walks gather's result (the indices' shape) in order, calling f(out_offset, x_offset) with
// the offset in x of the element each output takes.
template <class F>
void for_each_gathered(const Shape& x_shape, const Shape& index_shape, int axis,
                       const int64_t* index, F&& f) {
  const int pad = Shape::kMaxRank - x_shape.rank();
  int64_t dims[4] = {1, 1, 1, 1};
  int64_t strides[4] = {0, 0, 0, 0};  // x's, with 0 along `axis`: the index says where
  const auto x_strides = row_major_strides(x_shape);
  for (int d = 0; d < x_shape.rank(); ++d) {
    dims[pad + d] = index_shape[d];
    strides[pad + d] = d == axis ? 0 : x_strides[size_t(d)];
  }
  const int64_t axis_stride = x_strides[size_t(axis)];
  int64_t o = 0;
  for (int64_t i0 = 0; i0 < dims[0]; ++i0)
    for (int64_t i1 = 0; i1 < dims[1]; ++i1)
      for (int64_t i2 = 0; i2 < dims[2]; ++i2) {
        const int64_t base = i0 * strides[0] + i1 * strides[1] + i2 * strides[2];
        for (int64_t i3 = 0; i3 < dims[3]; ++i3, ++o)
          f(o, base + i3 * strides[3] + index[o] * axis_stride);
      }
}

// y[.., j, ..] = x[.., index[.., j, ..], ..] along axis;  dx[.., index[.., j, ..], ..] += dy
template <Scalar T>
void gather_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const auto [index, axis] = b.template attrs<IndexAttrs>();
  const T* dy = b.dy();
  for_each_gathered(b.x_shape(0), b.shape(), axis, index,
                    [&](int64_t o, int64_t i) { dx[i] += dy[o]; });
}

// y[o, k, i] = x[o, index[k], i] along axis;  dx[o, index[k], i] += dy[o, k, i]
template <Scalar T>
void index_select_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const auto [index, axis] = b.template attrs<IndexAttrs>();
  const AxisSplit in = split_at_axis(b.x_shape(0), axis);
  const int64_t count = b.shape()[axis];
  const T* dy = b.dy();
  for (int64_t o = 0; o < in.outer; ++o)
    for (int64_t k = 0; k < count; ++k) {
      T* dst = dx + (o * in.n + index[k]) * in.inner;
      const T* src = dy + (o * count + k) * in.inner;
      for (int64_t i = 0; i < in.inner; ++i) dst[i] += src[i];
    }
}

template <Scalar T>
const OpDef<T> kGather{"gather", &gather_backward<T>};
template <Scalar T>
const OpDef<T> kIndexSelect{"index_select", &index_select_backward<T>};

// Throws IndexError unless every index lies in [0, length); `shape` lays out the indices.
void check_indices(const char* op, std::span<const int64_t> index, const Shape& index_shape,
                   int axis, const Shape& x_shape) {
  for (size_t k = 0; k < index.size(); ++k)
    if (index[k] < 0 || index[k] >= x_shape[axis])
      throw IndexError(fmt::format(
          "{}: index {} at position {} is out of range for axis {} of length {} (x of shape {})",
          op, index[k], position_str(index_shape, int64_t(k)), axis, x_shape[axis], x_shape.str()));
}

// A copy of the indices in the graph's arena, for the backward.
template <Scalar T>
const int64_t* keep(Graph<T>& g, std::span<const int64_t> index) {
  auto* saved = g.template allocate<int64_t>(std::max<size_t>(index.size(), 1));
  std::copy(index.begin(), index.end(), saved);
  return saved;
}

}  // namespace

template <Scalar T>
Var<T> gather(Var<T> x, int axis, const Indices& indices) {
  Graph<T>& g = graph_of("gather", {x});
  const Shape xs = g.node(x.id()).shape;
  const Shape& is = indices.shape();
  const int a = xs.normalize_axis(axis, "gather");
  bool fits = is.rank() == xs.rank();
  for (int d = 0; fits && d < xs.rank(); ++d) fits = d == a || is[d] <= xs[d];
  if (!fits)
    throw ShapeError(fmt::format(
        "gather: indices of shape {} do not fit x of shape {} along axis {}: they need x's "
        "rank and no dimension larger than x's except along the axis",
        is.str(), xs.str(), a));
  check_indices("gather", indices.values(), is, a, xs);
  const int64_t* index = keep(g, indices.values());
  const T* xv = g.node(x.id()).value;
  auto [y, out] = g.record(kGather<T>, {x}, is, IndexAttrs{index, a});
  for_each_gathered(xs, is, a, index, [&, dst = out](int64_t o, int64_t i) { dst[o] = xv[i]; });
  return y;
}

template <Scalar T>
Var<T> index_select(Var<T> x, int axis, std::span<const int64_t> indices) {
  Graph<T>& g = graph_of("index_select", {x});
  const Shape xs = g.node(x.id()).shape;
  const int a = xs.normalize_axis(axis, "index_select");
  const auto count = int64_t(indices.size());
  check_indices("index_select", indices, Shape{count}, a, xs);
  const int64_t* index = keep(g, indices);
  const T* xv = g.node(x.id()).value;
  const AxisSplit in = split_at_axis(xs, a);
  auto [y, out] = g.record(kIndexSelect<T>, {x}, xs.with_dim(a, count), IndexAttrs{index, a});
  for (int64_t o = 0; o < in.outer; ++o)
    for (int64_t k = 0; k < count; ++k)
      std::memcpy(out + (o * count + k) * in.inner, xv + (o * in.n + index[k]) * in.inner,
                  size_t(in.inner) * sizeof(T));
  return y;
}

#define REWIND_INSTANTIATE(T)                          \
  template Var<T> gather(Var<T>, int, const Indices&); \
  template Var<T> index_select(Var<T>, int, std::span<const int64_t>);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

namespace detail {
const OpInfo kIndexOps[] = {
    {kGather<double>.name, true},
    {kIndexSelect<double>.name, true},
};
std::span<const OpInfo> index_ops() {
  return kIndexOps;
}
}  // namespace detail

}  // namespace rwd
