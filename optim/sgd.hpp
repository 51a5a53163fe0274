// Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.
#pragma once

#include <vector>

#include "rewind/optim/optimizer.hpp"

namespace rwd {

/// SGD's hyperparameters besides the learning rate (PyTorch's names and defaults).
struct SgdOptions {
  double momentum = 0;      ///< >= 0; 0 keeps no momentum buffer
  double dampening = 0;     ///< in [0, 1]; scales the gradient's share of the momentum buffer
  double weight_decay = 0;  ///< >= 0; L2 penalty added to the gradient
  bool nesterov = false;    ///< needs momentum > 0 and dampening == 0
};

/// Stochastic gradient descent, as torch.optim.SGD. State: "momentum_buffer" when
/// momentum > 0.
template <Scalar T>
class SGD : public Optimizer<T> {
 public:
  /// Throws ValueError for a negative momentum or weight_decay, a dampening outside [0, 1],
  /// or nesterov without momentum or with dampening (and as Optimizer does).
  SGD(std::vector<NamedParameter<T>> params, double lr, const SgdOptions& options = {},
      const GradientOptions& gradient_options = {});

  [[nodiscard]] const SgdOptions& options() const { return options_; }

 protected:
  void update(size_t index, Parameter<T>& p, int64_t step) override;

 private:
  SgdOptions options_;
  size_t momentum_buffer_ = 0;
};

extern template class SGD<float>;
extern template class SGD<double>;

}  // namespace rwd
