// GRU step arithmetic.
#include "rewind/layers/gru_cell.hpp"

#include "rewind/ops/rnn.hpp"

namespace rwd {

template <Scalar T>
typename GRUCell<T>::State GRUCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename GRUCell<T>::State GRUCell<T>::step_projected(Var<T> xp, const State& state) {
  const Var<T> h = state[0];
  return {gru_pointwise(xp, this->hidden_product(h), h)};  // hp = h·W_hhᵀ + b_hh [B, 3H]
}

template class GRUCell<float>;
template class GRUCell<double>;

}  // namespace rwd
