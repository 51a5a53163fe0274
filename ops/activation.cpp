// sigmoid, tanh, relu, exp, log. sigmoid, tanh and exp use their own output in backward, so
// they keep nothing extra.
#include "rewind/ops/activation.hpp"

#include "rewind/ops/fusion.hpp"
#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

// Each runs as an instruction of fused regions (ops/fusion.cpp), fused or alone; the
// formulas are in ops/kernels/fusion_body.hpp:
//   sigmoid  y = σ(x);  dx += dy y (1 − y)       tanh  y = tanh(x);  dx += dy (1 − y²)
//   relu     y = max(x, 0);  dx += dy [x > 0]    exp   y = eˣ;  dx += dy y
//   log      y = ln x;  dx += dy / x
// σ and tanh use the fast float kernels of ops/kernels/fast_math_body.hpp.
template <Scalar T>
const OpDef<T> kSigmoid{"sigmoid", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kTanh{"tanh", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kRelu{"relu", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kExp{"exp", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kLog{"log", &detail::elementwise_backward<T>};

}  // namespace

template <Scalar T>
Var<T> sigmoid(Var<T> x) {
  return detail::record_unary_elementwise(kSigmoid<T>, detail::EwOp::kSigmoid, x);
}
template <Scalar T>
Var<T> tanh(Var<T> x) {
  return detail::record_unary_elementwise(kTanh<T>, detail::EwOp::kTanh, x);
}
template <Scalar T>
Var<T> relu(Var<T> x) {
  return detail::record_unary_elementwise(kRelu<T>, detail::EwOp::kRelu, x);
}
template <Scalar T>
Var<T> exp(Var<T> x) {
  return detail::record_unary_elementwise(kExp<T>, detail::EwOp::kExp, x);
}
template <Scalar T>
Var<T> log(Var<T> x) {
  return detail::record_unary_elementwise(kLog<T>, detail::EwOp::kLog, x);
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
