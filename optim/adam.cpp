// The Adam update, shared by Adam and AdamW.
#include "rewind/optim/adam.hpp"

#include <cmath>
#include <utility>

#include "rewind/ops/kernels/kernels.hpp"

namespace rwd {

template <Scalar T>
Adam<T>::Adam(std::vector<NamedParameter<T>> params, double lr, const AdamOptions& options,
              const GradientOptions& gradient_options)
    : Adam("Adam", std::move(params), lr, options, false, gradient_options) {}

template <Scalar T>
Adam<T>::Adam(const char* name, std::vector<NamedParameter<T>> params, double lr,
              const AdamOptions& options, bool decoupled, const GradientOptions& gradient_options)
    : Optimizer<T>(name, std::move(params), lr, gradient_options),
      options_(options),
      decoupled_(decoupled) {
  const std::string& who = this->name();
  detail::check_option(options.beta1 >= 0 && options.beta1 < 1, who, "beta1", "in [0, 1)",
                       options.beta1);
  detail::check_option(options.beta2 >= 0 && options.beta2 < 1, who, "beta2", "in [0, 1)",
                       options.beta2);
  detail::check_option(options.eps >= 0 && std::isfinite(options.eps), who, "eps",
                       "finite and >= 0", options.eps);
  detail::check_option(options.weight_decay >= 0 && std::isfinite(options.weight_decay), who,
                       "weight_decay", "finite and >= 0", options.weight_decay);
  exp_avg_ = this->add_state("exp_avg");
  exp_avg_sq_ = this->add_state("exp_avg_sq");
  if (options.amsgrad) max_exp_avg_sq_ = this->add_state("max_exp_avg_sq");
}

// Adam: Kingma & Ba 2015, Algorithm 1, in the form of PyTorch's docs (torch.optim.Adam);
// AMSGrad: Reddi et al. 2018, Algorithm 2; AdamW: Loshchilov & Hutter 2019, Algorithm 2
// (torch.optim.AdamW). With t this parameter's step count:
//   p = p * (1 - lr * weight_decay)            AdamW only (decoupled decay)
//   g = grad + weight_decay * p                Adam only (L2), skipped when weight_decay = 0
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_max = max(v_max, v)                      amsgrad; then v_max replaces v below
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// As in PyTorch's implementation, AMSGrad keeps the maximum of the raw v and bias-corrects
// it afterwards.
template <Scalar T>
void Adam<T>::update(size_t index, Parameter<T>& p, int64_t step) {
  const double lr = this->lr();
  const T beta1 = T(options_.beta1);
  const T beta2 = T(options_.beta2);
  const T eps = T(options_.eps);
  const T wd = T(options_.weight_decay);
  const bool l2 = !decoupled_ && options_.weight_decay != 0;
  const T shrink = T(1 - lr * options_.weight_decay);
  const T step_size = T(lr / (1 - std::pow(options_.beta1, double(step))));
  const T bias2_sqrt = T(std::sqrt(1 - std::pow(options_.beta2, double(step))));

  detail::AdamUpdate<T> u{};
  u.n = p.numel();
  u.w = p.value().data();
  u.grad = p.grad().data();
  u.m = this->state(exp_avg_, index).data();
  u.v = this->state(exp_avg_sq_, index).data();
  // AMSGrad's maximum passes a NaN on, as torch.maximum does.
  u.v_max = options_.amsgrad ? this->state(max_exp_avg_sq_, index).data() : nullptr;
  u.beta1 = beta1;
  u.beta2 = beta2;
  u.eps = eps;
  u.weight_decay = wd;
  u.shrink = shrink;
  u.step_size = step_size;
  u.bias2_sqrt = bias2_sqrt;
  u.l2 = l2;
  u.decoupled = decoupled_;
  detail::kernels<T>().adam(u);  // the loop: ops/kernels/optim_body.hpp
}

template <Scalar T>
AdamW<T>::AdamW(std::vector<NamedParameter<T>> params, double lr, const AdamWOptions& options,
                const GradientOptions& gradient_options)
    : Adam<T>("AdamW", std::move(params), lr,
              AdamOptions{options.beta1, options.beta2, options.eps, options.weight_decay,
                          options.amsgrad},
              true, gradient_options) {}

template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;

}  // namespace rwd
