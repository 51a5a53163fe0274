// The element loops of the optimizers and of gradient clipping. The formulas, with their
// sources, are above each update() in optim/*.cpp; the loops here compute exactly those
// expressions. Options that do not change within a call are template parameters, so that
// every loop is branch-free and vectorizes.
#pragma once

#include <cstdint>

#include "rewind/ops/kernels/common_body.hpp"
#include "rewind/ops/kernels/kernels.hpp"

namespace rwd::detail::REWIND_KERNEL_ISA {
namespace optim {

template <class T, bool kDecoupled, bool kL2, bool kAmsgrad>
void adam_loop(const AdamUpdate<T>& a) {
  const T beta1 = a.beta1, beta2 = a.beta2, eps = a.eps, wd = a.weight_decay;
  const T shrink = a.shrink, step_size = a.step_size, bias2_sqrt = a.bias2_sqrt;
  T* w = a.w;
  const T* grad = a.grad;
  T* m = a.m;
  T* v = a.v;
  T* v_max = a.v_max;
  for (int64_t i = 0; i < a.n; ++i) {
    if constexpr (kDecoupled) w[i] *= shrink;
    const T g = kL2 ? grad[i] + wd * w[i] : grad[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    T second = v[i];
    if constexpr (kAmsgrad) {  // max that passes a NaN on, as torch.maximum does
      second = v_max[i] >= v[i] ? v_max[i] : v[i];
      v_max[i] = second;
    }
    w[i] -= step_size * m[i] / (sqrt_of(second) / bias2_sqrt + eps);
  }
}

template <class T, bool kDecay>
void sgd_plain_loop(const SgdUpdate<T>& a) {
  const T lr = a.lr, wd = a.weight_decay;
  T* w = a.w;
  const T* grad = a.grad;
  for (int64_t i = 0; i < a.n; ++i) w[i] -= lr * (kDecay ? grad[i] + wd * w[i] : grad[i]);
}

template <class T, bool kDecay, bool kFirst, bool kNesterov>
void sgd_momentum_loop(const SgdUpdate<T>& a) {
  const T lr = a.lr, wd = a.weight_decay, momentum = a.momentum, keep = a.keep;
  T* w = a.w;
  const T* grad = a.grad;
  T* b = a.buffer;
  for (int64_t i = 0; i < a.n; ++i) {
    const T g = kDecay ? grad[i] + wd * w[i] : grad[i];
    b[i] = kFirst ? g : momentum * b[i] + keep * g;
    w[i] -= lr * (kNesterov ? g + momentum * b[i] : b[i]);
  }
}

template <class T, bool kDecay, bool kCentered, bool kMomentum>
void rmsprop_loop(const RmspropUpdate<T>& a) {
  const T lr = a.lr, alpha = a.alpha, eps = a.eps, wd = a.weight_decay, momentum = a.momentum;
  T* w = a.w;
  const T* grad = a.grad;
  T* v = a.square_avg;
  T* avg = a.grad_avg;
  T* b = a.buffer;
  for (int64_t i = 0; i < a.n; ++i) {
    const T g = kDecay ? grad[i] + wd * w[i] : grad[i];
    v[i] = alpha * v[i] + (1 - alpha) * g * g;
    T d;
    if constexpr (kCentered) {
      avg[i] = alpha * avg[i] + (1 - alpha) * g;
      d = sqrt_of(v[i] - avg[i] * avg[i]) + eps;
    } else {
      d = sqrt_of(v[i]) + eps;
    }
    if constexpr (kMomentum) {
      b[i] = momentum * b[i] + g / d;
      w[i] -= lr * b[i];
    } else {
      w[i] -= lr * g / d;
    }
  }
}

template <class T, bool kDecay>
void adagrad_loop(const AdagradUpdate<T>& a) {
  const T lr = a.lr, eps = a.eps, wd = a.weight_decay;
  T* w = a.w;
  const T* grad = a.grad;
  T* s = a.sum;
  for (int64_t i = 0; i < a.n; ++i) {
    const T g = kDecay ? grad[i] + wd * w[i] : grad[i];
    s[i] += g * g;
    w[i] -= lr * g / (sqrt_of(s[i]) + eps);
  }
}

// Calls f.template operator()<b>() with the run-time bool b as a compile-time one.
template <class F>
void with_bool(bool b, F&& f) {
  if (b)
    f.template operator()<true>();
  else
    f.template operator()<false>();
}

}  // namespace optim

template <class T>
void adam(const AdamUpdate<T>& a) {
  using optim::with_bool;
  with_bool(a.decoupled, [&]<bool kDecoupled>() {
    with_bool(a.l2, [&]<bool kL2>() {
      with_bool(a.v_max != nullptr,
                [&]<bool kAmsgrad>() { optim::adam_loop<T, kDecoupled, kL2, kAmsgrad>(a); });
    });
  });
}

template <class T>
void sgd(const SgdUpdate<T>& a) {
  using optim::with_bool;
  if (a.buffer == nullptr) {
    with_bool(a.decay, [&]<bool kDecay>() { optim::sgd_plain_loop<T, kDecay>(a); });
    return;
  }
  with_bool(a.decay, [&]<bool kDecay>() {
    with_bool(a.first_step, [&]<bool kFirst>() {
      with_bool(a.nesterov, [&]<bool kNesterov>() {
        optim::sgd_momentum_loop<T, kDecay, kFirst, kNesterov>(a);
      });
    });
  });
}

template <class T>
void rmsprop(const RmspropUpdate<T>& a) {
  using optim::with_bool;
  with_bool(a.decay, [&]<bool kDecay>() {
    with_bool(a.grad_avg != nullptr, [&]<bool kCentered>() {
      with_bool(a.buffer != nullptr,
                [&]<bool kMomentum>() { optim::rmsprop_loop<T, kDecay, kCentered, kMomentum>(a); });
    });
  });
}

template <class T>
void adagrad(const AdagradUpdate<T>& a) {
  optim::with_bool(a.decay, [&]<bool kDecay>() { optim::adagrad_loop<T, kDecay>(a); });
}

// x *= factor
template <class T>
void scale(T* x, int64_t n, T factor) {
  for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

// x = clamp(x, -c, c); NaN stays NaN (both comparisons are false).
template <class T>
bool clamp(T* x, int64_t n, T c) {
  int changed = 0;  // an int, not a bool: its OR over the lanes vectorizes
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    const bool above = v > c;
    const bool below = v < -c;
    x[i] = above ? c : (below ? -c : v);
    changed |= int(above) | int(below);
  }
  return changed != 0;
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
