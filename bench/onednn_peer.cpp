// oneDNN's training step of one recurrent layer from PyTorch-layout weights (see the header).
// Layouts: oneDNN's weights are ldigo [layers, directions, input, gates, output], PyTorch's
// [gates·H, input]; LSTM gates are i, f, c~, o in both; lbr_gru's are u, r, o where PyTorch's
// GRU has r, z, n (u = z, o = n), and its bias has a fourth gate, b_hn, that the reset gate
// multiplies with h·W_hnᵀ ("linear before reset", PyTorch's GRU).
#include "onednn_peer.hpp"

#include <cstring>
#include <stdexcept>

namespace rwd::bench {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

memory::desc f32_desc(const memory::dims& dims, Tag tag) {
  return {dims, memory::data_type::f32, tag};
}

float* data(const memory& m) {
  return static_cast<float*>(m.get_data_handle());
}

void fill_zero(const memory& m) {
  std::memset(m.get_data_handle(), 0, m.get_desc().get_size());
}

// The PyTorch gate of oneDNN's gate `gate`.
int64_t torch_gate(PeerCell cell, int64_t gate) {
  constexpr int64_t kGru[] = {1, 0, 2};  // u = z, r = r, o = n
  return cell == PeerCell::kGru ? kGru[gate] : gate;
}

}  // namespace

int torch_gates(PeerCell cell) {
  switch (cell) {
    case PeerCell::kRnn:
      return 1;
    case PeerCell::kLstm:
      return 4;
    case PeerCell::kGru:
      return 3;
  }
  return 0;
}

OneDNNTrainStep::OneDNNTrainStep(PeerCell cell, const PeerShape& shape,
                                 const std::vector<TorchWeights>& weights)
    : cell_(cell),
      shape_(shape),
      directions_(shape.bidirectional ? 2 : 1),
      gates_(torch_gates(cell)),
      bias_gates_(cell == PeerCell::kGru ? 4 : gates_),
      engine_(dnnl::engine::kind::cpu, 0),
      stream_(engine_) {
  if (int64_t(weights.size()) != directions_)
    throw std::invalid_argument("OneDNNTrainStep: one TorchWeights per direction");
  const int64_t d = directions_, h = shape_.hidden;
  user_weights_layer_ = f32_desc({1, d, shape_.input, gates_, h}, Tag::ldigo);
  user_weights_iter_ = f32_desc({1, d, h, gates_, h}, Tag::ldigo);
  make_primitives();
  load_weights(weights);
}

