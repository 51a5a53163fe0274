// Gradient clipping over a set of parameters (global norm, per-element value) and the policy
// for non-finite gradients, as free functions. Optimizers run the same code before each
// update (GradientOptions); docs/optim.md states the exact semantics.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "rewind/core/parameter.hpp"

namespace rwd {

/// What happens when a gradient holds NaN or Inf.
enum class NonFinitePolicy {
  /// Throw ValueError naming the first such parameter and its count of non-finite elements;
  /// nothing is modified. The default.
  kThrow,
  /// Zero every gradient and count a skip; an optimizer then skips its update.
  kSkip,
  /// Go on as PyTorch does: the non-finite values flow into clipping and the update.
  kProceed,
};

/// Statistics for logging, updated by every gradient pass that is given one (the free
/// functions below take an optional pointer; each Optimizer keeps one over its steps).
/// A pass that throws records nothing.
struct GradStats {
  int64_t calls = 0;         ///< gradient passes recorded (an optimizer: one per step() call)
  int64_t skipped = 0;       ///< passes that met non-finite gradients under kSkip
  int64_t norm_clips = 0;    ///< passes in which global-norm clipping scaled the gradients
  int64_t value_clips = 0;   ///< passes in which value clipping changed at least one element
  double last_norm = 0;      ///< total norm before clipping in the last pass (may be NaN/Inf)
  int64_t finite_norms = 0;  ///< finite norms seen, the count behind mean_norm
  double mean_norm = 0;      ///< running mean of the finite norms seen before clipping
  double max_norm = 0;       ///< largest finite norm seen before clipping

  /// Adds one pass's norm (before clipping) to last/mean/max.
  void record_norm(double norm);
};

/// What an optimizer does to the gradients before each update, in this order: the
/// non-finite check (whole set), global-norm clipping, value clipping.
struct GradientOptions {
  NonFinitePolicy non_finite = NonFinitePolicy::kThrow;
  /// When set, clip the global norm to this, as clip_grad_norm does. Must be >= 0.
  std::optional<double> max_norm = std::nullopt;
  /// The norm used for max_norm and for the statistics: 2 or infinity.
  double norm_type = 2.0;
  /// When set, clamp every element to [-clip_value, clip_value]. Must be >= 0.
  std::optional<double> clip_value = std::nullopt;
};

/// Scales every gradient by max_norm / (total + 1e-6) when that factor is below 1, where
/// total is the norm of all the gradients of `params` together (as one vector); norm_type is
/// 2 or infinity. Returns total, before clipping. Parameters with requires_grad() == false
/// are left out. Non-finite gradients are handled by `non_finite` (with kSkip the gradients
/// are zeroed and the non-finite total is returned, so the caller can skip its step).
/// Throws ValueError for max_norm < 0 or NaN, and for any other norm_type.
template <Scalar T>
double clip_grad_norm(std::span<const NamedParameter<T>> params, double max_norm,
                      double norm_type = 2.0, NonFinitePolicy non_finite = NonFinitePolicy::kThrow,
                      GradStats* stats = nullptr);
template <Scalar T>
double clip_grad_norm(const std::vector<NamedParameter<T>>& params, double max_norm,
                      double norm_type = 2.0, NonFinitePolicy non_finite = NonFinitePolicy::kThrow,
                      GradStats* stats = nullptr) {
  return clip_grad_norm(std::span<const NamedParameter<T>>(params), max_norm, norm_type, non_finite,
                        stats);
}

/// Clamps every gradient element of `params` to [-clip_value, clip_value] (NaN stays NaN).
/// Returns the global 2-norm of the gradients before clamping (non-finite when they held NaN
/// or Inf). Non-finite gradients are handled as in clip_grad_norm. Throws ValueError for
/// clip_value < 0 or NaN.
template <Scalar T>
double clip_grad_value(std::span<const NamedParameter<T>> params, double clip_value,
                       NonFinitePolicy non_finite = NonFinitePolicy::kThrow,
                       GradStats* stats = nullptr);
template <Scalar T>
double clip_grad_value(const std::vector<NamedParameter<T>>& params, double clip_value,
                       NonFinitePolicy non_finite = NonFinitePolicy::kThrow,
                       GradStats* stats = nullptr) {
  return clip_grad_value(std::span<const NamedParameter<T>>(params), clip_value, non_finite, stats);
}

namespace detail {

/// Throws ValueError naming `who` unless the options are valid.
void validate(const char* who, const GradientOptions& options);

/// The whole pre-update pass on the gradients of `params`: the non-finite policy, then
/// clipping as `options` ask, recorded into `stats`. Returns false when the gradients were
/// non-finite and kSkip zeroed them. `norm` receives the total norm before clipping.
template <Scalar T>
bool process_gradients(const char* who, std::span<const NamedParameter<T>> params,
                       const GradientOptions& options, GradStats& stats, double& norm);

}  // namespace detail

}  // namespace rwd
