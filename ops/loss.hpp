// Losses: cross-entropy and negative log-likelihood against integer class ids, binary
// cross-entropy on logits, mean squared error. The options follow PyTorch's arguments.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "rewind/core/graph.hpp"

namespace rwd {

/// How a loss combines its values (PyTorch's `reduction`): kMean and kSum give a rank-0
/// result, kNone one loss per batch row (per element for binary_cross_entropy_with_logits).
enum class Reduction { kNone, kMean, kSum };

/// nll_loss's options, as PyTorch's F.nll_loss.
struct NllLossOptions {
  /// One weight per class, or empty for all 1. Row b's loss is scaled by weight[targets[b]],
  /// and the mean divides by the sum of weight[targets[b]] over the rows not ignored.
  std::vector<double> weight{};
  /// A row whose target is this value adds nothing to the loss, the mean's divisor or the
  /// gradient. When every row is ignored the mean is 0/0 = NaN (as PyTorch's).
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::kMean;
};

/// cross_entropy's options, as PyTorch's F.cross_entropy with class-id targets.
struct CrossEntropyOptions {
  /// As NllLossOptions::weight; label smoothing's uniform part is weighted too (below).
  std::vector<double> weight{};
  /// As NllLossOptions::ignore_index.
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::kMean;
  /// ε in [0, 1] (Szegedy et al. 2016, "Rethinking the Inception Architecture", sec. 7):
  /// row b's loss is (1 - ε) w[t_b] (-log p[b, t_b]) + (ε / C) Σ_c w[c] (-log p[b, c]), and
  /// the mean still divides by Σ_b w[t_b] over the rows not ignored, as PyTorch does.
  double label_smoothing = 0;
};

/// binary_cross_entropy_with_logits's options, as PyTorch's.
struct BceWithLogitsOptions {
  /// The positive term's weight per class (the logits' last axis), or empty for all 1.
  std::vector<double> pos_weight{};
  Reduction reduction = Reduction::kMean;
};

/// Mean over the batch of -log softmax(logits)[b, targets[b]]. logits is [B, C]; targets
/// holds B class ids in [0, C). Stable for large logits (log-sum-exp with the max taken out).
/// The same as the overload below with default options (so a target of -100 is ignored).
template <Scalar T>
Var<T> cross_entropy(Var<T> logits, std::span<const int64_t> targets);
/// Cross-entropy of softmax(logits) against class ids, with PyTorch's options (see
/// CrossEntropyOptions). One node; backward reads the softmax the forward kept. Throws
/// ShapeError for logits not [B, C] with B > 0, a target count other than B or a weight
/// count other than C, IndexError for a target outside [0, C) that is not ignore_index,
/// ValueError for label_smoothing outside [0, 1].
template <Scalar T>
Var<T> cross_entropy(Var<T> logits, std::span<const int64_t> targets,
                     const CrossEntropyOptions& options);

/// Negative log-likelihood: -weight[t_b] log_probs[b, t_b] per row, reduced as the options
/// say. log_probs is [B, C] (log_softmax's output, say); its errors as cross_entropy's.
template <Scalar T>
Var<T> nll_loss(Var<T> log_probs, std::span<const int64_t> targets,
                const NllLossOptions& options = {});

/// Binary cross-entropy of sigmoid(logits) against targets in [0, 1] of the same shape, per
/// element -[pw t log σ(x) + (1 - t) log(1 - σ(x))], computed stably as PyTorch does:
/// (1 - t) x + (1 + (pw - 1) t)(log(1 + exp(-|x|)) + max(-x, 0)). Differentiable in both
/// logits and targets. Throws ShapeError for shapes that differ, empty inputs, or a
/// pos_weight whose length is not the logits' last dimension.
template <Scalar T>
Var<T> binary_cross_entropy_with_logits(Var<T> logits, Var<T> targets,
                                        const BceWithLogitsOptions& options = {});

/// mean((prediction - target)^2) over all elements; the shapes must match.
template <Scalar T>
Var<T> mse(Var<T> prediction, Var<T> target);

}  // namespace rwd
