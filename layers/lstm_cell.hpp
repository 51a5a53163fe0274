// LSTMCell: one step of a long short-term memory (Hochreiter & Schmidhuber 1997, with the
// forget gate of Gers et al. 2000), in PyTorch's formulation and gate order i, f, g, o:
//   [i f g o] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh
//   c' = σ(f) ∘ c + σ(i) ∘ tanh(g),   h' = σ(o) ∘ tanh(c')
// With proj_size P > 0 (the projection of Sak et al. 2014, "LSTMP", as torch.nn.LSTM's
// proj_size): h' = (σ(o) ∘ tanh(c'))·W_hrᵀ with W_hr [P, H], so h is [B, P], c stays [B, H]
// and W_hh is [4H, P].
// Built from engine ops (addmm for the step's product, lstm_pointwise for the gate math,
// matmul for the projection; each an ordinary op in ops/ with its own backward and gradient
// check): the cell itself has no gradient code.
#pragma once

#include <array>

#include "rewind/layers/cell_weights.hpp"

namespace rwd {

template <Scalar T>
class LSTMCell : public CellWeights<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 2>;  // {h [B, O], c [B, H]}; O = proj_size or H

  /// proj_size: 0 (no projection) or 1..hidden_size-1; ValueError otherwise.
  LSTMCell(int64_t input_size, int64_t hidden_size, Generator& gen, bool bias = true,
           int64_t proj_size = 0);
  /// The same, drawing from Generator(Generator::kDefaultSeed) (see Linear's constructor).
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true)
      : LSTMCell(input_size, hidden_size, detail::as_lvalue(Generator()), bias) {}

  /// 0 when the cell has no projection.
  [[nodiscard]] int64_t proj_size() const { return proj_size_; }
  /// W_hr [P, H]; nullptr when the cell has no projection.
  [[nodiscard]] Parameter<T>* weight_hr() { return proj_size_ > 0 ? &weight_hr_ : nullptr; }

  /// One step: x [B, I], state {h [B, O], c [B, H]} -> {h', c'}.
  State step(Var<T> x, const State& state);

  /// The input part of the gates for many rows at once: x [N, I] -> [N, 4H] (both biases
  /// folded in). The sequence driver calls this once for all time steps.
  Var<T> project_input(Var<T> x) { return this->project(x, true); }
  /// One step from an already projected input xp [B, 4H].
  State step_projected(Var<T> xp, const State& state);

  /// CellWeights' parameters, then weight_hr with a projection (PyTorch's order).
  void visit(ModuleVisitor<T>& v) override;

 private:
  int64_t proj_size_;
  Parameter<T> weight_hr_;  // [P, H]
};

extern template class LSTMCell<float>;
extern template class LSTMCell<double>;

}  // namespace rwd
