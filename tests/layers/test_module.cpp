// Modules: names, state dicts, train/eval; Linear and Embedding.
#include "support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

// A user model composing layers: names nest with dots.
struct Tagger : Module<double> {
  Embedding<double> embed;
  LSTM<double> lstm;
  Linear<double> head;
  Tagger(Generator& gen)
      : embed(10, 4, gen),
        lstm(
            RecurrentOptions{
                .input_size = 4, .hidden_size = 3, .num_layers = 2, .bidirectional = true},
            gen),
        head(6, 5, gen) {}
  void visit(ModuleVisitor<double>& v) override {
    v.module("embed", embed);
    v.module("lstm", lstm);
    v.module("head", head);
  }
};

}  // namespace

TEST_CASE("parameter names follow PyTorch's state_dict", "[layers][module]") {
  Generator gen(1);
  Tagger model(gen);
  std::vector<std::string> names;
  for (const auto& np : model.named_parameters()) names.push_back(np.name);
  const std::vector<std::string> expected = {"embed.weight",
                                             "lstm.weight_ih_l0",
                                             "lstm.weight_hh_l0",
                                             "lstm.bias_ih_l0",
                                             "lstm.bias_hh_l0",
                                             "lstm.weight_ih_l0_reverse",
                                             "lstm.weight_hh_l0_reverse",
                                             "lstm.bias_ih_l0_reverse",
                                             "lstm.bias_hh_l0_reverse",
                                             "lstm.weight_ih_l1",
                                             "lstm.weight_hh_l1",
                                             "lstm.bias_ih_l1",
                                             "lstm.bias_hh_l1",
                                             "lstm.weight_ih_l1_reverse",
                                             "lstm.weight_hh_l1_reverse",
                                             "lstm.bias_ih_l1_reverse",
                                             "lstm.bias_hh_l1_reverse",
                                             "head.weight",
                                             "head.bias"};
  CHECK(names == expected);
  auto sd = model.state_dict();
  CHECK(sd.at("lstm.weight_ih_l1").shape() == Shape{12, 6});
  CHECK(sd.at("lstm.weight_hh_l0_reverse").shape() == Shape{12, 3});
  CHECK(model.num_parameters() ==
        10 * 4 + 2 * (12 * 4 + 12 * 3 + 24) + 2 * (12 * 6 + 12 * 3 + 24) + 6 * 5 + 5);
}

TEST_CASE("load_state_dict checks names and shapes and loads all or nothing",
          "[layers][module][errors]") {
  Generator gen(2);
  Tagger model(gen);
  Tagger other(gen);
  auto sd = other.state_dict();
  const auto before = model.state_dict();
  // Every entry of the model still holds its value from before; the bad entries are late in
  // parameter order ("lstm.bias_hh_l1", "head.weight"), so a load that copied as it
  // validated would have changed the earlier ones.
  auto unchanged = [&] {
    const auto now = model.state_dict();
    REQUIRE(now.size() == before.size());
    for (const auto& [name, value] : before) {
      INFO(name);
      CHECK(max_abs_diff(now.at(name).view(), value.view()) == 0.0);
    }
  };
  REQUIRE(max_abs_diff(before.at("embed.weight").view(), sd.at("embed.weight").view()) > 0.0);

  auto missing = sd;
  missing.erase("lstm.bias_hh_l1");
  CHECK_THROWS_AS(model.load_state_dict(missing), ValueError);
  CHECK_THROWS_WITH(model.load_state_dict(missing),
                    Catch::Contains("lstm.bias_hh_l1") && Catch::Contains("missing"));
  unchanged();
  auto unexpected = sd;
  unexpected.emplace("lstm.weight_ih_l2", Tensor<double>::zeros({12, 6}));
  CHECK_THROWS_WITH(model.load_state_dict(unexpected),
                    Catch::Contains("unexpected") && Catch::Contains("lstm.weight_ih_l2"));
  unchanged();
  auto misshaped = sd;
  misshaped.at("head.weight") = Tensor<double>::zeros({5, 7});
  CHECK_THROWS_AS(model.load_state_dict(misshaped), ShapeError);
  CHECK_THROWS_WITH(model.load_state_dict(misshaped), Catch::Contains("head.weight") &&
                                                          Catch::Contains("[5, 7]") &&
                                                          Catch::Contains("[5, 6]"));
  unchanged();

  model.load_state_dict(sd);
  const auto after = model.state_dict();
  for (const auto& [name, value] : sd) {
    INFO(name);
    CHECK(max_abs_diff(after.at(name).view(), value.view()) == 0.0);
  }
}

