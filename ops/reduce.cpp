// sum, mean (all or along an axis), softmax, log_softmax, var, std, logsumexp, max and
// argmax: forward and backward.
// Float sums accumulate in double so long reductions stay accurate.
#include "rewind/ops/reduce.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

// sum's and mean's attributes.
struct ReduceAttrs {
  int axis;      // or -1 for all elements
  double scale;  // 1 for sum, 1/count for mean
};
// softmax's, log_softmax's and logsumexp's attribute.
struct AxisAttrs {
  int axis;
};
// var's and std's attributes.
template <Scalar T>
struct MomentAttrs {
  const T* mean;  // [lanes] in the graph's arena: each lane's mean along the axis
  int axis;
  double dof;  // degrees of freedom: the axis length minus the correction, > 0
};
// max's attribute.
struct MaxAttrs {
  const int64_t* at;  // [lanes] in the graph's arena: where in x each lane's maximum is
};

// Calls f(lane, first) for each lane along the axis split by `s`: its offset in a reduced
// result (o * inner + i, with or without keepdim) and the offset in x of its first element.
// Element k of the lane is at first + k * s.inner.
template <class F>
void for_each_lane(const AxisSplit& s, F&& f) {
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) f(o * s.inner + i, o * s.n * s.inner + i);
}

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
  const AxisSplit s = split_at_axis(b.shape(), b.template attrs<AxisAttrs>().axis);
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
  const AxisSplit s = split_at_axis(b.shape(), b.template attrs<AxisAttrs>().axis);
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

// dx += c(lane) * (x - mean) along each lane: var's and std's backward, which differ in c.
template <Scalar T, class LaneScale>
void centred_backward(const Backward<T>& b, LaneScale&& c) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const auto& attrs = b.template attrs<MomentAttrs<T>>();
  const AxisSplit s = split_at_axis(b.x_shape(0), attrs.axis);
  const T* mean = attrs.mean;  // [lanes]
  const T* x = b.x(0);
  for_each_lane(s, [&](int64_t lane, int64_t first) {
    const T scale = c(lane);
    for (int64_t k = 0; k < s.n; ++k) {
      const int64_t at = first + k * s.inner;
      dx[at] += scale * (x[at] - mean[lane]);
    }
  });
}

// y = sum_axis (x - mean)^2 / dof;  dx += dy * 2 (x - mean) / dof
template <Scalar T>
void var_backward(const Backward<T>& b) {
  const T* dy = b.dy();
  const T dof = T(b.template attrs<MomentAttrs<T>>().dof);
  centred_backward(b, [&](int64_t lane) { return T(2) * dy[lane] / dof; });
}

// y = sqrt(var);  dx += dy * (x - mean) / (dof * y), and 0 where y = 0 (as PyTorch)
template <Scalar T>
void std_backward(const Backward<T>& b) {
  const T* dy = b.dy();
  const T* y = b.y();
  const T dof = T(b.template attrs<MomentAttrs<T>>().dof);
  centred_backward(b,
                   [&](int64_t lane) { return y[lane] == 0 ? T(0) : dy[lane] / (dof * y[lane]); });
}

// y = log sum_axis exp(x);  dx += dy * exp(x - y), the softmax
template <Scalar T>
void logsumexp_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const AxisSplit s = split_at_axis(b.x_shape(0), b.template attrs<AxisAttrs>().axis);
  const T* x = b.x(0);
  const T* y = b.y();
  const T* dy = b.dy();
  for_each_lane(s, [&](int64_t lane, int64_t first) {
    for (int64_t k = 0; k < s.n; ++k) {
      const int64_t at = first + k * s.inner;
      dx[at] += dy[lane] * std::exp(x[at] - y[lane]);
    }
  });
}

// y = max_axis x;  dx[where the lane's first maximum is] += dy
template <Scalar T>
void max_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const int64_t* at = b.template attrs<MaxAttrs>().at;
  const T* dy = b.dy();
  for (int64_t lane = 0; lane < b.numel(); ++lane) dx[at[lane]] += dy[lane];
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
const OpDef<T> kVar{"var", &var_backward<T>};
template <Scalar T>
const OpDef<T> kStd{"std", &std_backward<T>};
template <Scalar T>
const OpDef<T> kLogsumexp{"logsumexp", &logsumexp_backward<T>};
template <Scalar T>
const OpDef<T> kMax{"max", &max_backward<T>};

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
  auto [y, out] = g.record(op, {x}, shape, AxisAttrs{a});
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

// The reduced shape: `axis` removed, or kept with length 1.
Shape reduced(const Shape& s, int axis, bool keepdim) {
  return keepdim ? s.with_dim(axis, 1) : s.without_dim(axis);
}

// var and std: the mean, then the sum of squared deviations (two passes, in double).
template <Scalar T>
Var<T> moment(const OpDef<T>& op, Var<T> x, int axis, int64_t correction, bool keepdim,
              bool take_sqrt) {
  Graph<T>& g = graph_of(op.name, {x});
  const Shape xs = g.node(x.id()).shape;
  const int a = xs.normalize_axis(axis, op.name);
  const AxisSplit s = split_at_axis(xs, a);
  const int64_t dof = s.n - correction;
  if (dof <= 0)
    throw ValueError(fmt::format(
        "{}: correction {} leaves {} degrees of freedom along axis {} of length {} (x of shape "
        "{}); at least 1 is needed",
        op.name, correction, dof, a, s.n, xs.str()));
  const T* xv = g.node(x.id()).value;
  T* mean = g.template allocate<T>(size_t(std::max<int64_t>(s.outer * s.inner, 1)));
  auto [y, out] = g.record(op, {x}, reduced(xs, a, keepdim), MomentAttrs<T>{mean, a, double(dof)});
  for_each_lane(s, [&, dst = out](int64_t lane, int64_t first) {
    double total = 0;
    for (int64_t k = 0; k < s.n; ++k) total += xv[first + k * s.inner];
    const double m = total / double(s.n);
    double squares = 0;
    for (int64_t k = 0; k < s.n; ++k) {
      const double d = double(xv[first + k * s.inner]) - m;
      squares += d * d;
    }
    mean[lane] = T(m);
    dst[lane] = T(take_sqrt ? std::sqrt(squares / double(dof)) : squares / double(dof));
  });
  return y;
}

