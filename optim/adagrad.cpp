// Adagrad's update rule.
#include "rewind/optim/adagrad.hpp"

#include <cmath>
#include <utility>

#include "rewind/ops/kernels/kernels.hpp"

namespace rwd {

template <Scalar T>
Adagrad<T>::Adagrad(std::vector<NamedParameter<T>> params, double lr, const AdagradOptions& options,
                    const GradientOptions& gradient_options)
    : Optimizer<T>("Adagrad", std::move(params), lr, gradient_options), options_(options) {
  const std::string& who = this->name();
  detail::check_option(options.lr_decay >= 0 && std::isfinite(options.lr_decay), who, "lr_decay",
                       "finite and >= 0", options.lr_decay);
  detail::check_option(options.weight_decay >= 0 && std::isfinite(options.weight_decay), who,
                       "weight_decay", "finite and >= 0", options.weight_decay);
  detail::check_option(
      options.initial_accumulator_value >= 0 && std::isfinite(options.initial_accumulator_value),
      who, "initial_accumulator_value", "finite and >= 0", options.initial_accumulator_value);
  detail::check_option(options.eps >= 0 && std::isfinite(options.eps), who, "eps",
                       "finite and >= 0", options.eps);
  sum_ = this->add_state("sum", T(options.initial_accumulator_value));
}

// Adagrad: Duchi et al. 2011, the diagonal update of section 1.1, in the form of PyTorch's
// docs (torch.optim.Adagrad). With t this parameter's step count:
//   lr_t = lr / (1 + (t - 1) * lr_decay)
//   g = grad + weight_decay * p               skipped when weight_decay = 0
//   s = s + g^2
//   p = p - lr_t * g / (sqrt(s) + eps)
template <Scalar T>
void Adagrad<T>::update(size_t index, Parameter<T>& p, int64_t step) {
  const T lr_t = T(this->lr() / (1 + double(step - 1) * options_.lr_decay));
  const T eps = T(options_.eps);
  const T wd = T(options_.weight_decay);
  detail::AdagradUpdate<T> u{};
  u.n = p.numel();
  u.w = p.value().data();
  u.grad = p.grad().data();
  u.sum = this->state(sum_, index).data();
  u.lr = lr_t;
  u.eps = eps;
  u.weight_decay = wd;
  u.decay = options_.weight_decay != 0;
  detail::kernels<T>().adagrad(u);  // the loop: ops/kernels/optim_body.hpp
}

template class Adagrad<float>;
template class Adagrad<double>;

}  // namespace rwd
