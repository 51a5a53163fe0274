// sum, mean (all or along an axis), softmax, log_softmax: forward and backward.
// Float sums accumulate in double so long reductions stay accurate.
#include "rewind/ops/reduce.hpp"

#include <fmt/format.h>

#include <cmath>

#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

// sum's and mean's attributes.
struct ReduceAttrs {
  int axis;      // or -1 for all elements
  double scale;  // 1 for sum, 1/count for mean
};
// softmax's and log_softmax's attribute.
struct SoftmaxAttrs {
  int axis;
};

// y = scale * sum_axis x;  dx += scale * dy (broadcast back along the axis)
template <Scalar T>
void reduce_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const auto& attrs = b.template attrs<ReduceAttrs>();
  const T scale = T(attrs.scale);
  const T* dy = b.dy();
  const int axis = attrs.axis;
  if (axis < 0) {
    const T g = dy[0] * scale;
    const int64_t n = b.x_shape(0).numel();
    for (int64_t i = 0; i < n; ++i) dx[i] += g;
    return;
  }
  const AxisSplit s = split_at_axis(b.x_shape(0), axis);
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t k = 0; k < s.n; ++k) {
      T* d = dx + (o * s.n + k) * s.inner;
      const T* g = dy + o * s.inner;
      for (int64_t i = 0; i < s.inner; ++i) d[i] += g[i] * scale;
    }
}

// y = softmax(x) along axis;  dx += y * (dy - sum_axis(dy * y))
template <Scalar T>
void softmax_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const AxisSplit s = split_at_axis(b.shape(), b.template attrs<SoftmaxAttrs>().axis);
  const T* y = b.y();
  const T* dy = b.dy();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      const int64_t base = o * s.n * s.inner + i;
      double dot = 0;
      for (int64_t k = 0; k < s.n; ++k)
        dot += double(dy[base + k * s.inner]) * y[base + k * s.inner];
      for (int64_t k = 0; k < s.n; ++k) {
        const int64_t at = base + k * s.inner;
        dx[at] += y[at] * (dy[at] - T(dot));
      }
    }
}

// y = log_softmax(x) along axis;  dx += dy - exp(y) * sum_axis(dy)
template <Scalar T>
void log_softmax_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const AxisSplit s = split_at_axis(b.shape(), b.template attrs<SoftmaxAttrs>().axis);
  const T* y = b.y();
  const T* dy = b.dy();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      const int64_t base = o * s.n * s.inner + i;
      double total = 0;
      for (int64_t k = 0; k < s.n; ++k) total += dy[base + k * s.inner];
      for (int64_t k = 0; k < s.n; ++k) {
        const int64_t at = base + k * s.inner;
        dx[at] += dy[at] - std::exp(y[at]) * T(total);
      }
    }
}

template <Scalar T>
const OpDef<T> kSum{"sum", &reduce_backward<T>};
template <Scalar T>
const OpDef<T> kMean{"mean", &reduce_backward<T>};
template <Scalar T>
const OpDef<T> kSoftmax{"softmax", &softmax_backward<T>};
template <Scalar T>
const OpDef<T> kLogSoftmax{"log_softmax", &log_softmax_backward<T>};

template <Scalar T>
Var<T> reduce_all(const OpDef<T>& op, Var<T> x, bool is_mean) {
  Graph<T>& g = graph_of(op.name, {x});
  const Node<T>& n = g.node(x.id());
  const int64_t count = n.shape.numel();
  const T* xv = n.value;
  double total = 0;
  for (int64_t i = 0; i < count; ++i) total += xv[i];
  const double scale = is_mean ? (count > 0 ? 1.0 / double(count) : 0.0) : 1.0;
  auto [y, out] = g.record(op, {x}, Shape{}, ReduceAttrs{-1, scale});
  out[0] = T(is_mean && count == 0 ? NAN : total * scale);
  return y;
}

