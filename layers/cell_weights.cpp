// Shared parameter handling of the built-in cells.
#include "rewind/layers/cell_weights.hpp"

#include <fmt/format.h>

#include <cmath>

#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/linalg.hpp"

namespace rwd {

template <Scalar T>
CellWeights<T>::CellWeights(const char* cell_name, int64_t input_size, int64_t hidden_size,
                            int64_t gates, bool bias, Generator& gen, int64_t output_size)
    : cell_name_(cell_name),
      input_size_(input_size),
      hidden_size_(hidden_size),
      output_size_(output_size),
      has_bias_(bias) {
  if (input_size <= 0 || hidden_size <= 0)
    throw ValueError(fmt::format("{}: input_size ({}) and hidden_size ({}) must be positive",
                                 cell_name, input_size, hidden_size));
  const double k = 1.0 / std::sqrt(double(hidden_size));
  const int64_t rows = gates * hidden_size;
  weight_ih_ = Parameter<T>(Tensor<T>::uniform({rows, input_size}, -k, k, gen));
  weight_hh_ = Parameter<T>(Tensor<T>::uniform({rows, output_size}, -k, k, gen));
  if (bias) {
    bias_ih_ = Parameter<T>(Tensor<T>::uniform({rows}, -k, k, gen));
    bias_hh_ = Parameter<T>(Tensor<T>::uniform({rows}, -k, k, gen));
  }
}

template <Scalar T>
void CellWeights<T>::visit(ModuleVisitor<T>& v) {
  v.parameter("weight_ih", weight_ih_);
  v.parameter("weight_hh", weight_hh_);
  if (has_bias_) {
    v.parameter("bias_ih", bias_ih_);
    v.parameter("bias_hh", bias_hh_);
  }
}

template <Scalar T>
Var<T> CellWeights<T>::project(Var<T> x, bool fold_hidden_bias) {
  Graph<T>& g = x.graph();
  if (!has_bias_) return matmul(x, g.param(weight_ih_), false, true);
  Var<T> bias = g.param(bias_ih_);
  if (fold_hidden_bias) bias = bias + g.param(bias_hh_);
  return linear(x, g.param(weight_ih_), bias);
}

template <Scalar T>
Var<T> CellWeights<T>::hidden_product(Var<T> h) {
  Graph<T>& g = h.graph();
  if (!has_bias_) return matmul(h, hidden_weight(g), false, true);
  return addmm(g.param(bias_hh_), h, hidden_weight(g), false, true);
}

template <Scalar T>
Var<T> CellWeights<T>::add_hidden_product(Var<T> base, Var<T> h) {
  return addmm(base, h, hidden_weight(h.graph()), false, true);
}

template <Scalar T>
void CellWeights<T>::check_step(Var<T> x, std::span<const Var<T>> state) const {
  const Shape xs = x.shape();
  if (xs.rank() != 2 || xs[1] != input_size_)
    throw ShapeError(fmt::format("{}: step input must be [batch, {}], got {}", cell_name_,
                                 input_size_, xs.str()));
  for (size_t k = 0; k < state.size(); ++k) {
    if (state[k].empty())
      throw GraphError(
          fmt::format("{}: state value {} is empty (use zero_state())", cell_name_, k));
    const Shape ss = state[k].shape();
    const int64_t width = k == 0 ? output_size_ : hidden_size_;
    if (!(ss == Shape{xs[0], width}))
      throw ShapeError(fmt::format("{}: state value {} has shape {}, expected [{}, {}]", cell_name_,
                                   k, ss.str(), xs[0], width));
    if (&state[k].graph() != &x.graph())
      throw GraphError(fmt::format("{}: state value {} belongs to a different graph than the input",
                                   cell_name_, k));
  }
}

template class CellWeights<float>;
template class CellWeights<double>;

}  // namespace rwd