TEST_CASE("train and eval reach every descendant", "[layers][module]") {
  Generator gen(3);
  Tagger model(gen);
  CHECK(model.lstm.is_training());
  model.eval();
  CHECK_FALSE(model.is_training());
  CHECK_FALSE(model.lstm.is_training());
  CHECK_FALSE(model.lstm.cell(1, 1).is_training());
  model.train();
  CHECK(model.head.is_training());
}

TEST_CASE("Linear and Embedding forward and init", "[layers][linear]") {
  Generator gen(4);
  Linear<double> lin(3, 2, gen);
  for (int64_t i = 0; i < lin.weight().numel(); ++i)
    CHECK(std::abs(lin.weight().value()[i]) <= 1 / std::sqrt(3.0));
  Graph<double> g;
  auto x = g.constant(randn({4, 3}, 5));
  auto y = lin.forward(x);
  CHECK(y.shape() == Shape{4, 2});
  const double expected = x.value().at({1, 0}) * lin.weight().value().at({1, 0}) +
                          x.value().at({1, 1}) * lin.weight().value().at({1, 1}) +
                          x.value().at({1, 2}) * lin.weight().value().at({1, 2}) +
                          lin.bias()->value()[1];
  CHECK(y.value().at({1, 1}) == Approx(expected));
  auto y3 = lin.forward(g.constant(randn({5, 4, 3}, 6)));
  CHECK(y3.shape() == Shape{5, 4, 2});
  CHECK_THROWS_WITH(lin.forward(g.constant(randn({4, 2}, 7))),
                    Catch::Contains("Linear") && Catch::Contains("[4, 2]"));
  Linear<double> nobias(3, 2, gen, false);
  CHECK(nobias.bias() == nullptr);
  CHECK(nobias.named_parameters().size() == 1);

  Embedding<double> emb(6, 3, gen);
  const std::vector<int64_t> ids = {5, 0, 5};
  auto e = emb.forward(g, ids);
  CHECK(e.shape() == Shape{3, 3});
  CHECK(e.value().at({2, 1}) == emb.weight().value().at({5, 1}));
  const std::vector<int64_t> bad = {6};
  CHECK_THROWS_AS(emb.forward(g, bad), IndexError);
}

TEST_CASE("Linear gradcheck through the module", "[layers][linear][grad]") {
  Generator gen(8);
  Linear<double> lin(3, 2, gen);
  const auto params = lin.named_parameters();
  const Tensor<double> x = randn({2, 4, 3}, 9);
  const auto r =
      gradcheck([&](Graph<double>&, auto v) { return tanh(lin.forward(v[0])); }, {&x, 1}, params);
  INFO(r.summary());
  CHECK(r.passed);
}

TEMPLATE_TEST_CASE("recurrent layers start uniform in (-1/sqrt(H), 1/sqrt(H)), as PyTorch's",
                   "[layers][module]", LSTM<double>, GRU<double>, RNN<double>) {
  Generator gen(8);
  RecurrentOptions o;
  o.input_size = 5;
  o.hidden_size = 16;  // bound 0.25
  o.num_layers = 2;
  o.bidirectional = true;
  TestType layer(o, gen);
  for (const auto& np : layer.named_parameters()) {
    INFO(np.name);
    const auto v = np.param->value();
    double lo = 1;
    double hi = -1;
    for (int64_t i = 0; i < v.numel(); ++i) {
      lo = std::min(lo, double(v[i]));
      hi = std::max(hi, double(v[i]));
    }
    CHECK(lo >= -0.25);
    CHECK(hi <= 0.25);
    CHECK(hi - lo > 0.25);  // spread over the range (a bias has 16·G values)
  }
}
