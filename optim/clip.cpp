// Gradient clipping and the non-finite gradient policy: one pass that scans the gradients
// (norm and non-finite count together), then the policy, then clipping.
#include "rewind/optim/clip.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "rewind/core/error.hpp"
#include "rewind/ops/kernels/kernels.hpp"

namespace rwd {

void GradStats::record_norm(double norm) {
  last_norm = norm;
  if (!std::isfinite(norm)) return;
  ++finite_norms;
  mean_norm += (norm - mean_norm) / double(finite_norms);
  max_norm = std::max(max_norm, norm);
}

namespace detail {
namespace {

// The epsilon PyTorch's clip_grad_norm_ adds to the total norm before dividing (documented
// in docs/optim.md): factor = max_norm / (total + kNormEps).
constexpr double kNormEps = 1e-6;

// What one read of all the gradients finds.
template <Scalar T>
struct GradScan {
  double sum_sq = 0;   // sum of g^2, accumulated in double
  double max_abs = 0;  // max |g| over the finite elements and +-Inf (NaN ignored)
  bool any_nan = false;
  int64_t bad_params = 0;  // parameters holding a NaN or Inf
  const NamedParameter<T>* first_bad = nullptr;
  int64_t first_bad_count = 0;  // non-finite elements of first_bad
  int64_t non_finite = 0;       // non-finite elements over all parameters
};

template <Scalar T>
bool takes_part(const NamedParameter<T>& p) {
  return p.param != nullptr && p.param->requires_grad();
}

template <Scalar T>
GradScan<T> scan(std::span<const NamedParameter<T>> params) {
  GradScan<T> s;
  for (const NamedParameter<T>& np : params) {
    if (!takes_part(np)) continue;
    const Tensor<T>& g = np.param->grad();
    const int64_t n = g.numel();
    double sum_sq = 0;
    double max_abs = 0;
    for (int64_t i = 0; i < n; ++i) {
      const auto v = double(g[i]);
      sum_sq += v * v;
      max_abs = std::max(max_abs, std::fabs(v));
    }
    s.sum_sq += sum_sq;
    s.max_abs = std::max(s.max_abs, max_abs);
    // A non-finite element always makes the sum non-finite; a non-finite sum can also come
    // from finite elements overflowing, so count to tell the two apart.
    if (std::isfinite(sum_sq)) continue;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(g[i])) ++bad;
      if (std::isnan(g[i])) s.any_nan = true;
    }
    if (bad == 0) continue;
    if (s.first_bad == nullptr) {
      s.first_bad = &np;
      s.first_bad_count = bad;
    }
    ++s.bad_params;
    s.non_finite += bad;
  }
  return s;
}

// The 2-norm from the scan; when finite elements overflowed (or underflowed) the sum of
// squares, again with every element divided by the largest magnitude first.
template <Scalar T>
double two_norm(std::span<const NamedParameter<T>> params, const GradScan<T>& s) {
  if (s.non_finite > 0 || s.max_abs == 0) return std::sqrt(s.sum_sq);
  constexpr double kTiny = 1e-290;  // below this the sum of squares has lost precision
  if (std::isfinite(s.sum_sq) && s.sum_sq > kTiny) return std::sqrt(s.sum_sq);
  double scaled = 0;
  for (const NamedParameter<T>& np : params) {
    if (!takes_part(np)) continue;
    const Tensor<T>& g = np.param->grad();
    for (int64_t i = 0; i < g.numel(); ++i) {
      const double v = double(g[i]) / s.max_abs;
      scaled += v * v;
    }
  }
  return s.max_abs * std::sqrt(scaled);
}

template <Scalar T>
double total_norm(std::span<const NamedParameter<T>> params, const GradScan<T>& s,
                  double norm_type) {
  if (s.any_nan) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(norm_type)) return s.max_abs;
  return two_norm(params, s);
}

template <Scalar T>
[[noreturn]] void throw_non_finite(const char* who, const GradScan<T>& s) {
  const int64_t n = s.first_bad_count;
  std::string others;
  if (s.bad_params > 1) {
    const int64_t k = s.bad_params - 1;
    others = fmt::format("; {} other parameter{} hold{} non-finite gradients too", k,
                         k == 1 ? "" : "s", k == 1 ? "s" : "");
  }
  throw ValueError(fmt::format(
      "{}: parameter '{}' holds {} non-finite gradient element{} (NaN or Inf) out of {}{}; "
      "nothing was changed (NonFinitePolicy::kThrow)",
      who, s.first_bad->name, n, n == 1 ? "" : "s", s.first_bad->param->numel(), others));
}

