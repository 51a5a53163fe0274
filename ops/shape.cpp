// concat, stack, slice, split, chunk, reshape, transpose, detach: forward and backward.
#include "rewind/ops/shape.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <utility>

#include "rewind/ops/fusion.hpp"
#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

// concat's attribute.
struct ConcatAttrs {
  int axis;
};
// stack's attribute: the new axis, in the result.
struct StackAttrs {
  int axis;
};
// slice's attributes: the axis and where along it the slice starts.
struct SliceAttrs {
  int axis;
  int64_t start;
};
// transpose's attributes: the two axes swapped.
struct TransposeAttrs {
  int a, b;
};

// y = concat(x_0, ..., x_{k-1}) along axis;  dx_j += the slab of dy where x_j sits
template <Scalar T>
void concat_backward(const Backward<T>& b) {
  const int axis = b.template attrs<ConcatAttrs>().axis;
  const AxisSplit out = split_at_axis(b.shape(), axis);
  const T* dy = b.dy();
  int64_t offset = 0;  // start of x_j's slab within a row of dy
  for (uint32_t j = 0; j < b.num_inputs(); ++j) {
    const int64_t width = b.x_shape(j)[axis] * out.inner;
    if (T* dx = b.dx(j)) {
      for (int64_t o = 0; o < out.outer; ++o) {
        const T* src = dy + o * out.n * out.inner + offset;
        T* dst = dx + o * width;
        detail::kernels<T>().add_into(dst, src, width);
      }
    }
    offset += width;
  }
}

// y = stack(x_0, ..., x_{k-1}) along a new axis;  dx_j += dy[.., j, ..]
template <Scalar T>
void stack_backward(const Backward<T>& b) {
  const AxisSplit out = split_at_axis(b.shape(), b.template attrs<StackAttrs>().axis);
  const T* dy = b.dy();
  for (uint32_t j = 0; j < b.num_inputs(); ++j)
    if (T* dx = b.dx(j))
      for (int64_t o = 0; o < out.outer; ++o)
        detail::kernels<T>().add_into(dx + o * out.inner, dy + (o * out.n + j) * out.inner,
                                      out.inner);
}

// y = x[..., start:stop, ...] along axis;  dx[..., start:stop, ...] += dy
template <Scalar T>
void slice_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const auto [axis, start] = b.template attrs<SliceAttrs>();
  const AxisSplit in = split_at_axis(b.x_shape(0), axis);
  const int64_t width = b.shape()[axis] * in.inner;
  const T* dy = b.dy();
  for (int64_t o = 0; o < in.outer; ++o) {
    T* dst = dx + o * in.n * in.inner + start * in.inner;
    const T* src = dy + o * width;
    for (int64_t i = 0; i < width; ++i) dst[i] += src[i];
  }
}

// Walks the output of swapping axes a and b of `in_shape` in order, calling
// f(out_offset, in_offset) for each element.
template <class F>
void for_each_swapped(const Shape& in_shape, int a, int b, F&& f) {
  const int pad = 4 - in_shape.rank();
  int64_t dims[4] = {1, 1, 1, 1};
  int64_t strides[4] = {0, 0, 0, 0};
  const auto in_strides = row_major_strides(in_shape);
  for (int i = 0; i < in_shape.rank(); ++i) {
    dims[pad + i] = in_shape[i];
    strides[pad + i] = in_strides[size_t(i)];
  }
  std::swap(dims[pad + a], dims[pad + b]);
  std::swap(strides[pad + a], strides[pad + b]);
  int64_t o = 0;
  for (int64_t i0 = 0; i0 < dims[0]; ++i0)
    for (int64_t i1 = 0; i1 < dims[1]; ++i1)
      for (int64_t i2 = 0; i2 < dims[2]; ++i2) {
        const int64_t base = i0 * strides[0] + i1 * strides[1] + i2 * strides[2];
        for (int64_t i3 = 0; i3 < dims[3]; ++i3, ++o) f(o, base + i3 * strides[3]);
      }
}

