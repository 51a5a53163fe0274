// LayerNormGRUCell: a GRU step with layer normalisation (Ba et al. 2016, "Layer
// Normalization", §3.1), gates r, z, n and the reset applied after the recurrent product as
// GRUCell (PyTorch's formulation). The input and the recurrent products are normalised
// separately, each over all 3H pre-activations:
//   [a_r a_z a_n] = LN(x·W_ihᵀ; γ_ih, β_ih),   [b_r b_z b_n] = LN(h·W_hhᵀ; γ_hh, β_hh)
//   r = σ(a_r + b_r),  z = σ(a_z + b_z),  n = tanh(a_n + r ∘ b_n),  h' = (1 − z) ∘ n + z ∘ h
// β_ih and β_hh take the places of GRUCell's b_ih and b_hh (β_hh's n part is gated by r, as
// b_hn is): the cell has no other bias. Built from matmul, layer_norm and gru_pointwise
// (ops/rnn.hpp): no gradient code of its own.
#pragma once

#include <array>

#include "rewind/layers/cell_norm.hpp"
#include "rewind/layers/cell_weights.hpp"

namespace rwd {

template <Scalar T>
class LayerNormGRUCell : public CellWeights<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 1>;  // {h} [B, H]

  /// bias: whether the two norms have a learnt β (without, no additive parameter at all).
  LayerNormGRUCell(int64_t input_size, int64_t hidden_size, Generator& gen, bool bias = true);
  /// The same, drawing from Generator(Generator::kDefaultSeed) (see Linear's constructor).
  LayerNormGRUCell(int64_t input_size, int64_t hidden_size, bool bias = true)
      : LayerNormGRUCell(input_size, hidden_size, detail::as_lvalue(Generator()), bias) {}

  /// One step: x [B, I], state {h} [B, H] -> {h'}.
  State step(Var<T> x, const State& state);
  /// LN(x·W_ihᵀ; γ_ih, β_ih): x [N, I] -> [N, 3H], every row on its own (all steps at once).
  Var<T> project_input(Var<T> x) { return ln_ih_(this->project(x, false)); }
  /// One step from an already projected and normalised input xp [B, 3H].
  State step_projected(Var<T> xp, const State& state);

  [[nodiscard]] CellNorm<T>& ln_ih() { return ln_ih_; }  // over 3H
  [[nodiscard]] CellNorm<T>& ln_hh() { return ln_hh_; }  // over 3H

  /// weight_ih, weight_hh, ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias (no *_bias
  /// without biases).
  void visit(ModuleVisitor<T>& v) override;

 private:
  CellNorm<T> ln_ih_;
  CellNorm<T> ln_hh_;
};

extern template class LayerNormGRUCell<float>;
extern template class LayerNormGRUCell<double>;

}  // namespace rwd
