// Layer-normalised GRU step arithmetic.
#include "rewind/layers/layer_norm_gru_cell.hpp"

#include "rewind/ops/rnn.hpp"

namespace rwd {

template <Scalar T>
LayerNormGRUCell<T>::LayerNormGRUCell(int64_t input_size, int64_t hidden_size, Generator& gen,
                                      bool bias)
    // No bias_ih / bias_hh: the norms' β are the biases.
    : CellWeights<T>("LayerNormGRUCell", input_size, hidden_size, 3, false, gen),
      ln_ih_(3 * hidden_size, bias),
      ln_hh_(3 * hidden_size, bias) {}

template <Scalar T>
void LayerNormGRUCell<T>::visit(ModuleVisitor<T>& v) {
  CellWeights<T>::visit(v);
  ln_ih_.visit(v, "ln_ih");
  ln_hh_.visit(v, "ln_hh");
}

template <Scalar T>
typename LayerNormGRUCell<T>::State LayerNormGRUCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename LayerNormGRUCell<T>::State LayerNormGRUCell<T>::step_projected(Var<T> xp,
                                                                        const State& state) {
  const Var<T> h = state[0];
  const Var<T> hp = ln_hh_(this->hidden_product(h));  // [B, 3H]
  return {gru_pointwise(xp, hp, h)};
}

template class LayerNormGRUCell<float>;
template class LayerNormGRUCell<double>;

}  // namespace rwd