void OneDNNTrainStep::make_primitives() {
  using dnnl::prop_kind;
  const int64_t t = shape_.steps, b = shape_.batch, d = directions_, h = shape_.hidden;
  const auto direction = shape_.bidirectional ? dnnl::rnn_direction::bidirectional_concat
                                              : dnnl::rnn_direction::unidirectional_left2right;
  const memory::desc x = f32_desc({t, b, shape_.input}, Tag::tnc);
  const memory::desc y = f32_desc({t, b, d * h}, Tag::tnc);
  // Explicit zero initial states: with src_iter left out, oneDNN 2.6.3's weights_iter
  // gradient came out wrong.
  const memory::desc state = f32_desc({1, d, b, h}, Tag::ldnc);
  const memory::desc weights_layer = f32_desc({1, d, shape_.input, gates_, h}, Tag::any);
  const memory::desc weights_iter = f32_desc({1, d, h, gates_, h}, Tag::any);
  const memory::desc bias = f32_desc({1, d, bias_gates_, h}, Tag::ldgo);
  const memory::desc none;  // no final state
  dnnl::rnn_primitive_desc_base fwd, bwd;
  switch (cell_) {
    case PeerCell::kRnn: {
      const auto tanh = dnnl::algorithm::eltwise_tanh;
      const dnnl::vanilla_rnn_forward::desc fd(prop_kind::forward_training, tanh, direction, x,
                                               state, weights_layer, weights_iter, bias, y, none);
      const dnnl::vanilla_rnn_forward::primitive_desc f(fd, engine_);
      const dnnl::vanilla_rnn_backward::desc bd(prop_kind::backward, tanh, direction, x, state,
                                                weights_layer, weights_iter, bias, y, none, x,
                                                state, weights_layer, weights_iter, bias, y, none);
      const dnnl::vanilla_rnn_backward::primitive_desc bp(bd, engine_, f);
      forward_ = dnnl::vanilla_rnn_forward(f);
      backward_ = dnnl::vanilla_rnn_backward(bp);
      fwd = f;
      bwd = bp;
      break;
    }
    case PeerCell::kLstm: {
      const dnnl::lstm_forward::desc fd(prop_kind::forward_training, direction, x, state, state,
                                        weights_layer, weights_iter, bias, y, none, none);
      const dnnl::lstm_forward::primitive_desc f(fd, engine_);
      const dnnl::lstm_backward::desc bd(prop_kind::backward, direction, x, state, state,
                                         weights_layer, weights_iter, bias, y, none, none, x, state,
                                         state, weights_layer, weights_iter, bias, y, none, none);
      const dnnl::lstm_backward::primitive_desc bp(bd, engine_, f);
      forward_ = dnnl::lstm_forward(f);
      backward_ = dnnl::lstm_backward(bp);
      fwd = f;
      bwd = bp;
      break;
    }
    case PeerCell::kGru: {
      const dnnl::lbr_gru_forward::desc fd(prop_kind::forward_training, direction, x, state,
                                           weights_layer, weights_iter, bias, y, none);
      const dnnl::lbr_gru_forward::primitive_desc f(fd, engine_);
      const dnnl::lbr_gru_backward::desc bd(prop_kind::backward, direction, x, state, weights_layer,
                                            weights_iter, bias, y, none, x, state, weights_layer,
                                            weights_iter, bias, y, none);
      const dnnl::lbr_gru_backward::primitive_desc bp(bd, engine_, f);
      forward_ = dnnl::lbr_gru_forward(f);
      backward_ = dnnl::lbr_gru_backward(bp);
      fwd = f;
      bwd = bp;
      break;
    }
  }

  // Buffers both primitives read: the input, the zero initial states, the bias, the output
  // and the workspace the forward leaves for the backward.
  const memory src_layer(fwd.src_layer_desc(), engine_);
  const memory src_iter(fwd.src_iter_desc(), engine_);
  const memory bias_values(fwd.bias_desc(), engine_);
  const memory dst_layer(fwd.dst_layer_desc(), engine_);
  const memory workspace(fwd.workspace_desc(), engine_);
  fill_zero(src_iter);
  forward_args_ = {{DNNL_ARG_SRC_LAYER, src_layer},
                   {DNNL_ARG_SRC_ITER, src_iter},
                   {DNNL_ARG_WEIGHTS_LAYER, memory(fwd.weights_layer_desc(), engine_)},
                   {DNNL_ARG_WEIGHTS_ITER, memory(fwd.weights_iter_desc(), engine_)},
                   {DNNL_ARG_BIAS, bias_values},
                   {DNNL_ARG_DST_LAYER, dst_layer},
                   {DNNL_ARG_WORKSPACE, workspace}};
  // The backward's weights are its own copy, in its own preferred layout.
  backward_args_ = {{DNNL_ARG_SRC_LAYER, src_layer},
                    {DNNL_ARG_SRC_ITER, src_iter},
                    {DNNL_ARG_WEIGHTS_LAYER, memory(bwd.weights_layer_desc(), engine_)},
                    {DNNL_ARG_WEIGHTS_ITER, memory(bwd.weights_iter_desc(), engine_)},
                    {DNNL_ARG_BIAS, bias_values},
                    {DNNL_ARG_DST_LAYER, dst_layer},
                    {DNNL_ARG_WORKSPACE, workspace},
                    {DNNL_ARG_DIFF_SRC_LAYER, memory(bwd.diff_src_layer_desc(), engine_)},
                    {DNNL_ARG_DIFF_SRC_ITER, memory(bwd.diff_src_iter_desc(), engine_)},
                    {DNNL_ARG_DIFF_WEIGHTS_LAYER, memory(bwd.diff_weights_layer_desc(), engine_)},
                    {DNNL_ARG_DIFF_WEIGHTS_ITER, memory(bwd.diff_weights_iter_desc(), engine_)},
                    {DNNL_ARG_DIFF_BIAS, memory(bwd.diff_bias_desc(), engine_)},
                    {DNNL_ARG_DIFF_DST_LAYER, memory(bwd.diff_dst_layer_desc(), engine_)}};
  if (cell_ == PeerCell::kLstm) {
    const memory src_iter_c(fwd.src_iter_c_desc(), engine_);
    fill_zero(src_iter_c);
    forward_args_.emplace(DNNL_ARG_SRC_ITER_C, src_iter_c);
    backward_args_.emplace(DNNL_ARG_SRC_ITER_C, src_iter_c);
    backward_args_.emplace(DNNL_ARG_DIFF_SRC_ITER_C, memory(bwd.diff_src_iter_c_desc(), engine_));
  }
}

