// Learning-rate schedules: closed forms of the step count, and the plateau detector.
#include "rewind/optim/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

#include "rewind/core/error.hpp"

namespace rwd {

template <Scalar T>
LrScheduler<T>::LrScheduler(std::string name, Optimizer<T>& optimizer, const Warmup& warmup)
    : name_(std::move(name)),
      optimizer_(optimizer),
      warmup_(warmup),
      base_lr_(optimizer.lr()),
      schedule_lr_(base_lr_) {
  detail::check_option(warmup.steps >= 0, name_, "warmup.steps", ">= 0", double(warmup.steps));
  detail::check_option(warmup.start_factor > 0 && warmup.start_factor <= 1, name_,
                       "warmup.start_factor", "in (0, 1]", warmup.start_factor);
}

// Linear warmup (as torch.optim.lr_scheduler.LinearLR with end_factor 1):
//   factor(t) = start + (1 - start) * min(t, steps) / steps
template <Scalar T>
double LrScheduler<T>::warmup_factor(int64_t t) const {
  if (t >= warmup_.steps) return 1.0;
  return warmup_.start_factor + (1.0 - warmup_.start_factor) * double(t) / double(warmup_.steps);
}

template <Scalar T>
void LrScheduler<T>::advance(double schedule_lr) {
  Optimizer<T>& opt = optimizer();  // throws before anything changes
  ++last_step_;
  schedule_lr_ = schedule_lr;
  opt.set_lr(lr());
}

template <Scalar T>
Optimizer<T>& LrScheduler<T>::optimizer() const {
  Optimizer<T>* opt = optimizer_.get();
  if (opt == nullptr)
    throw ValueError(fmt::format(
        "{}: its optimizer no longer exists (destroyed, or overwritten by a move-assignment), "
        "or this schedule was moved from",
        name_.empty() ? "LrScheduler" : name_));
  return *opt;
}

// ---- StepLR ----

template <Scalar T>
StepLR<T>::StepLR(Optimizer<T>& optimizer, int64_t step_size, double gamma, const Warmup& warmup)
    : LrScheduler<T>("StepLR", optimizer, warmup), step_size_(step_size), gamma_(gamma) {
  detail::check_option(step_size >= 1, this->name(), "step_size", ">= 1", double(step_size));
  detail::check_option(gamma > 0 && std::isfinite(gamma), this->name(), "gamma", "finite and > 0",
                       gamma);
  this->start();
}

// lr_t = base_lr * gamma^floor(t / step_size)
template <Scalar T>
double StepLR<T>::lr_at(int64_t t) const {
  const int64_t periods = t / step_size_;  // whole periods elapsed: the lr decays once each
  return this->base_lr() * std::pow(gamma_, double(periods));
}

// ---- ExponentialLR ----

template <Scalar T>
ExponentialLR<T>::ExponentialLR(Optimizer<T>& optimizer, double gamma, const Warmup& warmup)
    : LrScheduler<T>("ExponentialLR", optimizer, warmup), gamma_(gamma) {
  detail::check_option(gamma > 0 && std::isfinite(gamma), this->name(), "gamma", "finite and > 0",
                       gamma);
  this->start();
}

// lr_t = base_lr * gamma^t
template <Scalar T>
double ExponentialLR<T>::lr_at(int64_t t) const {
  return this->base_lr() * std::pow(gamma_, double(t));
}

// ---- CosineAnnealingLR ----

template <Scalar T>
CosineAnnealingLR<T>::CosineAnnealingLR(Optimizer<T>& optimizer, int64_t t_max, double eta_min,
                                        const Warmup& warmup)
    : LrScheduler<T>("CosineAnnealingLR", optimizer, warmup), t_max_(t_max), eta_min_(eta_min) {
  detail::check_option(t_max >= 1, this->name(), "t_max", ">= 1", double(t_max));
  detail::check_option(eta_min >= 0 && std::isfinite(eta_min), this->name(), "eta_min",
                       "finite and >= 0", eta_min);
  this->start();
}

// SGDR without restarts (Loshchilov & Hutter 2017, eq. 5), as PyTorch's docs state it:
//   lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / t_max)) / 2
template <Scalar T>
double CosineAnnealingLR<T>::lr_at(int64_t t) const {
  const double phase = std::numbers::pi * double(t) / double(t_max_);
  return eta_min_ + (this->base_lr() - eta_min_) * (1 + std::cos(phase)) / 2;
}

// ---- ReduceLROnPlateau ----

template <Scalar T>
ReduceLROnPlateau<T>::ReduceLROnPlateau(Optimizer<T>& optimizer, const PlateauOptions& options,
                                        const Warmup& warmup)
    : LrScheduler<T>("ReduceLROnPlateau", optimizer, warmup),
      options_(options),
      best_(options.mode == PlateauOptions::Mode::kMin ? std::numeric_limits<double>::infinity()
                                                       : -std::numeric_limits<double>::infinity()) {
  const std::string& who = this->name();
  detail::check_option(options.factor >= 0 && options.factor < 1, who, "factor", "in [0, 1)",
                       options.factor);
  detail::check_option(options.patience >= 0, who, "patience", ">= 0", double(options.patience));
  detail::check_option(options.threshold >= 0 && std::isfinite(options.threshold), who, "threshold",
                       "finite and >= 0", options.threshold);
  detail::check_option(options.cooldown >= 0, who, "cooldown", ">= 0", double(options.cooldown));
  detail::check_option(options.min_lr >= 0 && std::isfinite(options.min_lr), who, "min_lr",
                       "finite and >= 0", options.min_lr);
  detail::check_option(options.eps >= 0 && std::isfinite(options.eps), who, "eps",
                       "finite and >= 0", options.eps);
  this->start();
}

template <Scalar T>
bool ReduceLROnPlateau<T>::improves(double metric) const {
  using Mode = PlateauOptions::Mode;
  const bool rel = options_.threshold_mode == PlateauOptions::ThresholdMode::kRel;
  const double th = options_.threshold;
  if (options_.mode == Mode::kMin) return rel ? metric < best_ * (1 - th) : metric < best_ - th;
  return rel ? metric > best_ * (1 + th) : metric > best_ + th;
}

// As torch.optim.lr_scheduler.ReduceLROnPlateau: count steps without improvement (none are
// counted during cooldown); once they exceed patience,
//   lr = max(lr * factor, min_lr)   (made only when it lowers lr by more than eps)
// then start the cooldown and the count afresh.
template <Scalar T>
void ReduceLROnPlateau<T>::step(double metric) {
  if (improves(metric)) {
    best_ = metric;
    bad_steps_ = 0;
  } else {
    ++bad_steps_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_steps_ = 0;
  }
  double lr = this->schedule_lr();
  if (bad_steps_ > options_.patience) {
    const double reduced = std::max(lr * options_.factor, options_.min_lr);
    if (lr - reduced > options_.eps) {
      lr = reduced;
      ++reductions_;
    }
    cooldown_left_ = options_.cooldown;
    bad_steps_ = 0;
  }
  this->advance(lr);
}

template class LrScheduler<float>;
template class LrScheduler<double>;
template class StepLR<float>;
template class StepLR<double>;
template class ExponentialLR<float>;
template class ExponentialLR<double>;
template class CosineAnnealingLR<float>;
template class CosineAnnealingLR<double>;
template class ReduceLROnPlateau<float>;
template class ReduceLROnPlateau<double>;

}  // namespace rwd
