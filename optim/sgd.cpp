// SGD's update rule.
#include "rewind/optim/sgd.hpp"

#include <cmath>
#include <utility>

#include "rewind/ops/kernels/kernels.hpp"

namespace rwd {

template <Scalar T>
SGD<T>::SGD(std::vector<NamedParameter<T>> params, double lr, const SgdOptions& options,
            const GradientOptions& gradient_options)
    : Optimizer<T>("SGD", std::move(params), lr, gradient_options), options_(options) {
  const std::string& who = this->name();
  detail::check_option(options.momentum >= 0 && std::isfinite(options.momentum), who, "momentum",
                       "finite and >= 0", options.momentum);
  detail::check_option(options.dampening >= 0 && options.dampening <= 1, who, "dampening",
                       "in [0, 1]", options.dampening);
  detail::check_option(options.weight_decay >= 0 && std::isfinite(options.weight_decay), who,
                       "weight_decay", "finite and >= 0", options.weight_decay);
  detail::check_option(!options.nesterov || options.momentum > 0, who, "momentum (with nesterov)",
                       "> 0", options.momentum);
  detail::check_option(!options.nesterov || options.dampening == 0, who,
                       "dampening (with nesterov)", "0", options.dampening);
  if (options.momentum > 0) momentum_buffer_ = this->add_state("momentum_buffer");
}

// torch.optim.SGD (PyTorch docs' algorithm box); momentum as in Sutskever et al. 2013:
//   g = grad + weight_decay * p
//   b = g                                    on the first step
//   b = momentum * b + (1 - dampening) * g   afterwards
//   g = g + momentum * b   (nesterov)   or   g = b
//   p = p - lr * g
template <Scalar T>
void SGD<T>::update(size_t index, Parameter<T>& p, int64_t step) {
  const T lr = T(this->lr());
  const T wd = T(options_.weight_decay);
  const T momentum = T(options_.momentum);
  const T keep = T(1 - options_.dampening);
  detail::SgdUpdate<T> u{};
  u.n = p.numel();
  u.w = p.value().data();
  u.grad = p.grad().data();
  u.buffer = options_.momentum == 0 ? nullptr : this->state(momentum_buffer_, index).data();
  u.lr = lr;
  u.weight_decay = wd;
  u.momentum = momentum;
  u.keep = keep;
  u.decay = options_.weight_decay != 0;  // skipped at 0, so an Inf weight stays Inf
  u.first_step = step == 1;
  u.nesterov = options_.nesterov;
  detail::kernels<T>().sgd(u);  // the loop: ops/kernels/optim_body.hpp
}

template class SGD<float>;
template class SGD<double>;

}  // namespace rwd
