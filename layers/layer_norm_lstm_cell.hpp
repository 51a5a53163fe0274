// LayerNormLSTMCell: an LSTM step with layer normalisation (Ba et al. 2016, "Layer
// Normalization", §3.1, eqs. 20-22), gate order i, f, g, o as LSTMCell. The input and the
// recurrent products are normalised separately, each over all 4H gate pre-activations, and
// the new cell state is normalised before the tanh that makes h:
//   [i f g o] = LN(x·W_ihᵀ; γ_ih, β_ih) + LN(h·W_hhᵀ; γ_hh, β_hh)
//   c' = σ(f) ∘ c + σ(i) ∘ tanh(g),   h' = σ(o) ∘ tanh(LN(c'; γ_c, β_c))
// The carried state c' is the unnormalised one. β_ih + β_hh is the gates' bias: the cell
// has no bias_ih / bias_hh of its own. Built from matmul, layer_norm, chunk, sigmoid, tanh,
// + and ∘ (docs/recurrent.md): no gradient code of its own.
#pragma once

#include <array>

#include "rewind/layers/cell_norm.hpp"
#include "rewind/layers/cell_weights.hpp"

namespace rwd {

template <Scalar T>
class LayerNormLSTMCell : public CellWeights<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 2>;  // {h [B, H], c [B, H]}

  /// bias: whether the three norms have a learnt β (without, no additive parameter at all).
  LayerNormLSTMCell(int64_t input_size, int64_t hidden_size, Generator& gen, bool bias = true);
  /// The same, drawing from Generator(Generator::kDefaultSeed) (see Linear's constructor).
  LayerNormLSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true)
      : LayerNormLSTMCell(input_size, hidden_size, detail::as_lvalue(Generator()), bias) {}

  /// One step: x [B, I], state {h, c} [B, H] each -> {h', c'}.
  State step(Var<T> x, const State& state);
  /// LN(x·W_ihᵀ; γ_ih, β_ih) for many rows at once: x [N, I] -> [N, 4H]. Each row is
  /// normalised on its own, so the driver does all time steps in one call.
  Var<T> project_input(Var<T> x) { return ln_ih_(this->project(x, false)); }
  /// One step from an already projected and normalised input xp [B, 4H].
  State step_projected(Var<T> xp, const State& state);

  [[nodiscard]] CellNorm<T>& ln_ih() { return ln_ih_; }  // over 4H
  [[nodiscard]] CellNorm<T>& ln_hh() { return ln_hh_; }  // over 4H
  [[nodiscard]] CellNorm<T>& ln_c() { return ln_c_; }    // over H

  /// weight_ih, weight_hh, ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias, ln_c_weight,
  /// ln_c_bias (no *_bias without biases).
  void visit(ModuleVisitor<T>& v) override;

 private:
  CellNorm<T> ln_ih_;
  CellNorm<T> ln_hh_;
  CellNorm<T> ln_c_;
};

extern template class LayerNormLSTMCell<float>;
extern template class LayerNormLSTMCell<double>;

}  // namespace rwd
