// Layers built without a Generator: they draw from Generator(Generator::kDefaultSeed), so the
// weights are the same every time and the same as with that Generator passed explicitly.
#include <map>
#include <string>

#include "support.hpp"

using namespace rwd;

namespace {

// True when both modules have the same parameter names with bit-identical values.
template <Scalar T>
bool same_weights(Module<T>& a, Module<T>& b) {
  const std::map<std::string, Tensor<T>> sa = a.state_dict();
  const std::map<std::string, Tensor<T>> sb = b.state_dict();
  if (sa.size() != sb.size() || sa.empty()) return false;
  for (const auto& [name, t] : sa) {
    auto it = sb.find(name);
    if (it == sb.end() || !(it->second.shape() == t.shape())) return false;
    for (int64_t i = 0; i < t.numel(); ++i)
      if (t[i] != it->second[i]) return false;
  }
  return true;
}

// Builds `Layer` twice without a Generator and once with Generator(kDefaultSeed), and checks
// that all three agree.
template <class Layer, class Without, class With>
void check_default_init(Without make, With make_with) {
  Layer a = make();
  Layer b = make();
  Generator gen(Generator::kDefaultSeed);
  Layer c = make_with(gen);
  CHECK(same_weights(a, b));
  CHECK(same_weights(a, c));
}

}  // namespace

TEMPLATE_TEST_CASE("layers built without a Generator are deterministic", "[layers][init]", float,
                   double) {
  using T = TestType;
  check_default_init<Linear<T>>([] { return Linear<T>(3, 4); },
                                [](Generator& g) { return Linear<T>(3, 4, g); });
  check_default_init<Linear<T>>([] { return Linear<T>(3, 4, false); },
                                [](Generator& g) { return Linear<T>(3, 4, g, false); });
  check_default_init<Embedding<T>>([] { return Embedding<T>(5, 2); },
                                   [](Generator& g) { return Embedding<T>(5, 2, g); });
  check_default_init<RNNCell<T>>(
      [] { return RNNCell<T>(3, 2, true, Nonlinearity::kRelu); },
      [](Generator& g) { return RNNCell<T>(3, 2, g, true, Nonlinearity::kRelu); });
  check_default_init<LSTMCell<T>>([] { return LSTMCell<T>(3, 2); },
                                  [](Generator& g) { return LSTMCell<T>(3, 2, g); });
  check_default_init<GRUCell<T>>([] { return GRUCell<T>(3, 2, false); },
                                 [](Generator& g) { return GRUCell<T>(3, 2, g, false); });
  const RecurrentOptions options{
      .input_size = 3, .hidden_size = 2, .num_layers = 2, .bidirectional = true};
  check_default_init<LSTM<T>>([&] { return LSTM<T>(options); },
                              [&](Generator& g) { return LSTM<T>(options, g); });
  check_default_init<GRU<T>>([&] { return GRU<T>(options); },
                             [&](Generator& g) { return GRU<T>(options, g); });
  check_default_init<RNN<T>>([&] { return RNN<T>(options, Nonlinearity::kRelu); },
                             [&](Generator& g) { return RNN<T>(options, g, Nonlinearity::kRelu); });
}

TEST_CASE("a layer built without a Generator loads weights and runs", "[layers][init]") {
  Generator gen(7);
  LSTM<double> trained(test::rnn_options(3, 2), gen);
  LSTM<double> loaded(test::rnn_options(3, 2));
  loaded.load_state_dict(trained.state_dict());
  CHECK(same_weights<double>(trained, loaded));

  Graph<double> g;
  const Tensor<double> x = test::randn({4, 2, 3}, 11);
  const auto a = trained.forward(g.input(x)).output.value();
  const auto b = loaded.forward(g.input(x)).output.value();
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a[i] == b[i]);
}