template <Scalar T>
Var<T> reduce_axis(const OpDef<T>& op, Var<T> x, int axis, bool keepdim, bool is_mean) {
  Graph<T>& g = graph_of(op.name, {x});
  const Node<T>& n = g.node(x.id());
  const int a = n.shape.normalize_axis(axis, op.name);
  const AxisSplit s = split_at_axis(n.shape, a);
  const double scale = is_mean ? (s.n > 0 ? 1.0 / double(s.n) : NAN) : 1.0;
  const Shape out_shape = keepdim ? n.shape.with_dim(a, 1) : n.shape.without_dim(a);
  const T* xv = n.value;
  auto [y, out] = g.record(op, {x}, out_shape, ReduceAttrs{a, scale});
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      double total = 0;
      for (int64_t k = 0; k < s.n; ++k) total += xv[(o * s.n + k) * s.inner + i];
      out[o * s.inner + i] = T(total * scale);
    }
  return y;
}

template <Scalar T>
Var<T> softmax_like(const OpDef<T>& op, Var<T> x, int axis, bool log_space) {
  Graph<T>& g = graph_of(op.name, {x});
  const Node<T>& n = g.node(x.id());
  const int a = n.shape.normalize_axis(axis, op.name);
  const AxisSplit s = split_at_axis(n.shape, a);
  const T* xv = n.value;
  const Shape shape = n.shape;
  auto [y, out] = g.record(op, {x}, shape, SoftmaxAttrs{a});
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      const int64_t base = o * s.n * s.inner + i;
      T mx = -INFINITY;
      for (int64_t k = 0; k < s.n; ++k) mx = std::max(mx, xv[base + k * s.inner]);
      if (!std::isfinite(mx)) mx = 0;  // all -inf (or inf/NaN): let the arithmetic say so
      double total = 0;
      for (int64_t k = 0; k < s.n; ++k) total += std::exp(double(xv[base + k * s.inner] - mx));
      if (log_space) {
        // (x - max) - log(total): subtracting the max first keeps float precision.
        const double log_total = std::log(total);
        for (int64_t k = 0; k < s.n; ++k)
          out[base + k * s.inner] = T(double(xv[base + k * s.inner] - mx) - log_total);
      } else {
        for (int64_t k = 0; k < s.n; ++k)
          out[base + k * s.inner] = T(std::exp(double(xv[base + k * s.inner] - mx)) / total);
      }
    }
  return y;
}

}  // namespace

template <Scalar T>
Var<T> sum(Var<T> x) {
  return reduce_all(kSum<T>, x, false);
}
template <Scalar T>
Var<T> sum(Var<T> x, int axis, bool keepdim) {
  return reduce_axis(kSum<T>, x, axis, keepdim, false);
}
template <Scalar T>
Var<T> mean(Var<T> x) {
  return reduce_all(kMean<T>, x, true);
}
template <Scalar T>
Var<T> mean(Var<T> x, int axis, bool keepdim) {
  return reduce_axis(kMean<T>, x, axis, keepdim, true);
}
template <Scalar T>
Var<T> softmax(Var<T> x, int axis) {
  return softmax_like(kSoftmax<T>, x, axis, false);
}
template <Scalar T>
Var<T> log_softmax(Var<T> x, int axis) {
  return softmax_like(kLogSoftmax<T>, x, axis, true);
}

#define REWIND_INSTANTIATE(T)              \
  template Var<T> sum(Var<T>);             \
  template Var<T> sum(Var<T>, int, bool);  \
  template Var<T> mean(Var<T>);            \
  template Var<T> mean(Var<T>, int, bool); \
  template Var<T> softmax(Var<T>, int);    \
  template Var<T> log_softmax(Var<T>, int);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

namespace detail {
const OpInfo kReduceOps[] = {
    {kSum<double>.name, true},
    {kMean<double>.name, true},
    {kSoftmax<double>.name, true},
    {kLogSoftmax<double>.name, true},
};
std::span<const OpInfo> reduce_ops() {
  return kReduceOps;
}
}  // namespace detail

}  // namespace rwd
