// LSTMCell: one step of a long short-term memory (Hochreiter & Schmidhuber 1997, with the
// forget gate of Gers et al. 2000), in PyTorch's formulation and gate order i, f, g, o:
//   [i f g o] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh
//   c' = σ(f) ∘ c + σ(i) ∘ tanh(g),   h' = σ(o) ∘ tanh(c')
// Built from engine ops (addmm for the step's product, lstm_pointwise for the gate math; both
// ordinary ops in ops/ with their own backward and gradient check): the cell itself has no
// gradient code.
#pragma once

#include <array>

#include "rewind/layers/cell_weights.hpp"

namespace rwd {

template <Scalar T>
class LSTMCell : public CellWeights<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 2>;  // {h, c}, each [B, H]

  LSTMCell(int64_t input_size, int64_t hidden_size, Generator& gen, bool bias = true)
      : CellWeights<T>("LSTMCell", input_size, hidden_size, 4, bias, gen) {}
  /// The same, drawing from Generator(Generator::kDefaultSeed) (see Linear's constructor).
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true)
      : LSTMCell(input_size, hidden_size, detail::as_lvalue(Generator()), bias) {}

  /// One step: x [B, I], state {h, c} [B, H] -> {h', c'}.
  State step(Var<T> x, const State& state);

  /// The input part of the gates for many rows at once: x [N, I] -> [N, 4H] (both biases
  /// folded in). The sequence driver calls this once for all time steps.
  Var<T> project_input(Var<T> x) { return this->project(x, true); }
  /// One step from an already projected input xp [B, 4H].
  State step_projected(Var<T> xp, const State& state);
};

extern template class LSTMCell<float>;
extern template class LSTMCell<double>;

}  // namespace rwd
