// oneDNN's training step of one recurrent layer (vanilla_rnn with tanh, lstm, lbr_gru; one
// or two directions), set up from weights in PyTorch's layout and reporting gradients in it:
// the peer of BM_TrainStep (bench/onednn_steps.cpp), held to rewind's layers on small shapes
// by tests/bench/test_onednn_peer.cpp. float32 on the CPU engine.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace rwd::bench {

enum class PeerCell { kRnn, kLstm, kGru };

struct PeerShape {
  int64_t steps;   // T
  int64_t batch;   // B
  int64_t input;   // I
  int64_t hidden;  // H
  bool bidirectional = false;
};

/// One direction's parameters (or their gradients) in PyTorch's layout, gates in PyTorch's
/// order (LSTM i, f, g, o; GRU r, z, n).
struct TorchWeights {
  std::vector<float> weight_ih;  // [G·H, I]
  std::vector<float> weight_hh;  // [G·H, H]
  std::vector<float> bias_ih;    // [G·H]
  std::vector<float> bias_hh;    // [G·H]
};

/// PyTorch's number of gates: 1, 4, 3.
int torch_gates(PeerCell cell);

/// One layer's forward_training and backward primitives with every buffer they use, made
/// once; step() runs forward, loss = sum of y², backward. The weights are reordered into the
/// primitives' preferred layouts in the constructor, the initial states are explicit zeros.
class OneDNNTrainStep {
 public:
  /// weights: one per direction, forward then reverse.
  OneDNNTrainStep(PeerCell cell, const PeerShape& shape, const std::vector<TorchWeights>& weights);

  /// Copies x [T, B, I] into the primitive's input.
  void set_input(std::span<const float> x);
  /// Forward; dy = 2·y; the weight gradients zeroed (oneDNN accumulates into them); backward.
  void step();

  /// y [T, B, D·H], the reverse direction after the forward one as in PyTorch.
  [[nodiscard]] std::span<const float> output() const;
  /// dloss/dx [T, B, I].
  [[nodiscard]] std::span<const float> input_grad() const;
  /// The gradients of direction `direction`'s parameters, in PyTorch's layout.
  [[nodiscard]] TorchWeights grads(int direction);

 private:
  void make_primitives();
  void load_weights(const std::vector<TorchWeights>& weights);

  PeerCell cell_;
  PeerShape shape_;
  int64_t directions_;
  int64_t gates_;       // oneDNN's gates: as PyTorch's
  int64_t bias_gates_;  // lbr_gru has a fourth, for the hidden candidate's bias b_hn
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive forward_;
  dnnl::primitive backward_;
  dnnl::memory::desc user_weights_layer_;  // [1, D, I, G, H] ldigo
  dnnl::memory::desc user_weights_iter_;   // [1, D, H, G, H] ldigo
  std::unordered_map<int, dnnl::memory> forward_args_;
  std::unordered_map<int, dnnl::memory> backward_args_;
};

}  // namespace rwd::bench