// y = x with axes a, b swapped;  dx += dy with axes a, b swapped back
template <Scalar T>
void transpose_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    const auto [axis_a, axis_b] = b.template attrs<TransposeAttrs>();
    for_each_swapped(b.x_shape(0), axis_a, axis_b, [&](int64_t o, int64_t i) { dx[i] += dy[o]; });
  }
}

template <Scalar T>
const OpDef<T> kConcat{"concat", &concat_backward<T>};
template <Scalar T>
const OpDef<T> kStack{"stack", &stack_backward<T>};
template <Scalar T>
const OpDef<T> kSlice{"slice", &slice_backward<T>};
// A slice along the last axis: an instruction of fused regions (ops/fusion.cpp).
template <Scalar T>
const OpDef<T> kSliceColumns{"slice", &detail::elementwise_backward<T>};
// A slice that is a contiguous window: value and gradient alias the input (Note [Aliases]).
template <Scalar T>
const OpDef<T> kSliceView{"slice", nullptr};
template <Scalar T>
const OpDef<T> kReshape{"reshape", nullptr};
template <Scalar T>
const OpDef<T> kTranspose{"transpose", &transpose_backward<T>};
template <Scalar T>
const OpDef<T> kDetach{"detach", nullptr};

}  // namespace

template <Scalar T>
Var<T> concat(std::span<const Var<T>> xs, int axis) {
  Graph<T>& g = graph_of("concat", xs);
  const Shape& first = g.node(xs[0].id()).shape;
  const int a = first.normalize_axis(axis, "concat");
  int64_t total = 0;
  for (size_t j = 0; j < xs.size(); ++j) {
    const Shape& s = g.node(xs[j].id()).shape;
    bool ok = s.rank() == first.rank();
    for (int d = 0; ok && d < s.rank(); ++d) ok = d == a || s[d] == first[d];
    if (!ok)
      throw ShapeError(fmt::format(
          "concat: input {} has shape {} but input 0 has shape {}; all dimensions except axis "
          "{} must match",
          j, s.str(), first.str(), a));
    total += s[a];
  }
  const Shape out_shape = first.with_dim(a, total);
  auto [y, out] = g.record(kConcat<T>, xs, out_shape, ConcatAttrs{a});
  const AxisSplit os = split_at_axis(out_shape, a);
  int64_t offset = 0;
  for (const Var<T>& x : xs) {
    const Node<T>& n = g.node(x.id());
    const int64_t width = n.shape[a] * os.inner;
    for (int64_t o = 0; o < os.outer; ++o)
      std::memcpy(out + o * os.n * os.inner + offset, n.value + o * width,
                  size_t(width) * sizeof(T));
    offset += width;
  }
  return y;
}

template <Scalar T>
Var<T> stack(std::span<const Var<T>> xs, int axis) {
  Graph<T>& g = graph_of("stack", xs);
  const Shape first = g.node(xs[0].id()).shape;
  const int rank = first.rank() + 1;
  if (axis < -rank || axis >= rank)
    throw IndexError(fmt::format(
        "stack: axis {} is out of range for stacking values of shape {} (a result of rank {})",
        axis, first.str(), rank));
  if (rank > Shape::kMaxRank)
    throw ShapeError(fmt::format("stack: values of shape {} would stack to rank {}, above {}",
                                 first.str(), rank, Shape::kMaxRank));
  for (size_t j = 1; j < xs.size(); ++j)
    if (!(g.node(xs[j].id()).shape == first))
      throw ShapeError(fmt::format("stack: input {} has shape {} but input 0 has shape {}", j,
                                   g.node(xs[j].id()).shape.str(), first.str()));
  const int a = axis < 0 ? axis + rank : axis;
  std::array<int64_t, Shape::kMaxRank> dims{};
  for (int d = 0, from = 0; d < rank; ++d) dims[size_t(d)] = d == a ? 1 : first[from++];
  const Shape out_shape =
      Shape(std::span<const int64_t>(dims.data(), size_t(rank))).with_dim(a, int64_t(xs.size()));
  auto [y, out] = g.record(kStack<T>, xs, out_shape, StackAttrs{a});
  const AxisSplit os = split_at_axis(out_shape, a);
  for (size_t j = 0; j < xs.size(); ++j) {
    const T* src = g.node(xs[j].id()).value;
    for (int64_t o = 0; o < os.outer; ++o)
      std::memcpy(out + (o * os.n + int64_t(j)) * os.inner, src + o * os.inner,
                  size_t(os.inner) * sizeof(T));
  }
  return y;
}

