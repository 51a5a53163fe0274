// Branch-free float exp, sigmoid and tanh that the compiler vectorizes (no libm calls in
// the loop), to the width of the kernel file that includes them. Used for float activations,
// where std::exp/std::tanh dominated the profile of recurrent training steps. Double keeps
// the libm functions: gradient checks and PyTorch parity need them to the last bit.
//
// exp: Cody-Waite reduction x = n ln2 + r with the degree-6 polynomial of Cephes' expf
// (S. L. Moshier, Cephes Math Library, 1984-2000; error about 1 ulp on the clamped range).
// tanh: Cephes' tanhf odd polynomial for |x| < 0.625, 1 - 2 / (exp(2|x|) + 1) above.
#pragma once

#include <cstdint>

#include "rewind/ops/kernels/common_body.hpp"

namespace rwd::detail::REWIND_KERNEL_ISA {

/// e^x for float, clamped to [-87.3, 88.4] (so results stay normal or large; callers here
/// only use it inside sigmoid and tanh). NaN propagates.
inline float exp_f32(float x) {
  float xc = x > 88.37626f ? 88.37626f : (x < -87.33654f ? -87.33654f : x);
  xc = xc == xc ? xc : 0.0f;  // NaN: compute on 0, return NaN at the end
  // n = round(x / ln2) by the 1.5·2^23 trick (floor() would stop vectorization).
  constexpr float kShifter = 12582912.0f;
  const float shifted = xc * 1.44269504088896341f + kShifter;
  const float n = shifted - kShifter;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r2 + r + 1.0f;
  const int32_t ni = __builtin_bit_cast(int32_t, shifted) - __builtin_bit_cast(int32_t, kShifter);
  const float scale = __builtin_bit_cast(float, (ni + 127) << 23);
  const float out = y * scale;
  return x == x ? out : x;
}

/// 1 / (1 + e^-x)
inline float sigmoid_f32(float x) {
  return 1.0f / (1.0f + exp_f32(-x));
}

inline float tanh_f32(float x) {
  const float ax = __builtin_fabsf(x);
  // Small |x|: odd polynomial, accurate relative to x.
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  // Large |x|: from exp; saturates to ±1.
  const float large = 1.0f - 2.0f / (exp_f32(2.0f * ax) + 1.0f);
  const float signed_large = x < 0.0f ? -large : large;
  const float out = ax < 0.625f ? small : signed_large;
  return x == x ? out : x;
}

/// Elementwise kernels over arrays, in float through the fast functions and in double
/// through libm.
inline void sigmoid_kernel(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = sigmoid_f32(x[i]);
}
inline void sigmoid_kernel(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] >= 0 ? 1.0 / (1.0 + __builtin_exp(-x[i]))
                     : __builtin_exp(x[i]) / (1.0 + __builtin_exp(x[i]));
}
inline void tanh_kernel(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = tanh_f32(x[i]);
}
inline void tanh_kernel(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = __builtin_tanh(x[i]);
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
