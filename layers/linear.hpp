// Linear: y = x·Wᵀ + b, with PyTorch's layout (weight [out, in], bias [out]) and init.
#pragma once

#include <cstdint>

#include "rewind/core/graph.hpp"
#include "rewind/core/random.hpp"
#include "rewind/layers/module.hpp"

namespace rwd {

template <Scalar T>
class Linear : public Module<T> {
 public:
  /// Weight and bias uniform in ±1/sqrt(in_features), as PyTorch initialises nn.Linear.
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
  /// The same, drawing from Generator(Generator::kDefaultSeed): for weights that are loaded
  /// right after. Every layer built this way starts from that seed, so two layers of the same
  /// shape get the same weights; pass a Generator for independent initial weights.
  Linear(int64_t in_features, int64_t out_features, bool bias = true)
      : Linear(in_features, out_features, detail::as_lvalue(Generator()), bias) {}

  /// x [..., in] -> [..., out], for rank 1 to 4 (leading dimensions are flattened for the
  /// product and restored after). Throws ShapeError when the last dimension is not `in`.
  Var<T> forward(Var<T> x);

  [[nodiscard]] int64_t in_features() const { return weight_.shape()[1]; }
  [[nodiscard]] int64_t out_features() const { return weight_.shape()[0]; }
  [[nodiscard]] Parameter<T>& weight() { return weight_; }
  /// nullptr when built without a bias.
  [[nodiscard]] Parameter<T>* bias() { return has_bias_ ? &bias_ : nullptr; }

  void visit(ModuleVisitor<T>& v) override;

 private:
  Parameter<T> weight_;  // [out, in]
  Parameter<T> bias_;    // [out]
  bool has_bias_;
};

extern template class Linear<float>;
extern template class Linear<double>;

}  // namespace rwd
