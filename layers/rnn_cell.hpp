// RNNCell: the Elman recurrence h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh), act tanh or relu,
// as PyTorch's nn.RNNCell.
#pragma once

#include <array>

#include "rewind/layers/cell_weights.hpp"

namespace rwd {

enum class Nonlinearity { kTanh, kRelu };

template <Scalar T>
class RNNCell : public CellWeights<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 1>;  // {h} [B, H]

  RNNCell(int64_t input_size, int64_t hidden_size, Generator& gen, bool bias = true,
          Nonlinearity nonlinearity = Nonlinearity::kTanh)
      : CellWeights<T>("RNNCell", input_size, hidden_size, 1, bias, gen),
        nonlinearity_(nonlinearity) {}
  /// The same, drawing from Generator(Generator::kDefaultSeed) (see Linear's constructor).
  RNNCell(int64_t input_size, int64_t hidden_size, bool bias = true,
          Nonlinearity nonlinearity = Nonlinearity::kTanh)
      : RNNCell(input_size, hidden_size, detail::as_lvalue(Generator()), bias, nonlinearity) {}

  /// One step: x [B, I], state {h} [B, H] -> {h'}.
  State step(Var<T> x, const State& state);
  /// x [N, I] -> [N, H] with both biases folded in.
  Var<T> project_input(Var<T> x) { return this->project(x, true); }
  State step_projected(Var<T> xp, const State& state);

  [[nodiscard]] Nonlinearity nonlinearity() const { return nonlinearity_; }

 private:
  Nonlinearity nonlinearity_;
};

extern template class RNNCell<float>;
extern template class RNNCell<double>;

}  // namespace rwd
