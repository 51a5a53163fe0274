// GRUCell: one step of a gated recurrent unit (Cho et al. 2014) in PyTorch's formulation,
// gates r, z, n, with the reset gate applied to (W_hn h + b_hn):
//   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ∘ (W_hn h + b_hn)),  h' = (1 − z) ∘ n + z ∘ h
#pragma once

#include <array>

#include "rewind/layers/cell_weights.hpp"

namespace rwd {

template <Scalar T>
class GRUCell : public CellWeights<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 1>;  // {h} [B, H]

  GRUCell(int64_t input_size, int64_t hidden_size, Generator& gen, bool bias = true)
      : CellWeights<T>("GRUCell", input_size, hidden_size, 3, bias, gen) {}
  /// The same, drawing from Generator(Generator::kDefaultSeed) (see Linear's constructor).
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true)
      : GRUCell(input_size, hidden_size, detail::as_lvalue(Generator()), bias) {}

  /// One step: x [B, I], state {h} [B, H] -> {h'}.
  State step(Var<T> x, const State& state);
  /// x [N, I] -> x·W_ihᵀ + b_ih [N, 3H] (b_hh stays in the step: b_hn is gated by r).
  Var<T> project_input(Var<T> x) { return this->project(x, false); }
  State step_projected(Var<T> xp, const State& state);
};

extern template class GRUCell<float>;
extern template class GRUCell<double>;

}  // namespace rwd
