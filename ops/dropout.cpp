// dropout: forward draws a mask, backward applies the same mask.
#include "rewind/ops/dropout.hpp"

#include <fmt/format.h>

#include <cmath>

#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

template <Scalar T>
struct DropoutAttrs {
  const T* mask;  // [numel] in the graph's arena, each element 0 or 1/(1-p)
  double p;
};

// y = x * m;  dx += dy * m
template <Scalar T>
void dropout_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* mask = b.template attrs<DropoutAttrs<T>>().mask;
    const T* dy = b.dy();
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] += dy[i] * mask[i];
  }
}

template <Scalar T>
const OpDef<T> kDropout{"dropout", &dropout_backward<T>};

}  // namespace

template <Scalar T>
Var<T> dropout(Var<T> x, double p, bool train, Generator& gen) {
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError(fmt::format("dropout: probability p = {} is not in [0, 1]", p));
  Graph<T>& g = graph_of("dropout", {x});
  if (!train || p == 0.0) return x;
  const Node<T>& n = g.node(x.id());
  const int64_t count = n.shape.numel();
  T* mask = g.template allocate<T>(size_t(std::max<int64_t>(count, 1)));
  const T keep_scale = p < 1.0 ? T(1.0 / (1.0 - p)) : T(0);
  for (int64_t i = 0; i < count; ++i) mask[i] = gen.uniform() < p ? T(0) : keep_scale;
  const T* xv = n.value;
  const Shape shape = n.shape;
  auto [y, out] = g.record(kDropout<T>, {x}, shape, DropoutAttrs<T>{mask, p});
  for (int64_t i = 0; i < count; ++i) out[i] = xv[i] * mask[i];
  return y;
}

template Var<float> dropout(Var<float>, double, bool, Generator&);
template Var<double> dropout(Var<double>, double, bool, Generator&);

namespace detail {
const OpInfo kDropoutOps[] = {{kDropout<double>.name, true}};
std::span<const OpInfo> dropout_ops() {
  return kDropoutOps;
}
}  // namespace detail

}  // namespace rwd
