// RMSprop's update rule.
#include "rewind/optim/rmsprop.hpp"

#include <cmath>
#include <utility>

namespace rwd {

template <Scalar T>
RMSprop<T>::RMSprop(std::vector<NamedParameter<T>> params, double lr, const RmspropOptions& options,
                    const GradientOptions& gradient_options)
    : Optimizer<T>("RMSprop", std::move(params), lr, gradient_options), options_(options) {
  const std::string& who = this->name();
  detail::check_option(options.alpha >= 0 && options.alpha <= 1, who, "alpha", "in [0, 1]",
                       options.alpha);
  detail::check_option(options.eps >= 0 && std::isfinite(options.eps), who, "eps",
                       "finite and >= 0", options.eps);
  detail::check_option(options.weight_decay >= 0 && std::isfinite(options.weight_decay), who,
                       "weight_decay", "finite and >= 0", options.weight_decay);
  detail::check_option(options.momentum >= 0 && std::isfinite(options.momentum), who, "momentum",
                       "finite and >= 0", options.momentum);
  square_avg_ = this->add_state("square_avg");
  if (options.momentum > 0) momentum_buffer_ = this->add_state("momentum_buffer");
  if (options.centered) grad_avg_ = this->add_state("grad_avg");
}

// RMSprop: Tieleman & Hinton 2012 (Lecture 6.5); the centered variant from Graves 2013
// ("Generating Sequences With Recurrent Neural Networks"); in the form of PyTorch's docs
// (torch.optim.RMSprop):
//   g = grad + weight_decay * p               skipped when weight_decay = 0
//   v = alpha * v + (1 - alpha) * g^2
//   a = alpha * a + (1 - alpha) * g           centered only
//   d = sqrt(v - a^2) + eps   (centered)   or   d = sqrt(v) + eps
//   b = momentum * b + g / d;  p = p - lr * b        when momentum > 0
//   p = p - lr * g / d                               otherwise
template <Scalar T>
void RMSprop<T>::update(size_t index, Parameter<T>& p, int64_t /*step*/) {
  const T lr = T(this->lr());
  const T alpha = T(options_.alpha);
  const T eps = T(options_.eps);
  const T wd = T(options_.weight_decay);
  const T momentum = T(options_.momentum);
  const bool decay = options_.weight_decay != 0;
  T* w = p.value().data();
  const T* grad = p.grad().data();
  T* v = this->state(square_avg_, index).data();
  T* a = options_.centered ? this->state(grad_avg_, index).data() : nullptr;
  T* b = options_.momentum > 0 ? this->state(momentum_buffer_, index).data() : nullptr;
  const int64_t n = p.numel();
  for (int64_t i = 0; i < n; ++i) {
    const T g = decay ? grad[i] + wd * w[i] : grad[i];
    v[i] = alpha * v[i] + (1 - alpha) * g * g;
    T d;
    if (a != nullptr) {
      a[i] = alpha * a[i] + (1 - alpha) * g;
      d = std::sqrt(v[i] - a[i] * a[i]) + eps;
    } else {
      d = std::sqrt(v[i]) + eps;
    }
    if (b != nullptr) {
      b[i] = momentum * b[i] + g / d;
      w[i] -= lr * b[i];
    } else {
      w[i] -= lr * g / d;
    }
  }
}

template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace rwd