// Position along a lane of its first maximal element. A NaN counts as maximal, so the first
// NaN wins (PyTorch's max propagates NaN the same way).
template <Scalar T>
int64_t lane_argmax(const T* first, int64_t n, int64_t stride) {
  int64_t best = 0;
  for (int64_t k = 1; k < n && !std::isnan(first[best * stride]); ++k) {
    const T v = first[k * stride];
    if (v > first[best * stride] || std::isnan(v)) best = k;
  }
  return best;
}

// The axis of x's shape for max and argmax, which must not be empty.
int max_axis(const Shape& xs, int axis, const char* op) {
  const int a = xs.normalize_axis(axis, op);
  if (xs[a] == 0)
    throw ShapeError(fmt::format(
        "{}: axis {} of x of shape {} is empty; the maximum of no elements is undefined", op, a,
        xs.str()));
  return a;
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

template <Scalar T>
Var<T> var(Var<T> x, int axis, int64_t correction, bool keepdim) {
  return moment(kVar<T>, x, axis, correction, keepdim, false);
}
template <Scalar T>
Var<T> std(Var<T> x, int axis, int64_t correction, bool keepdim) {
  return moment(kStd<T>, x, axis, correction, keepdim, true);
}

template <Scalar T>
Var<T> logsumexp(Var<T> x, int axis, bool keepdim) {
  Graph<T>& g = graph_of("logsumexp", {x});
  const Shape xs = g.node(x.id()).shape;
  const int a = xs.normalize_axis(axis, "logsumexp");
  const AxisSplit s = split_at_axis(xs, a);
  const T* xv = g.node(x.id()).value;
  auto [y, out] = g.record(kLogsumexp<T>, {x}, reduced(xs, a, keepdim), AxisAttrs{a});
  for_each_lane(s, [&, dst = out](int64_t lane, int64_t first) {
    T mx = -INFINITY;
    for (int64_t k = 0; k < s.n; ++k) mx = std::max(mx, xv[first + k * s.inner]);
    if (!std::isfinite(mx)) mx = 0;  // all -inf (or inf/NaN): let the arithmetic say so
    double total = 0;
    for (int64_t k = 0; k < s.n; ++k) total += std::exp(double(xv[first + k * s.inner] - mx));
    dst[lane] = T(double(mx) + std::log(total));
  });
  return y;
}

template <Scalar T>
Var<T> max(Var<T> x, int axis, bool keepdim) {
  Graph<T>& g = graph_of("max", {x});
  const Shape xs = g.node(x.id()).shape;
  const int a = max_axis(xs, axis, "max");
  const AxisSplit s = split_at_axis(xs, a);
  const T* xv = g.node(x.id()).value;
  auto* at = g.template allocate<int64_t>(size_t(std::max<int64_t>(s.outer * s.inner, 1)));
  auto [y, out] = g.record(kMax<T>, {x}, reduced(xs, a, keepdim), MaxAttrs{at});
  for_each_lane(s, [&, dst = out](int64_t lane, int64_t first) {
    at[lane] = first + lane_argmax(xv + first, s.n, s.inner) * s.inner;
    dst[lane] = xv[at[lane]];
  });
  return y;
}

template <Scalar T>
Indices argmax(Var<T> x, int axis, bool keepdim) {
  Graph<T>& g = graph_of("argmax", {x});
  const Shape xs = g.node(x.id()).shape;
  const int a = max_axis(xs, axis, "argmax");
  const AxisSplit s = split_at_axis(xs, a);
  const T* xv = g.node(x.id()).value;
  std::vector<int64_t> index(size_t(s.outer * s.inner));
  for_each_lane(s, [&](int64_t lane, int64_t first) {
    index[size_t(lane)] = lane_argmax(xv + first, s.n, s.inner);
  });
  return {reduced(xs, a, keepdim), std::move(index)};
}

#define REWIND_INSTANTIATE(T)                      \
  template Var<T> sum(Var<T>);                     \
  template Var<T> sum(Var<T>, int, bool);          \
  template Var<T> mean(Var<T>);                    \
  template Var<T> mean(Var<T>, int, bool);         \
  template Var<T> softmax(Var<T>, int);            \
  template Var<T> log_softmax(Var<T>, int);        \
  template Var<T> var(Var<T>, int, int64_t, bool); \
  template Var<T> std(Var<T>, int, int64_t, bool); \
  template Var<T> logsumexp(Var<T>, int, bool);    \
  template Var<T> max(Var<T>, int, bool);          \
  template Indices argmax(Var<T>, int, bool);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

namespace detail {
const OpInfo kReduceOps[] = {
    {kSum<double>.name, true},
    {kMean<double>.name, true},
    {kSoftmax<double>.name, true},
    {kLogSoftmax<double>.name, true},
    {kVar<double>.name, true},
    {kStd<double>.name, true},
    {kLogsumexp<double>.name, true},
    {kMax<double>.name, true},
    {"argmax", false},  // records nothing: indices, no gradient
};
std::span<const OpInfo> reduce_ops() {
  return kReduceOps;
}
}  // namespace detail

}  // namespace rwd
