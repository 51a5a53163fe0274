// Gradient checks in double through >= 5 steps for every cell and sequence layer and every
// configuration: single layer, 2 layers, bidirectional, batch_first, initial states,
// variable lengths (dropout off).
#include "layers/layer_support.hpp"

using namespace rwd;
using rwd::test::check_sequence_layer;
using rwd::test::randn;

namespace {

constexpr int64_t kSteps = 5;
constexpr int64_t kBatch = 2;
constexpr int64_t kIn = 3;
constexpr int64_t kHidden = 2;

RecurrentOptions opts(int64_t layers = 1, bool bidirectional = false, bool batch_first = false) {
  RecurrentOptions o;
  o.input_size = kIn;
  o.hidden_size = kHidden;
  o.num_layers = layers;
  o.bidirectional = bidirectional;
  o.batch_first = batch_first;
  return o;
}

Tensor<double> seq(uint64_t seed, bool batch_first = false) {
  return batch_first ? randn({kBatch, kSteps, kIn}, seed) : randn({kSteps, kBatch, kIn}, seed);
}

template <class Layer>
void require(Layer& layer, const Tensor<double>& x, std::vector<Tensor<double>> init = {},
             std::vector<int64_t> lengths = {}) {
  const auto r = check_sequence_layer(layer, x, std::move(init), std::move(lengths));
  INFO(r.summary());
  CHECK(r.elements_checked > layer.num_parameters());
  REQUIRE(r.passed);
}

}  // namespace

TEMPLATE_TEST_CASE("sequence layers: gradcheck in every configuration", "[layers][grad]",
                   LSTM<double>, GRU<double>, RNN<double>) {
  using Layer = TestType;
  Generator gen(7);
  SECTION("single layer") {
    Layer layer(opts(), gen);
    require(layer, seq(1));
  }
  SECTION("two layers") {
    Layer layer(opts(2), gen);
    require(layer, seq(2));
  }
  SECTION("bidirectional") {
    Layer layer(opts(1, true), gen);
    require(layer, seq(3));
  }
  SECTION("two layers, bidirectional, batch_first") {
    Layer layer(opts(2, true, true), gen);
    require(layer, seq(4, true));
  }
  SECTION("given initial states") {
    Layer layer(opts(2, true), gen);
    std::vector<Tensor<double>> init;
    for (size_t k = 0; k < Layer::kStateSize; ++k)
      init.push_back(randn({4, kBatch, kHidden}, 10 + k));
    require(layer, seq(5), init);
  }
  SECTION("variable lengths, bidirectional, initial states") {
    Layer layer(opts(1, true), gen);
    std::vector<Tensor<double>> init;
    for (size_t k = 0; k < Layer::kStateSize; ++k)
      init.push_back(randn({2, kBatch, kHidden}, 20 + k));
    require(layer, seq(6), init, {3, 5});
  }
}

TEST_CASE("RNN with relu: gradcheck", "[layers][grad][rnn]") {
  Generator gen(8);
  RNN<double> layer(opts(2, true), gen, Nonlinearity::kRelu);
  require(layer, seq(30));
}

TEST_CASE("layers without biases: gradcheck", "[layers][grad]") {
  Generator gen(9);
  auto o = opts();
  o.bias = false;
  LSTM<double> lstm(o, gen);
  CHECK(lstm.named_parameters().size() == 2);
  require(lstm, seq(31));
  GRU<double> gru(o, gen);
  require(gru, seq(32));
}

TEMPLATE_TEST_CASE("cells: per-step gradcheck through 5 steps", "[layers][grad][cell]",
                   LSTMCell<double>, GRUCell<double>, RNNCell<double>) {
  using Cell = TestType;
  Generator gen(11);
  Cell cell(kIn, kHidden, gen);
  const auto params = cell.named_parameters();
  std::vector<Tensor<double>> inputs;
  for (int t = 0; t < kSteps; ++t) inputs.push_back(randn({kBatch, kIn}, 40 + t));
  for (size_t k = 0; k < std::tuple_size_v<typename Cell::State>; ++k)
    inputs.push_back(randn({kBatch, kHidden}, 50 + k));
  const auto r = gradcheck(
      [&](Graph<double>&, std::span<const Var<double>> xs) {
        typename Cell::State s;
        for (size_t k = 0; k < s.size(); ++k) s[k] = xs[kSteps + k];
        std::vector<Var<double>> hs;
        for (int t = 0; t < kSteps; ++t) {
          s = cell.step(xs[t], s);
          hs.push_back(s[0]);
        }
        for (size_t k = 1; k < s.size(); ++k) hs.push_back(s[k]);
        return concat(std::span<const Var<double>>(hs), 0);
      },
      inputs, params);
  INFO(r.summary());
  REQUIRE(r.passed);
}