template <Scalar T>
Var<T> slice(Var<T> x, int axis, int64_t start, int64_t stop) {
  Graph<T>& g = graph_of("slice", {x});
  const Shape s = g.node(x.id()).shape;
  const int a = s.normalize_axis(axis, "slice");
  if (start < 0 || stop > s[a] || start > stop)
    throw IndexError(
        fmt::format("slice: range [{}, {}) is out of bounds for axis {} of length {} (shape {})",
                    start, stop, a, s[a], s.str()));
  const Shape out_shape = s.with_dim(a, stop - start);
  const AxisSplit in = split_at_axis(s, a);
  const SliceAttrs attrs{a, start};
  if (in.outer == 1)  // one contiguous window
    return g.record_alias(kSliceView<T>, x, out_shape, start * in.inner, true, attrs);
  // Columns of a matrix's rows (gates of a cell, say): an elementwise copy that joins its
  // neighbours' fused region.
  if (a == s.rank() - 1)
    return detail::record_elementwise(g, kSliceColumns<T>, detail::EwOp::kCopy, {x}, out_shape,
                                      T(0), start);
  const T* xv = g.node(x.id()).value;
  auto [y, out] = g.record(kSlice<T>, {x}, out_shape, attrs);
  const int64_t width = (stop - start) * in.inner;
  for (int64_t o = 0; o < in.outer; ++o)
    std::memcpy(out + o * width, xv + o * in.n * in.inner + start * in.inner,
                size_t(width) * sizeof(T));
  return y;
}

template <Scalar T>
std::vector<Var<T>> split(Var<T> x, int axis, std::span<const int64_t> sizes) {
  const Shape& s = x.shape();
  const int a = s.normalize_axis(axis, "split");
  int64_t total = 0;
  for (int64_t size : sizes) {
    if (size < 0)
      throw ShapeError(fmt::format("split: negative piece size in [{}]", fmt::join(sizes, ", ")));
    total += size;
  }
  if (total != s[a])
    throw ShapeError(
        fmt::format("split: sizes [{}] add up to {} but axis {} of shape {} has length {}",
                    fmt::join(sizes, ", "), total, a, s.str(), s[a]));
  std::vector<Var<T>> out;
  out.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t size : sizes) {
    out.push_back(slice(x, a, start, start + size));
    start += size;
  }
  return out;
}

template <Scalar T>
std::vector<Var<T>> chunk(Var<T> x, int n, int axis) {
  const Shape& s = x.shape();
  const int a = s.normalize_axis(axis, "chunk");
  if (n <= 0 || s[a] % n != 0)
    throw ShapeError(fmt::format(
        "chunk: axis {} of shape {} has length {}, which does not split into {} equal pieces", a,
        s.str(), s[a], n));
  std::vector<int64_t> sizes(size_t(n), s[a] / n);
  return split(x, a, std::span<const int64_t>(sizes));
}

template <Scalar T>
Var<T> reshape(Var<T> x, const Shape& shape) {
  Graph<T>& g = graph_of("reshape", {x});
  const Shape& s = x.shape();
  if (shape.numel() != s.numel())
    throw ShapeError(fmt::format("reshape: cannot view shape {} ({} elements) as {} ({} elements)",
                                 s.str(), s.numel(), shape.str(), shape.numel()));
  return g.record_alias(kReshape<T>, x, shape, 0, true);
}

