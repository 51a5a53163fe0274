// GRU step arithmetic.
#include "rewind/layers/gru_cell.hpp"

#include "rewind/ops/activation.hpp"
#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {

template <Scalar T>
typename GRUCell<T>::State GRUCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename GRUCell<T>::State GRUCell<T>::step_projected(Var<T> xp, const State& state) {
  const Var<T> h = state[0];
  const auto [xr, xz, xn] = chunk<3>(xp, 1);                             // each [B, H]
  const auto [hr, hz, hn] = chunk<3>(this->hidden_product(h, true), 1);  // with b_hh
  Var<T> r = sigmoid(xr + hr);
  Var<T> z = sigmoid(xz + hz);
  Var<T> n = tanh(xn + r * hn);
  return {n + z * (h - n)};  // = (1 - z) n + z h
}

template class GRUCell<float>;
template class GRUCell<double>;

}  // namespace rwd
