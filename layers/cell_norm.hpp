// CellNorm: the learnable gain γ and bias β of one layer normalisation inside a recurrent
// cell (Ba et al. 2016, "Layer Normalization", eq. 4 and §3.1), over the last axis of D
// features: LN(a; γ, β) = (a − mean(a)) / sqrt(var(a) + 1e-5) ∘ γ + β, one ordinary
// layer_norm op. γ starts at 1 and β at 0, as PyTorch's nn.LayerNorm.
#pragma once

#include <cstdint>
#include <string>

#include "rewind/core/graph.hpp"
#include "rewind/layers/module.hpp"
#include "rewind/ops/norm.hpp"

namespace rwd {

template <Scalar T>
class CellNorm {
 public:
  /// A norm over `features` values; without `bias`, β is absent (0, not learnt).
  CellNorm(int64_t features, bool bias) : gain_(Tensor<T>::ones({features})), has_bias_(bias) {
    if (bias) bias_ = Parameter<T>(Tensor<T>::zeros({features}));
  }

  /// a [.., D] -> LN(a; γ, β) [.., D], each row normalised on its own.
  Var<T> operator()(Var<T> a) {
    Graph<T>& g = a.graph();
    return layer_norm(a, g.param(gain_), has_bias_ ? g.param(bias_) : Var<T>());
  }

  [[nodiscard]] Parameter<T>& gain() { return gain_; }
  /// nullptr without a bias.
  [[nodiscard]] Parameter<T>* bias() { return has_bias_ ? &bias_ : nullptr; }

  /// "<prefix>_weight" (γ) and "<prefix>_bias" (β), nn.LayerNorm's names under a prefix.
  void visit(ModuleVisitor<T>& v, const std::string& prefix) {
    v.parameter(prefix + "_weight", gain_);
    if (has_bias_) v.parameter(prefix + "_bias", bias_);
  }

 private:
  Parameter<T> gain_;  // γ [D]
  Parameter<T> bias_;  // β [D]
  bool has_bias_;
};

}  // namespace rwd
