// The Optimizer base: a list of named parameters, the learning rate, what happens to the
// gradients before each update (non-finite policy, clipping), statistics, and per-parameter
// state (moments, step counts) that can be saved and restored as a name -> tensor map.
// Optimizers move, and follow their parameters when the model moves (docs/optim.md, "Moving
// models and optimizers").
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "rewind/core/parameter.hpp"
#include "rewind/core/tensor.hpp"
#include "rewind/core/trackable.hpp"
#include "rewind/optim/clip.hpp"

namespace rwd {

/// An optimizer's state as a checkpoint sees it. Keys are "<buffer>.<parameter name>"
/// ("exp_avg.encoder.weight_ih_l0"), plus "step.<parameter name>" holding that parameter's
/// update count as a rank-0 tensor. docs/optim.md lists the buffers of each optimizer.
template <Scalar T>
using StateDict = std::map<std::string, Tensor<T>>;

template <Scalar T>
class Optimizer : public Trackable<Optimizer<T>> {
 public:
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;

  /// One update of every parameter with requires_grad(), after the gradient pass of
  /// gradient_options(): non-finite check, global-norm clipping, value clipping. Returns
  /// false when the step was skipped (NonFinitePolicy::kSkip met a NaN or Inf; the gradients
  /// are then zero and no parameter or state changed). Throws ValueError under kThrow, with
  /// nothing changed.
  /// step(), zero_grad(), parameters() and load_state_dict() follow parameters that moved
  /// with their model; they throw ValueError naming the parameter when one no longer exists
  /// (its module was destroyed, or overwritten by a move-assignment), ShapeError when one was
  /// assigned a value of another shape, and ValueError on a moved-from optimizer.
  bool step();
  /// Zeroes the gradient of every parameter.
  void zero_grad();

  /// The learning rate used by the next step().
  [[nodiscard]] double lr() const { return lr_; }
  /// Throws ValueError unless lr is finite and >= 0.
  void set_lr(double lr);

  [[nodiscard]] const GradientOptions& gradient_options() const { return gradient_options_; }
  /// Throws ValueError for a negative max_norm or clip_value, or a norm_type not 2 or inf.
  void set_gradient_options(const GradientOptions& options);

  /// Norms seen and clipping done over the steps so far (one gradient pass per step()).
  [[nodiscard]] const GradStats& stats() const { return stats_; }
  /// step() calls that updated the parameters.
  [[nodiscard]] int64_t steps_taken() const { return stats_.calls - stats_.skipped; }
  /// step() calls skipped because of non-finite gradients (kSkip).
  [[nodiscard]] int64_t steps_skipped() const { return stats_.skipped; }

  /// "SGD", "Adam", ...: used in error messages.
  [[nodiscard]] const std::string& name() const { return name_; }
  /// The parameters as given, each pointer where that parameter is now.
  [[nodiscard]] std::span<const NamedParameter<T>> parameters() const;

  /// A copy of the state: every buffer of every parameter, and its step count.
  [[nodiscard]] StateDict<T> state_dict() const;
  /// Replaces the state with `state`, all or nothing: every key is checked first (ValueError
  /// naming a missing or unexpected key, ShapeError naming a key whose shape does not match
  /// its parameter, ValueError for a step count that is not a whole number >= 0), and
  /// nothing changes unless all pass.
  void load_state_dict(const StateDict<T>& state);

 protected:
  /// Throws ValueError for an empty list, a null parameter, a parameter given twice, two
  /// parameters with one name, or a bad lr or gradient option.
  Optimizer(std::string name, std::vector<NamedParameter<T>> params, double lr,
            const GradientOptions& gradient_options);
  /// Optimizers move as their own type (Adam<T> b = std::move(a)); through a base reference a
  /// move would slice. Schedules and checkpoints that hold the optimizer follow it.
  Optimizer(Optimizer&&) noexcept = default;
  Optimizer& operator=(Optimizer&&) noexcept = default;

  /// Adds a per-parameter state buffer named `key` (state_dict keys "<key>.<parameter>"),
  /// shaped like each parameter and filled with `init`. Returns its id for state().
  size_t add_state(std::string key, T init = T(0));
  /// Buffer `id` of parameter `index`.
  Tensor<T>& state(size_t id, size_t index) { return buffers_[id].tensors[index]; }

  /// Updates parameter `index` (p) from its gradient, already checked and clipped. `step` is
  /// the number of updates this parameter has had, this one included (1 the first time).
  virtual void update(size_t index, Parameter<T>& p, int64_t step) = 0;

 private:
  struct Buffer {
    std::string key;
    std::vector<Tensor<T>> tensors;  // one per parameter, shaped like it
  };

  // Points params_ at where each parameter is now (Note [Tracking moves]), after checking
  // that each still exists with the shape it had; see step().
  void locate_parameters() const;

  std::string name_;
  std::string step_label_;  // "<name>.step", for error messages
  // The pointers are a cache of trackers_, refreshed by locate_parameters().
  mutable std::vector<NamedParameter<T>> params_;
  std::vector<Tracker<Parameter<T>>> trackers_;  // one per parameter
  std::vector<Shape> shapes_;                    // each parameter's shape when given
  double lr_ = 0;
  GradientOptions gradient_options_;
  GradStats stats_;
  std::vector<Buffer> buffers_;
  std::vector<int64_t> steps_;  // updates per parameter
};

namespace detail {
/// Throws ValueError "<who>: <option> must be <rule>, got <value>" unless `ok`: the check
/// every optimizer and scheduler runs on its hyperparameters.
void check_option(bool ok, const std::string& who, const char* option, const char* rule,
                  double value);
}  // namespace detail

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace rwd
