// CellWeights: the parameters every built-in recurrent cell has, in PyTorch's layout:
// weight_ih [G·H, I], weight_hh [G·H, O], bias_ih and bias_hh [G·H], G gates stacked in
// PyTorch's order, all initialised uniform in ±1/sqrt(H). O, the width of the output h that
// the cell feeds back, is H except for an LSTM with a projection (O = proj_size). RNNCell
// (G = 1), LSTMCell (G = 4) and GRUCell (G = 3) add only their step arithmetic.
#pragma once

#include <cstdint>
#include <span>

#include "rewind/core/graph.hpp"
#include "rewind/core/random.hpp"
#include "rewind/layers/module.hpp"

namespace rwd {

template <Scalar T>
class CellWeights : public Module<T> {
 public:
  [[nodiscard]] int64_t input_size() const { return input_size_; }
  [[nodiscard]] int64_t hidden_size() const { return hidden_size_; }
  /// The width of the output h (state element 0): hidden_size, or an LSTM's proj_size.
  [[nodiscard]] int64_t output_size() const { return output_size_; }
  [[nodiscard]] bool has_bias() const { return has_bias_; }
  [[nodiscard]] Parameter<T>& weight_ih() { return weight_ih_; }
  [[nodiscard]] Parameter<T>& weight_hh() { return weight_hh_; }
  /// nullptr when the cell has no biases.
  [[nodiscard]] Parameter<T>* bias_ih() { return has_bias_ ? &bias_ih_ : nullptr; }
  [[nodiscard]] Parameter<T>* bias_hh() { return has_bias_ ? &bias_hh_ : nullptr; }

  /// Weight drop's seam (layers/regularizers.hpp): until called again with an empty Var,
  /// the hidden products use `w` [G·H, O] (a masked W_hh on the current graph) in place of
  /// the parameter weight_hh.
  void use_hidden_weight(Var<T> w) { hidden_weight_ = w; }

  /// weight_ih, weight_hh, then (with biases) bias_ih, bias_hh: PyTorch's names.
  void visit(ModuleVisitor<T>& v) override;

 protected:
  CellWeights(const char* cell_name, int64_t input_size, int64_t hidden_size, int64_t gates,
              bool bias, Generator& gen)
      : CellWeights(cell_name, input_size, hidden_size, gates, bias, gen, hidden_size) {}
  /// For a cell whose h is not hidden_size wide: output_size is O, the width of the h that
  /// weight_hh multiplies (an LSTM's proj_size).
  CellWeights(const char* cell_name, int64_t input_size, int64_t hidden_size, int64_t gates,
              bool bias, Generator& gen, int64_t output_size);

  /// x [N, I] -> x·W_ihᵀ + b_ih [N, G·H]; with fold_hidden_bias, b_hh is added too (one
  /// broadcast add of b_ih + b_hh), for cells whose b_hh is not gated.
  Var<T> project(Var<T> x, bool fold_hidden_bias);
  /// h [B, O] -> h·W_hhᵀ + b_hh [B, G·H] (without b_hh when the cell has no biases).
  Var<T> hidden_product(Var<T> h);
  /// base [B, G·H] + h·W_hhᵀ in one node (addmm).
  Var<T> add_hidden_product(Var<T> base, Var<T> h);
  /// For the per-step API: x must be [B, I], state value 0 (h) [B, O] and every other one
  /// [B, H], all on x's graph.
  /// Throws ShapeError naming the cell and the shapes.
  void check_step(Var<T> x, std::span<const Var<T>> state) const;

  [[nodiscard]] const char* cell_name() const { return cell_name_; }

 private:
  // W_hh as the hidden products read it: the masked one when set, else the parameter.
  Var<T> hidden_weight(Graph<T>& g) {
    return hidden_weight_.empty() ? g.param(weight_hh_) : hidden_weight_;
  }

  const char* cell_name_;
  int64_t input_size_;
  int64_t hidden_size_;
  int64_t output_size_;
  bool has_bias_;
  Parameter<T> weight_ih_;  // [G·H, I]
  Parameter<T> weight_hh_;  // [G·H, O]
  Parameter<T> bias_ih_;    // [G·H]
  Parameter<T> bias_hh_;    // [G·H]
  Var<T> hidden_weight_;    // [G·H, O] masked W_hh during a forward with weight drop, or empty
};

extern template class CellWeights<float>;
extern template class CellWeights<double>;

}  // namespace rwd
