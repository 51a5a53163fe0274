// Recurrent cells written the way a user writes them: outside namespace rwd, from public ops
// only (linear, matmul, + - * on Vars, sigmoid, tanh, chunk, layer_norm; no fused RNN op),
// and run by rwd::Recurrent<Cell> like the built-in layers. bench_rnn times them against the
// built-in cells (BM_UserCellTrainStep next to BM_TrainStep), and
// tests/layers/test_user_cells.cpp holds the LSTM and GRU cells to the built-in ones. They
// live here, beside alloc_counter.hpp, because tests and benchmarks both include tests/.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include <rewind/rewind.hpp>

namespace user_cells {

/// Uniform in ±1/sqrt(hidden), as PyTorch's (and rewind's) recurrent cells start.
template <rwd::Scalar T>
rwd::Tensor<T> uniform_init(const rwd::Shape& shape, int64_t hidden, rwd::Generator& gen) {
  const double k = 1.0 / std::sqrt(double(hidden));
  return rwd::Tensor<T>::uniform(shape, -k, k, gen);
}

/// PyTorch's LSTM step, gates in its order i, f, g, o:
///   [i f g o] = x·W_ihᵀ + b_ih + b_hh + h·W_hhᵀ
///   c' = σ(f)∘c + σ(i)∘tanh(g),   h' = σ(o)∘tanh(c')
/// Parameters, their names, shapes and initial draws are rwd::LSTMCell's, so state dicts
/// move between the two.
template <rwd::Scalar T>
class LSTMCell : public rwd::Module<T> {
 public:
  using Scalar = T;
  using State = std::array<rwd::Var<T>, 2>;  // {h, c}, each [B, H]

  LSTMCell(int64_t input_size, int64_t hidden_size, rwd::Generator& gen)
      : weight_ih_(uniform_init<T>({4 * hidden_size, input_size}, hidden_size, gen)),
        weight_hh_(uniform_init<T>({4 * hidden_size, hidden_size}, hidden_size, gen)),
        bias_ih_(uniform_init<T>({4 * hidden_size}, hidden_size, gen)),
        bias_hh_(uniform_init<T>({4 * hidden_size}, hidden_size, gen)) {}

  [[nodiscard]] int64_t input_size() const { return weight_ih_.shape()[1]; }
  [[nodiscard]] int64_t hidden_size() const { return weight_hh_.shape()[1]; }

  /// The input part of the gates for all steps in one product: x [N, I] -> [N, 4H], both
  /// biases in it (neither is gated).
  rwd::Var<T> project_input(rwd::Var<T> x) {
    rwd::Graph<T>& g = x.graph();
    return rwd::linear(x, g.param(weight_ih_), g.param(bias_ih_) + g.param(bias_hh_));
  }
  /// One step from a projected input xp [B, 4H].
  State step_projected(rwd::Var<T> xp, const State& state) {
    rwd::Graph<T>& graph = xp.graph();
    const auto& [h, c] = state;
    const rwd::Var<T> gates = xp + rwd::matmul(h, graph.param(weight_hh_), false, true);
    const auto [i, f, g, o] = rwd::chunk<4>(gates, 1);  // each [B, H]
    const rwd::Var<T> c_next = rwd::sigmoid(f) * c + rwd::sigmoid(i) * rwd::tanh(g);
    return {rwd::sigmoid(o) * rwd::tanh(c_next), c_next};
  }
  State step(rwd::Var<T> x, const State& state) { return step_projected(project_input(x), state); }

  void visit(rwd::ModuleVisitor<T>& v) override {
    v.parameter("weight_ih", weight_ih_);
    v.parameter("weight_hh", weight_hh_);
    v.parameter("bias_ih", bias_ih_);
    v.parameter("bias_hh", bias_hh_);
  }

