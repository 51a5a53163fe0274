// RMSprop, with optional momentum and the centered variant.
#pragma once

#include <vector>

#include "rewind/optim/optimizer.hpp"

namespace rwd {

/// RMSprop's hyperparameters besides the learning rate (PyTorch's names and defaults).
struct RmspropOptions {
  double alpha = 0.99;      ///< in [0, 1]: decay of the squared-gradient average
  double eps = 1e-8;        ///< >= 0: added to the denominator
  double weight_decay = 0;  ///< >= 0: L2 penalty added to the gradient
  double momentum = 0;      ///< >= 0; 0 keeps no momentum buffer
  bool centered = false;    ///< divide by an estimate of the variance, not the raw second moment
};

/// RMSprop, as torch.optim.RMSprop. State: "square_avg"; "momentum_buffer" when
/// momentum > 0; "grad_avg" when centered.
template <Scalar T>
class RMSprop : public Optimizer<T> {
 public:
  /// Throws ValueError for alpha outside [0, 1] or a negative eps, weight_decay or momentum
  /// (and as Optimizer does).
  RMSprop(std::vector<NamedParameter<T>> params, double lr, const RmspropOptions& options = {},
          const GradientOptions& gradient_options = {});

  [[nodiscard]] const RmspropOptions& options() const { return options_; }

 protected:
  void update(size_t index, Parameter<T>& p, int64_t step) override;

 private:
  RmspropOptions options_;
  size_t square_avg_ = 0;
  size_t momentum_buffer_ = 0;
  size_t grad_avg_ = 0;
};

extern template class RMSprop<float>;
extern template class RMSprop<double>;

}  // namespace rwd
