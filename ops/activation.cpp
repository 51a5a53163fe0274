// sigmoid, tanh, relu, exp, log: forward and backward. sigmoid, tanh and exp use their own
// output in backward, so they keep nothing extra.
#include "rewind/ops/activation.hpp"

#include <cmath>

#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/registry.hpp"
#include "rewind/ops/unary.hpp"

namespace rwd {
namespace {

// y = sigmoid(x);  dx += dy * y * (1 - y)
template <Scalar T>
void sigmoid_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    const T* y = b.y();
    detail::kernels<T>().sigmoid_grad(dx, dy, y, b.numel());
  }
}

// y = tanh(x);  dx += dy * (1 - y^2)
template <Scalar T>
void tanh_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    const T* y = b.y();
    detail::kernels<T>().tanh_grad(dx, dy, y, b.numel());
  }
}

// y = max(x, 0);  dx += dy * [x > 0]
template <Scalar T>
void relu_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    const T* x = b.x(0);
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] += x[i] > T(0) ? dy[i] : T(0);
  }
}

// y = exp(x);  dx += dy * y
template <Scalar T>
void exp_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    const T* y = b.y();
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] += dy[i] * y[i];
  }
}

// y = log(x);  dx += dy / x
template <Scalar T>
void log_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    const T* x = b.x(0);
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] += dy[i] / x[i];
  }
}

template <Scalar T>
const OpDef<T> kSigmoid{"sigmoid", &sigmoid_backward<T>};
template <Scalar T>
const OpDef<T> kTanh{"tanh", &tanh_backward<T>};
template <Scalar T>
const OpDef<T> kRelu{"relu", &relu_backward<T>};
template <Scalar T>
const OpDef<T> kExp{"exp", &exp_backward<T>};
template <Scalar T>
const OpDef<T> kLog{"log", &log_backward<T>};

// Records a same-shape node and fills it with a whole-array kernel (vectorized for float).
template <Scalar T, class Kernel>
Var<T> record_kernel(const OpDef<T>& op, Var<T> x, Kernel kernel) {
  Graph<T>& g = graph_of(op.name, {x});
  const T* xv = g.node(x.id()).value;
  const Shape shape = g.node(x.id()).shape;
  auto [y, out] = g.record(op, {x}, shape);
  const int64_t n = shape.numel();
  kernel(xv, out, n);
  return y;
}

}  // namespace

template <Scalar T>
Var<T> sigmoid(Var<T> x) {
  return record_kernel(kSigmoid<T>, x,
                       [](const T* in, T* out, int64_t n) { detail::sigmoid_kernel(in, out, n); });
}
template <Scalar T>
Var<T> tanh(Var<T> x) {
  return record_kernel(kTanh<T>, x,
                       [](const T* in, T* out, int64_t n) { detail::tanh_kernel(in, out, n); });
}
template <Scalar T>
Var<T> relu(Var<T> x) {
  return record_unary(kRelu<T>, x, [](T v) { return v > T(0) ? v : T(0); });
}
template <Scalar T>
Var<T> exp(Var<T> x) {
  return record_unary(kExp<T>, x, [](T v) { return std::exp(v); });
}
template <Scalar T>
Var<T> log(Var<T> x) {
  return record_unary(kLog<T>, x, [](T v) { return std::log(v); });
}

#define REWIND_INSTANTIATE(T)      \
  template Var<T> sigmoid(Var<T>); \
  template Var<T> tanh(Var<T>);    \
  template Var<T> relu(Var<T>);    \
  template Var<T> exp(Var<T>);     \
  template Var<T> log(Var<T>);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

namespace detail {
const OpInfo kActivationOps[] = {
    {kSigmoid<double>.name, true}, {kTanh<double>.name, true}, {kRelu<double>.name, true},
    {kExp<double>.name, true},     {kLog<double>.name, true},
};
std::span<const OpInfo> activation_ops() {
  return kActivationOps;
}
}  // namespace detail

}  // namespace rwd
