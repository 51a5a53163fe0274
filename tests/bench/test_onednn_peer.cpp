// oneDNN's training step (bench/onednn_peer.cpp) against rewind's layers on a small shape:
// the same weights in both and the same loss (sum of squares of the output); the outputs,
// the input's gradient and every parameter's gradient agree to 1e-5 of the largest value.
// This is what makes BM_OneDNNTrainStep a peer of BM_TrainStep: the same work, done right.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "onednn_peer.hpp"

using namespace rwd;
using rwd::bench::OneDNNTrainStep;
using rwd::bench::PeerCell;
using rwd::bench::TorchWeights;

namespace {

constexpr int64_t kSteps = 3, kBatch = 2, kInput = 4, kHidden = 5;

std::vector<float> values(std::span<const float> s) {
  return {s.begin(), s.end()};
}

// max |got - want| <= 1e-5 · max(1, max |want|): float32 sums in a different order.
void check_close(const std::string& what, std::span<const float> got, std::span<const float> want) {
  REQUIRE(got.size() == want.size());
  double diff = 0, scale = 1;
  for (size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::abs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  INFO(what << ": max abs diff " << diff << ", largest value " << scale);
  CHECK(diff <= 1e-5 * scale);
}

template <class Layer>
void check_against_rewind(Layer& layer, PeerCell cell, bool bidirectional) {
  std::map<std::string, Parameter<float>*> params;
  for (const auto& [name, p] : layer.named_parameters()) params[name] = p;
  const std::vector<std::string> suffixes = bidirectional
                                                ? std::vector<std::string>{"_l0", "_l0_reverse"}
                                                : std::vector<std::string>{"_l0"};
  std::vector<TorchWeights> weights;
  for (const std::string& s : suffixes)
    weights.push_back({values(params.at("weight_ih" + s)->value().span()),
                       values(params.at("weight_hh" + s)->value().span()),
                       values(params.at("bias_ih" + s)->value().span()),
                       values(params.at("bias_hh" + s)->value().span())});

  Generator gen(7);
  const Tensor<float> x = Tensor<float>::normal({kSteps, kBatch, kInput}, 0, 1, gen);
  Graph<float> g;
  Var<float> xv = g.input(x, true);
  auto out = layer.forward(xv);
  g.backward(sum(square(out.output)));

  OneDNNTrainStep step(cell, {kSteps, kBatch, kInput, kHidden, bidirectional}, weights);
  step.set_input(x.span());
  step.step();
  step.step();  // twice: the weight gradients are zeroed between steps, not accumulated
  check_close("output", step.output(), out.output.value().span());
  check_close("grad of the input", step.input_grad(), xv.grad().span());
  for (size_t d = 0; d < suffixes.size(); ++d) {
    const TorchWeights grads = step.grads(int(d));
    const std::string& s = suffixes[d];
    check_close("grad of weight_ih" + s, grads.weight_ih,
                params.at("weight_ih" + s)->grad().span());
    check_close("grad of weight_hh" + s, grads.weight_hh,
                params.at("weight_hh" + s)->grad().span());
    check_close("grad of bias_ih" + s, grads.bias_ih, params.at("bias_ih" + s)->grad().span());
    check_close("grad of bias_hh" + s, grads.bias_hh, params.at("bias_hh" + s)->grad().span());
  }
}

RecurrentOptions options(bool bidirectional) {
  RecurrentOptions o;
  o.input_size = kInput;
  o.hidden_size = kHidden;
  o.bidirectional = bidirectional;
  return o;
}

}  // namespace

TEST_CASE("oneDNN's vanilla_rnn step matches rewind's RNN", "[bench][onednn][rnn]") {
  Generator gen(1);
  RNN<float> layer(options(false), gen);
  check_against_rewind(layer, PeerCell::kRnn, false);
}

TEST_CASE("oneDNN's lstm step matches rewind's LSTM", "[bench][onednn][lstm]") {
  Generator gen(2);
  LSTM<float> layer(options(false), gen);
  check_against_rewind(layer, PeerCell::kLstm, false);
}

TEST_CASE("oneDNN's lbr_gru step matches rewind's GRU", "[bench][onednn][gru]") {
  Generator gen(3);
  GRU<float> layer(options(false), gen);
  check_against_rewind(layer, PeerCell::kGru, false);
}

TEST_CASE("oneDNN's bidirectional lstm step matches rewind's bidirectional LSTM",
          "[bench][onednn][bilstm]") {
  Generator gen(4);
  LSTM<float> layer(options(true), gen);
  check_against_rewind(layer, PeerCell::kLstm, true);
}
