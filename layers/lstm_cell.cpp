// LSTM step arithmetic.
#include "rewind/layers/lstm_cell.hpp"

#include "rewind/ops/rnn.hpp"

namespace rwd {

template <Scalar T>
typename LSTMCell<T>::State LSTMCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename LSTMCell<T>::State LSTMCell<T>::step_projected(Var<T> xp, const State& state) {
  Var<T> gates = this->add_hidden_product(xp, state[0]);  // [B, 4H] = xp + h·W_hhᵀ
  Var<T> hc = lstm_pointwise(gates, state[1]);            // [2, B, H]: h', c'
  return {lstm_hidden(hc), lstm_cell_state(hc)};
}

template class LSTMCell<float>;
template class LSTMCell<double>;

}  // namespace rwd
