// Learning-rate schedules. Each follows an Optimizer (through moves: Note [Tracking moves])
// and sets its lr at construction (step 0) and at every step(); a linear warmup multiplies
// any of them.
#pragma once

#include <cstdint>
#include <string>

#include "rewind/optim/optimizer.hpp"

namespace rwd {

/// Linear warmup, available on every schedule: during the first `steps` steps the schedule's
/// lr is multiplied by start_factor + (1 - start_factor) * t / steps (t = 0, 1, ...), and by
/// 1 from step `steps` on. The same as chaining PyTorch's LinearLR(start_factor, 1.0, steps)
/// with the schedule (ChainedScheduler).
struct Warmup {
  int64_t steps = 0;                ///< >= 0; 0 turns warmup off
  double start_factor = 1.0 / 3.0;  ///< the factor at step 0, in (0, 1] (LinearLR's default)
};

/// The base of every schedule: the step count, the lr the schedule wants, the warmup factor,
/// and the optimizer they are applied to.
template <Scalar T>
class LrScheduler {
 public:
  LrScheduler(const LrScheduler&) = delete;
  LrScheduler& operator=(const LrScheduler&) = delete;
  virtual ~LrScheduler() = default;

  /// Steps taken so far (0 after construction).
  [[nodiscard]] int64_t last_step() const { return last_step_; }
  /// The optimizer's lr when the schedule was made.
  [[nodiscard]] double base_lr() const { return base_lr_; }
  /// The schedule's lr at last_step(), before the warmup factor.
  [[nodiscard]] double schedule_lr() const { return schedule_lr_; }
  /// The warmup factor at step t (1 without warmup).
  [[nodiscard]] double warmup_factor(int64_t t) const;
  /// The lr last given to the optimizer: schedule_lr() * warmup_factor(last_step()).
  [[nodiscard]] double lr() const { return schedule_lr_ * warmup_factor(last_step_); }
  /// The optimizer, wherever it has moved. Throws ValueError when it no longer exists or
  /// this schedule was moved from; so does step().
  [[nodiscard]] Optimizer<T>& optimizer() const;

 protected:
  /// Reads the base lr from the optimizer; the optimizer is not touched until start().
  /// Throws ValueError for a negative warmup length or a start factor outside (0, 1].
  LrScheduler(std::string name, Optimizer<T>& optimizer, const Warmup& warmup);
  /// Sets the optimizer's lr for step 0: the base lr times the warmup's start factor. Every
  /// schedule's constructor calls it last, once its own settings are checked, so a schedule
  /// that fails to construct leaves the optimizer alone.
  void start() { optimizer().set_lr(lr()); }
  /// Moves to the next step, at which the schedule wants `schedule_lr`, and sets the
  /// optimizer's lr (with the warmup factor).
  void advance(double schedule_lr);
  [[nodiscard]] const std::string& name() const { return name_; }
  /// Schedules move as their own type (StepLR<T> b = std::move(a)).
  LrScheduler(LrScheduler&&) noexcept = default;
  LrScheduler& operator=(LrScheduler&&) noexcept = default;

 private:
  std::string name_;
  Tracker<Optimizer<T>> optimizer_;
  Warmup warmup_;
  double base_lr_;
  double schedule_lr_;
  int64_t last_step_ = 0;
};

/// lr = base_lr * gamma^floor(t / step_size), as torch.optim.lr_scheduler.StepLR.
template <Scalar T>
class StepLR : public LrScheduler<T> {
 public:
  /// Throws ValueError for step_size < 1 or gamma not finite and > 0.
  StepLR(Optimizer<T>& optimizer, int64_t step_size, double gamma = 0.1, const Warmup& warmup = {});
  void step() { this->advance(lr_at(this->last_step() + 1)); }
  /// The schedule's lr at step t, before warmup.
  [[nodiscard]] double lr_at(int64_t t) const;

