// Adagrad: per-element learning rates shrinking with the sum of squared gradients.
#pragma once

#include <vector>

#include "rewind/optim/optimizer.hpp"

namespace rwd {

/// Adagrad's hyperparameters besides the learning rate (PyTorch's names and defaults).
struct AdagradOptions {
  double lr_decay = 0;                   ///< >= 0: lr / (1 + (t - 1) * lr_decay) at step t
  double weight_decay = 0;               ///< >= 0: L2 penalty added to the gradient
  double initial_accumulator_value = 0;  ///< >= 0: the sum's starting value
  double eps = 1e-10;                    ///< >= 0: added to the denominator
};

/// Adagrad, as torch.optim.Adagrad. State: "sum".
template <Scalar T>
class Adagrad : public Optimizer<T> {
 public:
  /// Throws ValueError for a negative lr_decay, weight_decay, initial_accumulator_value or
  /// eps (and as Optimizer does).
  Adagrad(std::vector<NamedParameter<T>> params, double lr, const AdagradOptions& options = {},
          const GradientOptions& gradient_options = {});

  [[nodiscard]] const AdagradOptions& options() const { return options_; }

 protected:
  void update(size_t index, Parameter<T>& p, int64_t step) override;

 private:
  AdagradOptions options_;
  size_t sum_ = 0;
};

extern template class Adagrad<float>;
extern template class Adagrad<double>;

}  // namespace rwd