 private:
  rwd::Parameter<T> weight_ih_;  // [4H, I]
  rwd::Parameter<T> weight_hh_;  // [4H, H]
  rwd::Parameter<T> bias_ih_;    // [4H]
  rwd::Parameter<T> bias_hh_;    // [4H]
};

/// PyTorch's GRU step, gates in its order r, z, n, the reset gate applied to W_hn h + b_hn:
///   r = σ(W_ir x + b_ir + W_hr h + b_hr),   z = σ(W_iz x + b_iz + W_hz h + b_hz)
///   n = tanh(W_in x + b_in + r∘(W_hn h + b_hn)),   h' = (1 − z)∘n + z∘h
/// Parameters as rwd::GRUCell's.
template <rwd::Scalar T>
class GRUCell : public rwd::Module<T> {
 public:
  using Scalar = T;
  using State = std::array<rwd::Var<T>, 1>;  // {h} [B, H]

  GRUCell(int64_t input_size, int64_t hidden_size, rwd::Generator& gen)
      : weight_ih_(uniform_init<T>({3 * hidden_size, input_size}, hidden_size, gen)),
        weight_hh_(uniform_init<T>({3 * hidden_size, hidden_size}, hidden_size, gen)),
        bias_ih_(uniform_init<T>({3 * hidden_size}, hidden_size, gen)),
        bias_hh_(uniform_init<T>({3 * hidden_size}, hidden_size, gen)) {}

  [[nodiscard]] int64_t input_size() const { return weight_ih_.shape()[1]; }
  [[nodiscard]] int64_t hidden_size() const { return weight_hh_.shape()[1]; }

  /// x [N, I] -> x·W_ihᵀ + b_ih [N, 3H] for all steps (b_hh stays in the step: b_hn is
  /// gated by r).
  rwd::Var<T> project_input(rwd::Var<T> x) {
    rwd::Graph<T>& g = x.graph();
    return rwd::linear(x, g.param(weight_ih_), g.param(bias_ih_));
  }
  /// One step from a projected input xp [B, 3H].
  State step_projected(rwd::Var<T> xp, const State& state) {
    rwd::Graph<T>& graph = xp.graph();
    const rwd::Var<T> h = state[0];
    const rwd::Var<T> hp = rwd::linear(h, graph.param(weight_hh_), graph.param(bias_hh_));
    const auto [x_r, x_z, x_n] = rwd::chunk<3>(xp, 1);  // each [B, H]
    const auto [h_r, h_z, h_n] = rwd::chunk<3>(hp, 1);
    const rwd::Var<T> r = rwd::sigmoid(x_r + h_r);
    const rwd::Var<T> z = rwd::sigmoid(x_z + h_z);
    const rwd::Var<T> n = rwd::tanh(x_n + r * h_n);
    return {(T(1) - z) * n + z * h};
  }
  State step(rwd::Var<T> x, const State& state) { return step_projected(project_input(x), state); }

  void visit(rwd::ModuleVisitor<T>& v) override {
    v.parameter("weight_ih", weight_ih_);
    v.parameter("weight_hh", weight_hh_);
    v.parameter("bias_ih", bias_ih_);
    v.parameter("bias_hh", bias_hh_);
  }

 private:
  rwd::Parameter<T> weight_ih_;  // [3H, I]
  rwd::Parameter<T> weight_hh_;  // [3H, H]
  rwd::Parameter<T> bias_ih_;    // [3H]
  rwd::Parameter<T> bias_hh_;    // [3H]
};

/// LSTM with layer normalisation (Ba et al. 2016, "Layer Normalization", eqs. 20-22, as
/// Haste's LayerNormLSTM): the input and the recurrent products are normalised separately,
/// and the cell state before the tanh that makes h:
///   [i f g o] = LN(x·W_ihᵀ; γ_ih, β_ih) + LN(h·W_hhᵀ; γ_hh, β_hh)
///   c' = σ(f)∘c + σ(i)∘tanh(g),   h' = σ(o)∘tanh(LN(c'; γ_c, β_c))
/// LN is layer_norm over the last axis. Each norm has its own gain (starting at 1) and bias
/// (at 0); β_ih + β_hh is the gates' bias, so there is no other. The input norm is per row,
/// so project_input normalises all steps' input products at once.
template <rwd::Scalar T>
class LayerNormLSTMCell : public rwd::Module<T> {
 public:
  using Scalar = T;
  using State = std::array<rwd::Var<T>, 2>;  // {h, c}, each [B, H]; c not normalised

