// Adam (with the AMSGrad variant) and AdamW, which differ only in how weight decay enters:
// added to the gradient (Adam) or applied to the weights directly (AdamW, decoupled).
#pragma once

#include <vector>

#include "rewind/optim/optimizer.hpp"

namespace rwd {

/// Adam's hyperparameters besides the learning rate (PyTorch's names and defaults).
struct AdamOptions {
  double beta1 = 0.9;       ///< in [0, 1): decay of the first moment
  double beta2 = 0.999;     ///< in [0, 1): decay of the second moment
  double eps = 1e-8;        ///< >= 0: added to the denominator
  double weight_decay = 0;  ///< >= 0: L2 penalty added to the gradient
  bool amsgrad = false;     ///< normalise by the largest second moment so far
};

/// AdamW's hyperparameters: Adam's, with decoupled weight decay (default 1e-2, as PyTorch).
struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  ///< >= 0: p *= 1 - lr * weight_decay before each update
  bool amsgrad = false;
};

/// Adam, as torch.optim.Adam. State: "exp_avg", "exp_avg_sq", and "max_exp_avg_sq" with
/// amsgrad.
template <Scalar T>
class Adam : public Optimizer<T> {
 public:
  /// Throws ValueError for a beta outside [0, 1), a negative eps or weight_decay (and as
  /// Optimizer does).
  Adam(std::vector<NamedParameter<T>> params, double lr, const AdamOptions& options = {},
       const GradientOptions& gradient_options = {});

  /// The hyperparameters; for AdamW, weight_decay is the decoupled one.
  [[nodiscard]] const AdamOptions& options() const { return options_; }
  /// True for AdamW.
  [[nodiscard]] bool decoupled_weight_decay() const { return decoupled_; }

 protected:
  Adam(const char* name, std::vector<NamedParameter<T>> params, double lr,
       const AdamOptions& options, bool decoupled, const GradientOptions& gradient_options);
  void update(size_t index, Parameter<T>& p, int64_t step) override;

 private:
  AdamOptions options_;
  bool decoupled_;
  size_t exp_avg_ = 0;
  size_t exp_avg_sq_ = 0;
  size_t max_exp_avg_sq_ = 0;
};

/// AdamW, as torch.optim.AdamW: Adam with weight decay applied to the weights, not the
/// gradient. Same state keys as Adam.
template <Scalar T>
class AdamW : public Adam<T> {
 public:
  AdamW(std::vector<NamedParameter<T>> params, double lr, const AdamWOptions& options = {},
        const GradientOptions& gradient_options = {});
};

extern template class Adam<float>;
extern template class Adam<double>;
extern template class AdamW<float>;
extern template class AdamW<double>;

}  // namespace rwd