 private:
  int64_t step_size_;
  double gamma_;
};

/// lr = base_lr * gamma^t, as torch.optim.lr_scheduler.ExponentialLR.
template <Scalar T>
class ExponentialLR : public LrScheduler<T> {
 public:
  /// Throws ValueError for gamma not finite and > 0.
  ExponentialLR(Optimizer<T>& optimizer, double gamma, const Warmup& warmup = {});
  void step() { this->advance(lr_at(this->last_step() + 1)); }
  [[nodiscard]] double lr_at(int64_t t) const;

 private:
  double gamma_;
};

/// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / t_max)) / 2, as
/// torch.optim.lr_scheduler.CosineAnnealingLR (Loshchilov & Hutter 2017, eq. 5, without
/// restarts). Past t_max the cosine goes on, rising again, as PyTorch's does.
template <Scalar T>
class CosineAnnealingLR : public LrScheduler<T> {
 public:
  /// Throws ValueError for t_max < 1 or eta_min not finite and >= 0.
  CosineAnnealingLR(Optimizer<T>& optimizer, int64_t t_max, double eta_min = 0,
                    const Warmup& warmup = {});
  void step() { this->advance(lr_at(this->last_step() + 1)); }
  [[nodiscard]] double lr_at(int64_t t) const;

 private:
  int64_t t_max_;
  double eta_min_;
};

/// ReduceLROnPlateau's settings (PyTorch's names and defaults).
struct PlateauOptions {
  enum class Mode { kMin, kMax };           ///< whether the metric should go down or up
  enum class ThresholdMode { kRel, kAbs };  ///< how "better" is measured
  Mode mode = Mode::kMin;
  double factor = 0.1;      ///< in [0, 1): lr *= factor on a plateau
  int64_t patience = 10;    ///< >= 0: steps without improvement tolerated
  double threshold = 1e-4;  ///< >= 0: the least improvement that counts
  ThresholdMode threshold_mode = ThresholdMode::kRel;
  int64_t cooldown = 0;  ///< >= 0: steps to wait after a reduction before counting again
  double min_lr = 0;     ///< >= 0: the lr never goes below this
  double eps = 1e-8;     ///< >= 0: reductions smaller than this are not made
};

/// Multiplies the lr by `factor` when a metric has not improved for more than `patience`
/// steps, as torch.optim.lr_scheduler.ReduceLROnPlateau. "Improved" (mode kMin, kRel):
/// metric < best * (1 - threshold); kAbs: metric < best - threshold; kMax mirrors both. A
/// NaN metric never improves.
template <Scalar T>
class ReduceLROnPlateau : public LrScheduler<T> {
 public:
  /// Throws ValueError for a setting outside the range documented in PlateauOptions.
  explicit ReduceLROnPlateau(Optimizer<T>& optimizer, const PlateauOptions& options = {},
                             const Warmup& warmup = {});
  /// One step with this step's metric (a validation loss, say).
  void step(double metric);

  /// The best metric so far (+inf or -inf before the first step).
  [[nodiscard]] double best() const { return best_; }
  /// Steps since the last improvement (reset by a reduction and during cooldown).
  [[nodiscard]] int64_t bad_steps() const { return bad_steps_; }
  /// How many times the lr was reduced.
  [[nodiscard]] int64_t reductions() const { return reductions_; }

 private:
  [[nodiscard]] bool improves(double metric) const;

  PlateauOptions options_;
  double best_;
  int64_t bad_steps_ = 0;
  int64_t cooldown_left_ = 0;
  int64_t reductions_ = 0;
};

extern template class LrScheduler<float>;
extern template class LrScheduler<double>;
extern template class StepLR<float>;
extern template class StepLR<double>;
extern template class ExponentialLR<float>;
extern template class ExponentialLR<double>;
extern template class CosineAnnealingLR<float>;
extern template class CosineAnnealingLR<double>;
extern template class ReduceLROnPlateau<float>;
extern template class ReduceLROnPlateau<double>;

}  // namespace rwd