  LayerNormLSTMCell(int64_t input_size, int64_t hidden_size, rwd::Generator& gen)
      : weight_ih_(uniform_init<T>({4 * hidden_size, input_size}, hidden_size, gen)),
        weight_hh_(uniform_init<T>({4 * hidden_size, hidden_size}, hidden_size, gen)),
        gain_ih_(rwd::Tensor<T>::ones({4 * hidden_size})),
        bias_ih_(rwd::Tensor<T>::zeros({4 * hidden_size})),
        gain_hh_(rwd::Tensor<T>::ones({4 * hidden_size})),
        bias_hh_(rwd::Tensor<T>::zeros({4 * hidden_size})),
        gain_c_(rwd::Tensor<T>::ones({hidden_size})),
        bias_c_(rwd::Tensor<T>::zeros({hidden_size})) {}

  [[nodiscard]] int64_t input_size() const { return weight_ih_.shape()[1]; }
  [[nodiscard]] int64_t hidden_size() const { return weight_hh_.shape()[1]; }

  /// LN(x·W_ihᵀ; γ_ih, β_ih) for all steps: x [N, I] -> [N, 4H].
  rwd::Var<T> project_input(rwd::Var<T> x) {
    rwd::Graph<T>& g = x.graph();
    return rwd::layer_norm(rwd::matmul(x, g.param(weight_ih_), false, true), g.param(gain_ih_),
                           g.param(bias_ih_));
  }
  /// One step from a projected (and normalised) input xp [B, 4H].
  State step_projected(rwd::Var<T> xp, const State& state) {
    rwd::Graph<T>& graph = xp.graph();
    const auto& [h, c] = state;
    const rwd::Var<T> hp = rwd::matmul(h, graph.param(weight_hh_), false, true);  // [B, 4H]
    const rwd::Var<T> gates =
        xp + rwd::layer_norm(hp, graph.param(gain_hh_), graph.param(bias_hh_));
    const auto [i, f, g, o] = rwd::chunk<4>(gates, 1);  // each [B, H]
    const rwd::Var<T> c_next = rwd::sigmoid(f) * c + rwd::sigmoid(i) * rwd::tanh(g);
    const rwd::Var<T> c_norm = rwd::layer_norm(c_next, graph.param(gain_c_), graph.param(bias_c_));
    return {rwd::sigmoid(o) * rwd::tanh(c_norm), c_next};
  }
  State step(rwd::Var<T> x, const State& state) { return step_projected(project_input(x), state); }

  void visit(rwd::ModuleVisitor<T>& v) override {
    v.parameter("weight_ih", weight_ih_);
    v.parameter("weight_hh", weight_hh_);
    v.parameter("gain_ih", gain_ih_);
    v.parameter("bias_ih", bias_ih_);
    v.parameter("gain_hh", gain_hh_);
    v.parameter("bias_hh", bias_hh_);
    v.parameter("gain_c", gain_c_);
    v.parameter("bias_c", bias_c_);
  }

 private:
  rwd::Parameter<T> weight_ih_;  // [4H, I]
  rwd::Parameter<T> weight_hh_;  // [4H, H]
  rwd::Parameter<T> gain_ih_;    // [4H]
  rwd::Parameter<T> bias_ih_;    // [4H]
  rwd::Parameter<T> gain_hh_;    // [4H]
  rwd::Parameter<T> bias_hh_;    // [4H]
  rwd::Parameter<T> gain_c_;     // [H]
  rwd::Parameter<T> bias_c_;     // [H]
};

static_assert(rwd::ProjectingCell<LSTMCell<float>>);
static_assert(rwd::ProjectingCell<GRUCell<float>>);
static_assert(rwd::ProjectingCell<LayerNormLSTMCell<float>>);

/// A sequence layer of `Cell` through the generic driver. These cells always have biases:
/// options.bias = false is a ValueError.
template <class Cell>
rwd::Recurrent<Cell> make_layer(const char* name, const rwd::RecurrentOptions& options,
                                rwd::Generator& gen) {
  if (!options.bias)
    throw rwd::ValueError(std::string(name) + ": this user cell always has biases");
  return rwd::Recurrent<Cell>(
      name, options,
      [](int64_t in, int64_t hidden, bool, rwd::Generator& g) { return Cell(in, hidden, g); }, gen);
}

}  // namespace user_cells
