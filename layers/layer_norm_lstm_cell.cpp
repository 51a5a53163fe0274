// Layer-normalised LSTM step arithmetic.
#include "rewind/layers/layer_norm_lstm_cell.hpp"

#include "rewind/ops/activation.hpp"
#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {

template <Scalar T>
LayerNormLSTMCell<T>::LayerNormLSTMCell(int64_t input_size, int64_t hidden_size, Generator& gen,
                                        bool bias)
    // No bias_ih / bias_hh: the norms' β are the gate biases.
    : CellWeights<T>("LayerNormLSTMCell", input_size, hidden_size, 4, false, gen),
      ln_ih_(4 * hidden_size, bias),
      ln_hh_(4 * hidden_size, bias),
      ln_c_(hidden_size, bias) {}

template <Scalar T>
void LayerNormLSTMCell<T>::visit(ModuleVisitor<T>& v) {
  CellWeights<T>::visit(v);
  ln_ih_.visit(v, "ln_ih");
  ln_hh_.visit(v, "ln_hh");
  ln_c_.visit(v, "ln_c");
}

template <Scalar T>
typename LayerNormLSTMCell<T>::State LayerNormLSTMCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename LayerNormLSTMCell<T>::State LayerNormLSTMCell<T>::step_projected(Var<T> xp,
                                                                          const State& state) {
  const auto& [h, c] = state;
  const Var<T> gates = xp + ln_hh_(this->hidden_product(h));    // [B, 4H]
  const auto [i, f, g, o] = chunk<4>(gates, 1);                 // each [B, H]
  const Var<T> c_next = sigmoid(f) * c + sigmoid(i) * tanh(g);  // [B, H]
  return {sigmoid(o) * tanh(ln_c_(c_next)), c_next};
}

template class LayerNormLSTMCell<float>;
template class LayerNormLSTMCell<double>;

}  // namespace rwd
