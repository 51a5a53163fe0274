// add, sub, mul, div (broadcast), neg, add_scalar, mul_scalar, square.
#include "rewind/ops/elementwise.hpp"

#include "rewind/ops/broadcast.hpp"
#include "rewind/ops/fusion.hpp"
#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

using detail::Broadcast;
using detail::broadcast_shapes;
using detail::EwOp;
using detail::for_each_broadcast;

// The backward of broadcasts that are not over rows and columns (the *General ops below).
// The broadcast is recomputed from the input shapes (cheap), so nodes carry no extra data.
template <Scalar T>
Broadcast node_broadcast(const Backward<T>& b) {
  return broadcast_shapes(b.node().op->name, b.x_shape(0), b.x_shape(1));
}

// y = a + b;  da += dy,  db += dy  (each summed over its broadcast dims)
template <Scalar T>
void add_backward(const Backward<T>& b) {
  const Broadcast bc = node_broadcast(b);
  const T* dy = b.dy();
  if (T* da = b.dx(0))
    for_each_broadcast(bc, [&](int64_t o, int64_t i, int64_t) { da[i] += dy[o]; });
  if (T* db = b.dx(1))
    for_each_broadcast(bc, [&](int64_t o, int64_t, int64_t j) { db[j] += dy[o]; });
}

// y = a - b;  da += dy,  db -= dy
template <Scalar T>
void sub_backward(const Backward<T>& b) {
  const Broadcast bc = node_broadcast(b);
  const T* dy = b.dy();
  if (T* da = b.dx(0))
    for_each_broadcast(bc, [&](int64_t o, int64_t i, int64_t) { da[i] += dy[o]; });
  if (T* db = b.dx(1))
    for_each_broadcast(bc, [&](int64_t o, int64_t, int64_t j) { db[j] -= dy[o]; });
}

// y = a * b;  da += dy * b,  db += dy * a
template <Scalar T>
void mul_backward(const Backward<T>& b) {
  const Broadcast bc = node_broadcast(b);
  const T* dy = b.dy();
  const T* av = b.x(0);
  const T* bv = b.x(1);
  if (T* da = b.dx(0))
    for_each_broadcast(bc, [&](int64_t o, int64_t i, int64_t j) { da[i] += dy[o] * bv[j]; });
  if (T* db = b.dx(1))
    for_each_broadcast(bc, [&](int64_t o, int64_t i, int64_t j) { db[j] += dy[o] * av[i]; });
}

// y = a / b;  da += dy / b,  db -= dy * y / b
template <Scalar T>
void div_backward(const Backward<T>& b) {
  const Broadcast bc = node_broadcast(b);
  const T* dy = b.dy();
  const T* y = b.y();
  const T* bv = b.x(1);
  if (T* da = b.dx(0))
    for_each_broadcast(bc, [&](int64_t o, int64_t i, int64_t j) { da[i] += dy[o] / bv[j]; });
  if (T* db = b.dx(1))
    for_each_broadcast(bc, [&](int64_t o, int64_t, int64_t j) { db[j] -= dy[o] * y[o] / bv[j]; });
}

