// Gradient loops of the elementwise ops that a recurrent training step runs at every time
// step (tanh, sigmoid, square, a bias's or a concat's gradient). The math line of each is
// above the op's backward in ops/*.cpp.
#pragma once

#include <cstdint>

#include "rewind/ops/kernels/common_body.hpp"

namespace rwd::detail::REWIND_KERNEL_ISA {

// dst += src
template <class T>
void add_into(T* dst, const T* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// dx += dy (1 − y²)
template <class T>
void tanh_grad(T* dx, const T* dy, const T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * (T(1) - y[i] * y[i]);
}

// dx += dy y (1 − y)
template <class T>
void sigmoid_grad(T* dx, const T* dy, const T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i] * (T(1) - y[i]);
}

// dx += 2 x dy
template <class T>
void square_grad(T* dx, const T* dy, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] += T(2) * x[i] * dy[i];
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
