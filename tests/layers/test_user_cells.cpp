// The user cells of tests/user_cells.hpp, which bench_rnn's BM_UserCellTrainStep rows time
// against the built-in layers: given the built-in LSTM's and GRU's weights, the user LSTM and
// GRU cells give the same outputs, final states and gradients (input, initial states, every
// parameter) to 1e-12 in double, through the same driver. The LN-LSTM cell has no built-in
// twin; it gets a gradient check through the driver.
#include <map>
#include <string>
#include <vector>

#include "layers/layer_support.hpp"
#include "user_cells.hpp"

using namespace rwd;
using rwd::test::check_sequence_layer;
using rwd::test::randn;

namespace {

constexpr int64_t kSteps = 5;
constexpr int64_t kBatch = 3;
constexpr int64_t kIn = 4;
constexpr int64_t kHidden = 3;

RecurrentOptions opts(int64_t layers, bool bidirectional) {
  RecurrentOptions o;
  o.input_size = kIn;
  o.hidden_size = kHidden;
  o.num_layers = layers;
  o.bidirectional = bidirectional;
  return o;
}

// What one run of a layer produces, by name: values and gradients.
using Results = std::map<std::string, Tensor<double>>;

// Runs `layer` over x (with initial states and lengths when given), backward from a loss
// that weighs every output and final state, and collects the values and all gradients.
template <class Layer>
Results run(Layer& layer, const Tensor<double>& x, const std::vector<Tensor<double>>& initial,
            const std::vector<int64_t>& lengths) {
  layer.zero_grad();
  Graph<double> g;
  Var<double> input = g.input(x, true);
  typename Layer::State init{};
  for (size_t k = 0; k < initial.size(); ++k) init[k] = g.input(initial[k], true);
  const auto out = layer.forward(input, init, lengths);
  Var<double> loss = sum(out.output * g.constant(randn(out.output.shape(), 901)));
  for (size_t k = 0; k < Layer::kStateSize; ++k)
    loss = loss + sum(out.state[k] * g.constant(randn(out.state[k].shape(), 902 + k)));
  g.backward(loss);
  Results r;
  r.emplace("output", Tensor<double>(out.output.value()));
  r.emplace("grad input", Tensor<double>(input.grad()));
  for (size_t k = 0; k < Layer::kStateSize; ++k) {
    r.emplace("final state " + std::to_string(k), Tensor<double>(out.state[k].value()));
    if (!init[k].empty())
      r.emplace("grad initial state " + std::to_string(k), Tensor<double>(init[k].grad()));
  }
  for (const auto& [name, p] : layer.named_parameters()) r.emplace("grad " + name, p->grad());
  return r;
}

// The built-in layer and the driver over the user cell, the user layer loaded with the
// built-in's weights (drawn from another seed first, so the load is what makes them equal).
template <class Builtin, class UserCell>
void require_same(const RecurrentOptions& o, bool with_initial,
                  const std::vector<int64_t>& lengths) {
  Generator gen(7);
  Builtin builtin(o, gen);
  Generator user_gen(8);
  auto user = user_cells::make_layer<UserCell>("User", o, user_gen);
  user.load_state_dict(builtin.state_dict());

  const Tensor<double> x = randn({kSteps, kBatch, kIn}, 903);
  std::vector<Tensor<double>> initial;
  if (with_initial)
    for (size_t k = 0; k < Builtin::kStateSize; ++k)
      initial.push_back(
          randn({o.num_layers * (o.bidirectional ? 2 : 1), kBatch, kHidden}, 904 + k));
  const Results want = run(builtin, x, initial, lengths);
  const Results got = run(user, x, initial, lengths);
  REQUIRE(got.size() == want.size());
  for (const auto& [name, w] : want) {
    INFO(name);
    REQUIRE(got.count(name) == 1);
    REQUIRE(got.at(name).shape() == w.shape());
    const double diff = max_abs_diff(got.at(name).view(), w.view());
    INFO("max abs diff " << diff);
    CHECK(diff < 1e-12);
  }
}

// True when two modules hold exactly the same parameters under the same names.
template <class A, class B>
bool same_weights(A& a, B& b) {
  const auto wa = a.state_dict();
  const auto wb = b.state_dict();
  if (wa.size() != wb.size()) return false;
  for (const auto& [name, t] : wa)
    if (wb.count(name) == 0 || !(wb.at(name).shape() == t.shape()) ||
        max_abs_diff(wb.at(name).view(), t.view()) != 0.0)
      return false;
  return true;
}

}  // namespace

TEST_CASE("user LSTM and GRU cells match the built-in layers to 1e-12", "[layers][user_cells]") {
  using UserLSTMCell = user_cells::LSTMCell<double>;
  using UserGRUCell = user_cells::GRUCell<double>;
  SECTION("one layer") {
    require_same<LSTM<double>, UserLSTMCell>(opts(1, false), false, {});
    require_same<GRU<double>, UserGRUCell>(opts(1, false), false, {});
  }
  SECTION("two layers, bidirectional, initial states, lengths") {
    const std::vector<int64_t> lengths = {5, 2, 4};
    require_same<LSTM<double>, UserLSTMCell>(opts(2, true), true, lengths);
    require_same<GRU<double>, UserGRUCell>(opts(2, true), true, lengths);
  }
}

TEST_CASE("user LSTM and GRU cells start from the built-in weights for the same seed",
          "[layers][user_cells]") {
  // So bench_rnn's user-cell rows and built-in rows, both seeded with 1, train the same model.
  const RecurrentOptions o = opts(2, true);
  Generator a(1), b(1), c(1), d(1);
  LSTM<float> lstm(o, a);
  auto user_lstm = user_cells::make_layer<user_cells::LSTMCell<float>>("UserLSTM", o, b);
  CHECK(same_weights(lstm, user_lstm));
  GRU<float> gru(o, c);
  auto user_gru = user_cells::make_layer<user_cells::GRUCell<float>>("UserGRU", o, d);
  CHECK(same_weights(gru, user_gru));
}

TEST_CASE("gradcheck of the user LN-LSTM cell through the driver", "[layers][user_cells][grad]") {
  Generator gen(9);
  const RecurrentOptions o = opts(2, true);
  auto layer = user_cells::make_layer<user_cells::LayerNormLSTMCell<double>>("LNLSTM", o, gen);
  // Gains and biases away from their initial 1 and 0, so each one's gradient is distinct.
  std::map<std::string, Tensor<double>> weights;
  uint64_t seed = 910;
  for (const auto& [name, t] : layer.state_dict()) weights.emplace(name, randn(t.shape(), seed++));
  layer.load_state_dict(weights);
  CHECK(layer.named_parameters().size() == 4 * 8);  // 2 layers × 2 directions × 8
  const auto report = check_sequence_layer(
      layer, randn({kSteps, kBatch, kIn}, 920),
      {randn({4, kBatch, kHidden}, 921), randn({4, kBatch, kHidden}, 922)}, {5, 2, 4});
  rwd::test::require_passed(report, "layer_norm");
}

TEST_CASE("user cells reject options.bias = false", "[layers][user_cells]") {
  RecurrentOptions o = opts(1, false);
  o.bias = false;
  Generator gen(1);
  CHECK_THROWS_AS(user_cells::make_layer<user_cells::GRUCell<double>>("UserGRU", o, gen),
                  ValueError);
}
