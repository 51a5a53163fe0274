// RMSprop's update rule.
#include "rewind/optim/rmsprop.hpp"

#include <cmath>
#include <utility>

#include "rewind/ops/kernels/kernels.hpp"

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
  detail::RmspropUpdate<T> u{};
  u.n = p.numel();
  u.w = p.value().data();
  u.grad = p.grad().data();
  u.square_avg = this->state(square_avg_, index).data();
  u.grad_avg = options_.centered ? this->state(grad_avg_, index).data() : nullptr;
  u.buffer = options_.momentum > 0 ? this->state(momentum_buffer_, index).data() : nullptr;
  u.lr = lr;
  u.alpha = alpha;
  u.eps = eps;
  u.weight_decay = wd;
  u.momentum = momentum;
  u.decay = options_.weight_decay != 0;
  detail::kernels<T>().rmsprop(u);  // the loop: ops/kernels/optim_body.hpp
}

template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace rwd
