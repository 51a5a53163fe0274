// Elementwise arithmetic with broadcasting (NumPy rules; the common cases are a bias row
// over a batch and a scalar), and the operators that spell them.
#pragma once

#include "rewind/core/graph.hpp"

namespace rwd {

/// a + b, broadcast.
template <Scalar T>
Var<T> add(Var<T> a, Var<T> b);
/// a - b, broadcast.
template <Scalar T>
Var<T> sub(Var<T> a, Var<T> b);
/// a * b elementwise, broadcast.
template <Scalar T>
Var<T> mul(Var<T> a, Var<T> b);
/// a / b elementwise, broadcast.
template <Scalar T>
Var<T> div(Var<T> a, Var<T> b);
/// -x
template <Scalar T>
Var<T> neg(Var<T> x);
/// x + s
template <Scalar T>
Var<T> add_scalar(Var<T> x, T s);
/// x * s
template <Scalar T>
Var<T> mul_scalar(Var<T> x, T s);
/// x * x
template <Scalar T>
Var<T> square(Var<T> x);

template <Scalar T>
Var<T> operator+(Var<T> a, Var<T> b) {
  return add(a, b);
}
template <Scalar T>
Var<T> operator-(Var<T> a, Var<T> b) {
  return sub(a, b);
}
template <Scalar T>
Var<T> operator*(Var<T> a, Var<T> b) {
  return mul(a, b);
}
template <Scalar T>
Var<T> operator/(Var<T> a, Var<T> b) {
  return div(a, b);
}
template <Scalar T>
Var<T> operator-(Var<T> x) {
  return neg(x);
}

template <Scalar T>
Var<T> operator+(Var<T> x, std::type_identity_t<T> s) {
  return add_scalar(x, s);
}
template <Scalar T>
Var<T> operator+(std::type_identity_t<T> s, Var<T> x) {
  return add_scalar(x, s);
}
template <Scalar T>
Var<T> operator-(Var<T> x, std::type_identity_t<T> s) {
  return add_scalar(x, T(-s));
}
template <Scalar T>
Var<T> operator-(std::type_identity_t<T> s, Var<T> x) {
  return add_scalar(neg(x), s);
}
template <Scalar T>
Var<T> operator*(Var<T> x, std::type_identity_t<T> s) {
  return mul_scalar(x, s);
}
template <Scalar T>
Var<T> operator*(std::type_identity_t<T> s, Var<T> x) {
  return mul_scalar(x, s);
}
template <Scalar T>
Var<T> operator/(Var<T> x, std::type_identity_t<T> s) {
  return mul_scalar(x, T(1) / s);
}
template <Scalar T>
Var<T> operator/(std::type_identity_t<T> s, Var<T> x) {
  return div(graph_of("div", {x}).scalar(s), x);
}

}  // namespace rwd