// g *= factor for every gradient.
template <Scalar T>
void scale(std::span<const NamedParameter<T>> params, T factor) {
  for (const NamedParameter<T>& np : params) {
    if (!takes_part(np)) continue;
    Tensor<T>& g = np.param->grad();
    detail::kernels<T>().scale(g.data(), g.numel(), factor);
  }
}

// g = clamp(g, -c, c) for every gradient; NaN stays NaN. Returns whether anything changed.
template <Scalar T>
bool clamp(std::span<const NamedParameter<T>> params, T c) {
  bool changed = false;
  for (const NamedParameter<T>& np : params) {
    if (!takes_part(np)) continue;
    Tensor<T>& g = np.param->grad();
    if (detail::kernels<T>().clamp(g.data(), g.numel(), c)) changed = true;
  }
  return changed;
}

}  // namespace

void validate(const char* who, const GradientOptions& options) {
  if (options.max_norm && !(*options.max_norm >= 0))
    throw ValueError(fmt::format("{}: max_norm must be >= 0, got {}", who, *options.max_norm));
  if (!(options.norm_type == 2.0 || options.norm_type == std::numeric_limits<double>::infinity()))
    throw ValueError(
        fmt::format("{}: norm_type must be 2 or infinity, got {}", who, options.norm_type));
  if (options.clip_value && !(*options.clip_value >= 0))
    throw ValueError(fmt::format("{}: clip_value must be >= 0, got {}", who, *options.clip_value));
}

template <Scalar T>
bool process_gradients(const char* who, std::span<const NamedParameter<T>> params,
                       const GradientOptions& options, GradStats& stats, double& norm) {
  const GradScan<T> s = scan(params);
  norm = total_norm(params, s, options.norm_type);
  if (s.non_finite > 0) {
    switch (options.non_finite) {
      case NonFinitePolicy::kThrow:
        throw_non_finite(who, s);
      case NonFinitePolicy::kSkip:
        for (const NamedParameter<T>& np : params)
          if (takes_part(np)) np.param->zero_grad();
        ++stats.calls;
        ++stats.skipped;
        stats.record_norm(norm);
        return false;
      case NonFinitePolicy::kProceed:
        break;
    }
  }
  ++stats.calls;
  stats.record_norm(norm);
  if (options.max_norm) {
    // factor = max_norm / (total + 1e-6), applied only below 1 (PyTorch multiplies by
    // min(factor, 1), the same). A NaN factor (kProceed with NaN gradients) is applied too,
    // as PyTorch does, which turns every gradient into NaN.
    const double factor = *options.max_norm / (norm + kNormEps);
    if (!(factor >= 1.0)) {
      scale(params, T(factor));
      ++stats.norm_clips;
    }
  }
  if (options.clip_value && clamp(params, T(*options.clip_value))) ++stats.value_clips;
  return true;
}

}  // namespace detail

template <Scalar T>
double clip_grad_norm(std::span<const NamedParameter<T>> params, double max_norm, double norm_type,
                      NonFinitePolicy non_finite, GradStats* stats) {
  GradientOptions options;
  options.non_finite = non_finite;
  options.max_norm = max_norm;
  options.norm_type = norm_type;
  detail::validate("clip_grad_norm", options);
  GradStats local;
  double norm = 0;
  detail::process_gradients("clip_grad_norm", params, options, stats ? *stats : local, norm);
  return norm;
}

template <Scalar T>
double clip_grad_value(std::span<const NamedParameter<T>> params, double clip_value,
                       NonFinitePolicy non_finite, GradStats* stats) {
  GradientOptions options;
  options.non_finite = non_finite;
  options.clip_value = clip_value;
  detail::validate("clip_grad_value", options);
  GradStats local;
  double norm = 0;
  detail::process_gradients("clip_grad_value", params, options, stats ? *stats : local, norm);
  return norm;
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, and the check reads the `>>` closing
// nested template arguments as a shift.
#define REWIND_INSTANTIATE(T)                                                                  \
  template double clip_grad_norm(std::span<const NamedParameter<T>>, double, double,           \
                                 NonFinitePolicy, GradStats*);                                 \
  template double clip_grad_value(std::span<const NamedParameter<T>>, double, NonFinitePolicy, \
                                  GradStats*);                                                 \
  template bool detail::process_gradients(const char*, std::span<const NamedParameter<T>>,     \
                                          const GradientOptions&, GradStats&, double&);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace rwd