void OneDNNTrainStep::load_weights(const std::vector<TorchWeights>& weights) {
  const int64_t h = shape_.hidden, in = shape_.input, d_count = directions_;
  memory layer(user_weights_layer_, engine_);  // [1, D, I, G, H]
  memory iter(user_weights_iter_, engine_);    // [1, D, H, G, H]
  float* wl = data(layer);
  float* wi = data(iter);
  float* bias = data(forward_args_.at(DNNL_ARG_BIAS));  // [1, D, bias gates, H]
  for (int64_t d = 0; d < d_count; ++d) {
    const TorchWeights& w = weights[size_t(d)];
    for (int64_t g = 0; g < gates_; ++g) {
      const int64_t tg = torch_gate(cell_, g);
      for (int64_t o = 0; o < h; ++o) {
        const int64_t row = tg * h + o;  // of PyTorch's [G·H, ·]
        for (int64_t i = 0; i < in; ++i)
          wl[((d * in + i) * gates_ + g) * h + o] = w.weight_ih[size_t(row * in + i)];
        for (int64_t i = 0; i < h; ++i)
          wi[((d * h + i) * gates_ + g) * h + o] = w.weight_hh[size_t(row * h + i)];
        // b_ih + b_hh, but for lbr_gru's candidate gate, whose b_hn has its own slot.
        const bool own_hidden_bias = cell_ == PeerCell::kGru && tg == 2;
        bias[(d * bias_gates_ + g) * h + o] =
            w.bias_ih[size_t(row)] + (own_hidden_bias ? 0.0f : w.bias_hh[size_t(row)]);
      }
    }
    if (cell_ == PeerCell::kGru)
      for (int64_t o = 0; o < h; ++o)
        bias[(d * bias_gates_ + 3) * h + o] = w.bias_hh[size_t(2 * h + o)];
  }
  for (auto* args : {&forward_args_, &backward_args_}) {
    dnnl::reorder(layer, args->at(DNNL_ARG_WEIGHTS_LAYER))
        .execute(stream_, layer, args->at(DNNL_ARG_WEIGHTS_LAYER));
    dnnl::reorder(iter, args->at(DNNL_ARG_WEIGHTS_ITER))
        .execute(stream_, iter, args->at(DNNL_ARG_WEIGHTS_ITER));
  }
  stream_.wait();
}

void OneDNNTrainStep::set_input(std::span<const float> x) {
  const memory& src = forward_args_.at(DNNL_ARG_SRC_LAYER);
  if (x.size_bytes() != src.get_desc().get_size())
    throw std::invalid_argument("OneDNNTrainStep::set_input: x is not [T, B, I]");
  std::memcpy(src.get_data_handle(), x.data(), x.size_bytes());
}

void OneDNNTrainStep::step() {
  forward_.execute(stream_, forward_args_);
  stream_.wait();
  // loss = sum(y²):  dy = 2·y
  const std::span<const float> y = output();
  float* dy = data(backward_args_.at(DNNL_ARG_DIFF_DST_LAYER));
  for (size_t i = 0; i < y.size(); ++i) dy[i] = 2.0f * y[i];
  for (int arg : {DNNL_ARG_DIFF_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_ITER, DNNL_ARG_DIFF_BIAS})
    fill_zero(backward_args_.at(arg));
  backward_.execute(stream_, backward_args_);
  stream_.wait();
}

std::span<const float> OneDNNTrainStep::output() const {
  const size_t n = size_t(shape_.steps * shape_.batch * directions_ * shape_.hidden);
  return {data(forward_args_.at(DNNL_ARG_DST_LAYER)), n};
}

std::span<const float> OneDNNTrainStep::input_grad() const {
  const size_t n = size_t(shape_.steps * shape_.batch * shape_.input);
  return {data(backward_args_.at(DNNL_ARG_DIFF_SRC_LAYER)), n};
}

TorchWeights OneDNNTrainStep::grads(int direction) {
  const int64_t h = shape_.hidden, in = shape_.input, d = direction;
  memory layer(user_weights_layer_, engine_);
  memory iter(user_weights_iter_, engine_);
  memory& diff_layer = backward_args_.at(DNNL_ARG_DIFF_WEIGHTS_LAYER);
  memory& diff_iter = backward_args_.at(DNNL_ARG_DIFF_WEIGHTS_ITER);
  dnnl::reorder(diff_layer, layer).execute(stream_, diff_layer, layer);
  dnnl::reorder(diff_iter, iter).execute(stream_, diff_iter, iter);
  stream_.wait();
  const float* wl = data(layer);
  const float* wi = data(iter);
  const float* bias = data(backward_args_.at(DNNL_ARG_DIFF_BIAS));
  const size_t rows = size_t(gates_ * h);
  TorchWeights g{std::vector<float>(rows * size_t(in)), std::vector<float>(rows * size_t(h)),
                 std::vector<float>(rows), std::vector<float>(rows)};
  for (int64_t gate = 0; gate < gates_; ++gate) {
    const int64_t tg = torch_gate(cell_, gate);
    for (int64_t o = 0; o < h; ++o) {
      const int64_t row = tg * h + o;
      for (int64_t i = 0; i < in; ++i)
        g.weight_ih[size_t(row * in + i)] = wl[((d * in + i) * gates_ + gate) * h + o];
      for (int64_t i = 0; i < h; ++i)
        g.weight_hh[size_t(row * h + i)] = wi[((d * h + i) * gates_ + gate) * h + o];
      // Both biases of a gate enter it as one sum, so both get its gradient; lbr_gru's b_hn
      // has its own.
      const float db = bias[(d * bias_gates_ + gate) * h + o];
      g.bias_ih[size_t(row)] = db;
      g.bias_hh[size_t(row)] =
          cell_ == PeerCell::kGru && tg == 2 ? bias[(d * bias_gates_ + 3) * h + o] : db;
    }
  }
  return g;
}

}  // namespace rwd::bench
