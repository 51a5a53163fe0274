// LSTM step arithmetic, and the optional projection of h.
#include "rewind/layers/lstm_cell.hpp"

#include <fmt/format.h>

#include <cmath>

#include "rewind/ops/linalg.hpp"
#include "rewind/ops/rnn.hpp"

namespace rwd {
namespace {

// The width of h: proj_size when there is a projection, else hidden_size. Checked here,
// before CellWeights shapes W_hh with it.
int64_t output_size_for(int64_t hidden_size, int64_t proj_size) {
  if (proj_size < 0 || (proj_size > 0 && proj_size >= hidden_size))
    throw ValueError(fmt::format(
        "LSTMCell: proj_size ({}) must be 0 (no projection) or less than hidden_size ({})",
        proj_size, hidden_size));
  return proj_size > 0 ? proj_size : hidden_size;
}

}  // namespace

template <Scalar T>
LSTMCell<T>::LSTMCell(int64_t input_size, int64_t hidden_size, Generator& gen, bool bias,
                      int64_t proj_size)
    : CellWeights<T>("LSTMCell", input_size, hidden_size, 4, bias, gen,
                     output_size_for(hidden_size, proj_size)),
      proj_size_(proj_size) {
  if (proj_size > 0) {
    const double k = 1.0 / std::sqrt(double(hidden_size));  // as the other weights
    weight_hr_ = Parameter<T>(Tensor<T>::uniform({proj_size, hidden_size}, -k, k, gen));
  }
}

template <Scalar T>
void LSTMCell<T>::visit(ModuleVisitor<T>& v) {
  CellWeights<T>::visit(v);
  if (proj_size_ > 0) v.parameter("weight_hr", weight_hr_);
}

template <Scalar T>
typename LSTMCell<T>::State LSTMCell<T>::step(Var<T> x, const State& state) {
  this->check_step(x, state);
  return step_projected(project_input(x), state);
}

template <Scalar T>
typename LSTMCell<T>::State LSTMCell<T>::step_projected(Var<T> xp, const State& state) {
  Var<T> gates = this->add_hidden_product(xp, state[0]);  // [B, 4H] = xp + h·W_hhᵀ
  Var<T> hc = lstm_pointwise(gates, state[1]);            // [2, B, H]: σ(o)∘tanh(c'), c'
  Var<T> h = lstm_hidden(hc);                             // [B, H]
  if (proj_size_ > 0) h = matmul(h, h.graph().param(weight_hr_), false, true);  // [B, P]
  return {h, lstm_cell_state(hc)};
}

template class LSTMCell<float>;
template class LSTMCell<double>;

}  // namespace rwd
