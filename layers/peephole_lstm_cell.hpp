// PeepholeLSTMCell: an LSTM step with peephole connections (Gers & Schmidhuber 2000,
// "Recurrent nets that time and count"; Gers, Schraudolph & Schmidhuber 2002, JMLR 3,
// eqs. in §2): the input and forget gates see the previous cell state, the output gate sees
// the new one, each through a diagonal (per-unit) weight. Gate order i, f, g, o as LSTMCell:
//   [a_i a_f a_g a_o] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh
//   i = σ(a_i + w_ci ∘ c),  f = σ(a_f + w_cf ∘ c),  c' = f ∘ c + i ∘ tanh(a_g)
//   o = σ(a_o + w_co ∘ c'),  h' = o ∘ tanh(c')
// Built from addmm, chunk, sigmoid, tanh, + and ∘: no gradient code of its own.
#pragma once

#include <array>

#include "rewind/layers/cell_weights.hpp"

namespace rwd {

template <Scalar T>
class PeepholeLSTMCell : public CellWeights<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 2>;  // {h [B, H], c [B, H]}

  /// The peephole weights start uniform in ±1/sqrt(H), as the other weights.
  PeepholeLSTMCell(int64_t input_size, int64_t hidden_size, Generator& gen, bool bias = true);
  /// The same, drawing from Generator(Generator::kDefaultSeed) (see Linear's constructor).
  PeepholeLSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true)
      : PeepholeLSTMCell(input_size, hidden_size, detail::as_lvalue(Generator()), bias) {}

  /// One step: x [B, I], state {h, c} [B, H] each -> {h', c'}.
  State step(Var<T> x, const State& state);
  /// x [N, I] -> x·W_ihᵀ + b_ih + b_hh [N, 4H] (no bias is gated), all steps at once.
  Var<T> project_input(Var<T> x) { return this->project(x, true); }
  /// One step from an already projected input xp [B, 4H].
  State step_projected(Var<T> xp, const State& state);

  [[nodiscard]] Parameter<T>& weight_ci() { return weight_ci_; }
  [[nodiscard]] Parameter<T>& weight_cf() { return weight_cf_; }
  [[nodiscard]] Parameter<T>& weight_co() { return weight_co_; }

  /// CellWeights' parameters, then weight_ci, weight_cf, weight_co.
  void visit(ModuleVisitor<T>& v) override;

 private:
  Parameter<T> weight_ci_;  // [H], c -> i
  Parameter<T> weight_cf_;  // [H], c -> f
  Parameter<T> weight_co_;  // [H], c' -> o
};

extern template class PeepholeLSTMCell<float>;
extern template class PeepholeLSTMCell<double>;

}  // namespace rwd
