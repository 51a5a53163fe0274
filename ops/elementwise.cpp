// add, sub, mul, div (broadcast), neg, add_scalar, mul_scalar, square: forward and backward.
#include "rewind/ops/elementwise.hpp"

#include "rewind/ops/broadcast.hpp"
#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/registry.hpp"
#include "rewind/ops/unary.hpp"

namespace rwd {
namespace {

// add_scalar's and mul_scalar's attribute: the scalar.
template <Scalar T>
struct ScalarAttrs {
  T s;
};

using detail::Broadcast;
using detail::broadcast_shapes;
using detail::for_each_broadcast;

// The broadcast of a binary node is recomputed in backward from the input shapes (cheap),
// so nodes carry no extra data.
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

// y = -x;  dx -= dy
template <Scalar T>
void neg_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] -= dy[i];
  }
}

// y = x + s;  dx += dy
template <Scalar T>
void add_scalar_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] += dy[i];
  }
}

// y = x * s;  dx += dy * s
template <Scalar T>
void mul_scalar_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    const T s = b.template attrs<ScalarAttrs<T>>().s;
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] += dy[i] * s;
  }
}

// y = x^2;  dx += 2 x dy
template <Scalar T>
void square_backward(const Backward<T>& b) {
  if (T* dx = b.dx(0)) {
    const T* dy = b.dy();
    const T* x = b.x(0);
    detail::kernels<T>().square_grad(dx, dy, x, b.numel());
  }
}

template <Scalar T>
const OpDef<T> kAdd{"add", &add_backward<T>};
template <Scalar T>
const OpDef<T> kSub{"sub", &sub_backward<T>};
template <Scalar T>
const OpDef<T> kMul{"mul", &mul_backward<T>};
template <Scalar T>
const OpDef<T> kDiv{"div", &div_backward<T>};
template <Scalar T>
const OpDef<T> kNeg{"neg", &neg_backward<T>};
template <Scalar T>
const OpDef<T> kAddScalar{"add_scalar", &add_scalar_backward<T>};
template <Scalar T>
const OpDef<T> kMulScalar{"mul_scalar", &mul_scalar_backward<T>};
template <Scalar T>
const OpDef<T> kSquare{"square", &square_backward<T>};

template <Scalar T, class F>
Var<T> binary(const OpDef<T>& op, Var<T> a, Var<T> b, F f) {
  Graph<T>& g = graph_of(op.name, {a, b});
  const Node<T>& na = g.node(a.id());
  const Node<T>& nb = g.node(b.id());
  const Broadcast bc = broadcast_shapes(op.name, na.shape, nb.shape);
  const T* av = na.value;
  const T* bv = nb.value;
  auto [y, out] = g.record(op, {a, b}, bc.out);
  // Clang before 16 (clang-tidy 14 included) cannot capture a structured binding: copy it.
  for_each_broadcast(bc,
                     [&, dst = out](int64_t o, int64_t i, int64_t j) { dst[o] = f(av[i], bv[j]); });
  return y;
}

}  // namespace

template <Scalar T>
Var<T> add(Var<T> a, Var<T> b) {
  return binary(kAdd<T>, a, b, [](T p, T q) { return p + q; });
}
template <Scalar T>
Var<T> sub(Var<T> a, Var<T> b) {
  return binary(kSub<T>, a, b, [](T p, T q) { return p - q; });
}
template <Scalar T>
Var<T> mul(Var<T> a, Var<T> b) {
  return binary(kMul<T>, a, b, [](T p, T q) { return p * q; });
}
template <Scalar T>
Var<T> div(Var<T> a, Var<T> b) {
  return binary(kDiv<T>, a, b, [](T p, T q) { return p / q; });
}
template <Scalar T>
Var<T> neg(Var<T> x) {
  return record_unary(kNeg<T>, x, [](T v) { return -v; });
}
template <Scalar T>
Var<T> add_scalar(Var<T> x, T s) {
  return record_unary(
      kAddScalar<T>, x, [s](T v) { return v + s; }, ScalarAttrs<T>{s});
}
template <Scalar T>
Var<T> mul_scalar(Var<T> x, T s) {
  return record_unary(
      kMulScalar<T>, x, [s](T v) { return v * s; }, ScalarAttrs<T>{s});
}
template <Scalar T>
Var<T> square(Var<T> x) {
  return record_unary(kSquare<T>, x, [](T v) { return v * v; });
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