// Elementwise ops run as instructions of fused regions (ops/fusion.cpp), fused or alone;
// their formulas are in ops/kernels/fusion_body.hpp:
//   add  y = a + b;  da += dy,  db += dy        (each summed over its broadcast dims)
//   sub  y = a - b;  da += dy,  db -= dy
//   mul  y = a * b;  da += dy b,  db += dy a
//   div  y = a / b;  da += dy / b,  db -= dy y / b
//   neg  y = -x;  dx -= dy          add_scalar  y = x + s;  dx += dy
//   mul_scalar  y = x s;  dx += dy s          square  y = x²;  dx += 2 x dy
// A broadcast that is not over rows and columns ([T, 1, H] against [T, B, H]) runs the
// strided loops below instead, as the *General ops.
template <Scalar T>
const OpDef<T> kAdd{"add", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kSub{"sub", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kMul{"mul", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kDiv{"div", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kNeg{"neg", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kAddScalar{"add_scalar", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kMulScalar{"mul_scalar", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kSquare{"square", &detail::elementwise_backward<T>};
template <Scalar T>
const OpDef<T> kAddGeneral{"add", &add_backward<T>};
template <Scalar T>
const OpDef<T> kSubGeneral{"sub", &sub_backward<T>};
template <Scalar T>
const OpDef<T> kMulGeneral{"mul", &mul_backward<T>};
template <Scalar T>
const OpDef<T> kDivGeneral{"div", &div_backward<T>};

template <Scalar T, class F>
Var<T> binary(const OpDef<T>& op, const OpDef<T>& general, detail::EwOp code, Var<T> a, Var<T> b,
              F f) {
  Graph<T>& g = graph_of(op.name, {a, b});
  const Node<T>& na = g.node(a.id());
  const Node<T>& nb = g.node(b.id());
  const Broadcast bc = broadcast_shapes(op.name, na.shape, nb.shape);
  if (detail::fits_rows(bc.out, na.shape) && detail::fits_rows(bc.out, nb.shape))
    return detail::record_elementwise(g, op, code, {a, b}, bc.out);
  const T* av = na.value;
  const T* bv = nb.value;
  auto [y, out] = g.record(general, {a, b}, bc.out);
  // Clang before 16 (clang-tidy 14 included) cannot capture a structured binding: copy it.
  for_each_broadcast(bc,
                     [&, dst = out](int64_t o, int64_t i, int64_t j) { dst[o] = f(av[i], bv[j]); });
  return y;
}

}  // namespace

template <Scalar T>
Var<T> add(Var<T> a, Var<T> b) {
  return binary(kAdd<T>, kAddGeneral<T>, EwOp::kAdd, a, b, [](T p, T q) { return p + q; });
}
template <Scalar T>
Var<T> sub(Var<T> a, Var<T> b) {
  return binary(kSub<T>, kSubGeneral<T>, EwOp::kSub, a, b, [](T p, T q) { return p - q; });
}
template <Scalar T>
Var<T> mul(Var<T> a, Var<T> b) {
  return binary(kMul<T>, kMulGeneral<T>, EwOp::kMul, a, b, [](T p, T q) { return p * q; });
}
template <Scalar T>
Var<T> div(Var<T> a, Var<T> b) {
  return binary(kDiv<T>, kDivGeneral<T>, EwOp::kDiv, a, b, [](T p, T q) { return p / q; });
}
template <Scalar T>
Var<T> neg(Var<T> x) {
  return detail::record_unary_elementwise(kNeg<T>, EwOp::kNeg, x);
}
template <Scalar T>
Var<T> add_scalar(Var<T> x, T s) {
  return detail::record_unary_elementwise(kAddScalar<T>, EwOp::kAddScalar, x, s);
}
template <Scalar T>
Var<T> mul_scalar(Var<T> x, T s) {
  return detail::record_unary_elementwise(kMulScalar<T>, EwOp::kMulScalar, x, s);
}
template <Scalar T>
Var<T> square(Var<T> x) {
  return detail::record_unary_elementwise(kSquare<T>, EwOp::kSquare, x);
}

#define REWIND_INSTANTIATE(T)            \
  template Var<T> add(Var<T>, Var<T>);   \
  template Var<T> sub(Var<T>, Var<T>);   \
  template Var<T> mul(Var<T>, Var<T>);   \
  template Var<T> div(Var<T>, Var<T>);   \
  template Var<T> neg(Var<T>);           \
  template Var<T> add_scalar(Var<T>, T); \
  template Var<T> mul_scalar(Var<T>, T); \
  template Var<T> square(Var<T>);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

namespace detail {
const OpInfo kElementwiseOps[] = {
    {kAdd<double>.name, true},       {kSub<double>.name, true},    {kMul<double>.name, true},
    {kDiv<double>.name, true},       {kNeg<double>.name, true},    {kAddScalar<double>.name, true},
    {kMulScalar<double>.name, true}, {kSquare<double>.name, true},
};
std::span<const OpInfo> elementwise_ops() {
  return kElementwiseOps;
}
}  // namespace detail

}  // namespace rwd
