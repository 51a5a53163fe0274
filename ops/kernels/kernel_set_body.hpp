// The KernelSet of one instruction set: every kernel body, instantiated for float and
// double in the namespace of the including translation unit (kernels/{generic,avx2,avx512}.cpp)
// and collected into a table filled at compile time.
#pragma once

#include "rewind/ops/kernels/common_body.hpp"
#include "rewind/ops/kernels/elementwise_body.hpp"
#include "rewind/ops/kernels/fast_math_body.hpp"
#include "rewind/ops/kernels/fusion_body.hpp"
#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/kernels/norm_body.hpp"
#include "rewind/ops/kernels/optim_body.hpp"
#include "rewind/ops/kernels/rnn_pointwise_body.hpp"
#include "rewind/ops/kernels/thin_gemm_body.hpp"

namespace rwd::detail::REWIND_KERNEL_ISA {

template <class T>
constexpr KernelTable<T> table() {
  KernelTable<T> t{};
  t.thin_gemm = &thin_gemm<T>;
  t.sigmoid = [](const T* x, T* y, int64_t n) { sigmoid_kernel(x, y, n); };
  t.tanh = [](const T* x, T* y, int64_t n) { tanh_kernel(x, y, n); };
  t.lstm_forward = &lstm_forward<T>;
  t.lstm_backward = &lstm_backward<T>;
  t.gru_forward = &gru_forward<T>;
  t.gru_backward = &gru_backward<T>;
  t.adam = &adam<T>;
  t.sgd = &sgd<T>;
  t.rmsprop = &rmsprop<T>;
  t.adagrad = &adagrad<T>;
  t.scale = &scale<T>;
  t.clamp = &clamp<T>;
  t.add_into = &add_into<T>;
  t.tanh_grad = &tanh_grad<T>;
  t.sigmoid_grad = &sigmoid_grad<T>;
  t.square_grad = &square_grad<T>;
  t.ew_forward = &ew_forward<T>;
  t.ew_backward = &ew_backward<T>;
  t.layer_norm_forward = &layer_norm_forward<T>;
  t.layer_norm_backward = &layer_norm_backward<T>;
  return t;
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
