// Peephole LSTM step arithmetic.
#include "rewind/layers/peephole_lstm_cell.hpp"

#include <cmath>

#include "rewind/ops/activation.hpp"
#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {

template <Scalar T>
PeepholeLSTMCell<T>::PeepholeLSTMCell(int64_t input_size, int64_t hidden_size, Generator& gen,
                                      bool bias)
    : CellWeights<T>("PeepholeLSTMCell", input_size, hidden_size, 4, bias, gen) {
  const double k = 1.0 / std::sqrt(double(hidden_size));
  weight_ci_ = Parameter<T>(Tensor<T>::uniform({hidden_size}, -k, k, gen));
  weight_cf_ = Parameter<T>(Tensor<T>::uniform({hidden_size}, -k, k, gen));
  weight_co_ = Parameter<T>(Tensor<T>::uniform({hidden_size}, -k, k, gen));
}

template <Scalar T>
void PeepholeLSTMCell<T>::visit(ModuleVisitor<T>& v) {
  CellWeights<T>::visit(v);
  v.parameter("weight_ci", weight_ci_);
  v.parameter("weight_cf", weight_cf_);
  v.parameter("weight_co", weight_co_);
}

template <Scalar T>
typename PeepholeLSTMCell<T>::State PeepholeLSTMCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename PeepholeLSTMCell<T>::State PeepholeLSTMCell<T>::step_projected(Var<T> xp,
                                                                        const State& state) {
  Graph<T>& graph = xp.graph();
  const auto& [h, c] = state;
  const Var<T> gates = this->add_hidden_product(xp, h);         // [B, 4H]
  const auto [a_i, a_f, a_g, a_o] = chunk<4>(gates, 1);         // each [B, H]
  const Var<T> i = sigmoid(a_i + graph.param(weight_ci_) * c);  // w [H] broadcast over rows
  const Var<T> f = sigmoid(a_f + graph.param(weight_cf_) * c);
  const Var<T> c_next = f * c + i * tanh(a_g);
  const Var<T> o = sigmoid(a_o + graph.param(weight_co_) * c_next);
  return {o * tanh(c_next), c_next};
}

template class PeepholeLSTMCell<float>;
template class PeepholeLSTMCell<double>;

}  // namespace rwd