template <Scalar T>
Var<T> reshape(Var<T> x, std::initializer_list<int64_t> dims) {
  graph_of("reshape", {x});
  const Shape& s = x.shape();
  if (dims.size() > size_t(Shape::kMaxRank))
    throw ShapeError(fmt::format("reshape: rank {} is above the maximum of {} ([{}])", dims.size(),
                                 Shape::kMaxRank, fmt::join(dims, ", ")));
  int64_t known = 1;
  int infer = -1;
  int axis = 0;
  std::array<int64_t, Shape::kMaxRank> resolved{};  // no heap: reshape runs every time step
  for (int64_t d : dims) {
    if (d == -1) {
      if (infer >= 0)
        throw ShapeError(fmt::format("reshape: more than one -1 in [{}]", fmt::join(dims, ", ")));
      infer = axis;
    } else if (d < 0) {
      throw ShapeError(fmt::format("reshape: negative dimension in [{}]", fmt::join(dims, ", ")));
    } else {
      known *= d;
    }
    resolved[size_t(axis++)] = d;
  }
  if (infer >= 0) {
    if (known == 0 || s.numel() % known != 0)
      throw ShapeError(fmt::format("reshape: cannot view shape {} ({} elements) as [{}]", s.str(),
                                   s.numel(), fmt::join(dims, ", ")));
    resolved[size_t(infer)] = s.numel() / known;
  }
  return reshape(x, Shape(std::span<const int64_t>(resolved.data(), dims.size())));
}

template <Scalar T>
Var<T> transpose(Var<T> x) {
  graph_of("transpose", {x});
  const Shape& s = x.shape();
  if (s.rank() != 2)
    throw ShapeError(fmt::format("transpose: needs a 2-D value, got shape {}", s.str()));
  return transpose(x, 0, 1);
}

template <Scalar T>
Var<T> transpose(Var<T> x, int a, int b) {
  Graph<T>& g = graph_of("transpose", {x});
  const Shape in_shape = g.node(x.id()).shape;
  const int na = in_shape.normalize_axis(a, "transpose");
  const int nb = in_shape.normalize_axis(b, "transpose");
  Shape out_shape = in_shape.with_dim(na, in_shape[nb]).with_dim(nb, in_shape[na]);
  const T* xv = g.node(x.id()).value;
  auto [y, out] = g.record(kTranspose<T>, {x}, out_shape, TransposeAttrs{na, nb});
  // Clang before 16 (clang-tidy 14 included) cannot capture a structured binding: copy it.
  for_each_swapped(in_shape, na, nb, [&, dst = out](int64_t o, int64_t i) { dst[o] = xv[i]; });
  return y;
}

template <Scalar T>
Var<T> detach(Var<T> x) {
  Graph<T>& g = graph_of("detach", {x});
  return g.record_alias(kDetach<T>, x, x.shape(), 0, false);
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, and the check reads the `>>` closing
// nested template arguments as a shift.
#define REWIND_INSTANTIATE(T)                                                \
  template Var<T> concat(std::span<const Var<T>>, int);                      \
  template Var<T> stack(std::span<const Var<T>>, int);                       \
  template Var<T> slice(Var<T>, int, int64_t, int64_t);                      \
  template std::vector<Var<T>> split(Var<T>, int, std::span<const int64_t>); \
  template std::vector<Var<T>> chunk(Var<T>, int, int);                      \
  template Var<T> reshape(Var<T>, const Shape&);                             \
  template Var<T> reshape(Var<T>, std::initializer_list<int64_t>);           \
  template Var<T> transpose(Var<T>);                                         \
  template Var<T> transpose(Var<T>, int, int);                               \
  template Var<T> detach(Var<T>);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE
// NOLINTEND(bugprone-macro-parentheses)

namespace detail {
const OpInfo kShapeOps[] = {
    {kConcat<double>.name, true},  {kStack<double>.name, true},     {kSlice<double>.name, true},
    {kReshape<double>.name, true}, {kTranspose<double>.name, true}, {kDetach<double>.name, false},
};
std::span<const OpInfo> shape_ops() {
  return kShapeOps;
}
}  // namespace detail

}  // namespace rwd
