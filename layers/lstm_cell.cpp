// LSTM step arithmetic.
#include "rewind/layers/lstm_cell.hpp"

#include "rewind/ops/activation.hpp"
#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {

template <Scalar T>
typename LSTMCell<T>::State LSTMCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename LSTMCell<T>::State LSTMCell<T>::step_projected(Var<T> xp, const State& state) {
  const Var<T> h = state[0];
  const Var<T> c = state[1];
  Var<T> gates = xp + this->hidden_product(h, false);  // [B, 4H]
  const auto [i, f, g, o] = chunk<4>(gates, 1);
  Var<T> c_next = sigmoid(f) * c + sigmoid(i) * tanh(g);
  Var<T> h_next = sigmoid(o) * tanh(c_next);
  return {h_next, c_next};
}

template class LSTMCell<float>;
template class LSTMCell<double>;

}  // namespace rwd
