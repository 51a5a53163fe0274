// Elman RNN step arithmetic.
#include "rewind/layers/rnn_cell.hpp"

#include "rewind/ops/activation.hpp"
#include "rewind/ops/linalg.hpp"

namespace rwd {

template <Scalar T>
typename RNNCell<T>::State RNNCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename RNNCell<T>::State RNNCell<T>::step_projected(Var<T> xp, const State& state) {
  Var<T> pre = this->add_hidden_product(xp, state[0]);  // xp + h·W_hhᵀ
  return {nonlinearity_ == Nonlinearity::kTanh ? tanh(pre) : relu(pre)};
}

template class RNNCell<float>;
template class RNNCell<double>;

}  // namespace rwd
