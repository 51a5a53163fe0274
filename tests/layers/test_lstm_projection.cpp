// LSTM with proj_size (torch.nn.LSTM's projection, h' = W_hr·(σ(o) ∘ tanh(c'))): PyTorch's
// shapes and parameter names, the option errors, a gradient check in double through a
// stacked bidirectional layer with lengths, and one thread against two. PyTorch parity is in
// test_pytorch_parity.cpp, checkpoints in test_checkpoint.cpp.
#include <fmt/format.h>

#include <functional>
#include <map>
#include <string>

#include "layers/layer_support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

constexpr int64_t kSteps = 5;
constexpr int64_t kBatch = 2;
constexpr int64_t kIn = 3;
constexpr int64_t kHidden = 3;
constexpr int64_t kProj = 2;

RecurrentOptions proj_options(int64_t layers, bool bidirectional, bool batch_first = false) {
  RecurrentOptions o = rwd::test::rnn_options(kIn, kHidden, layers, bidirectional);
  o.proj_size = kProj;
  o.batch_first = batch_first;
  return o;
}

std::string value_error(const std::function<void()>& make) {
  try {
    make();
  } catch (const ValueError& e) {
    return e.what();
  }
  return "no ValueError";
}

}  // namespace

TEST_CASE("LSTM with proj_size has PyTorch's shapes and parameter names", "[layers][proj]") {
  Generator gen(1);
  LSTM<double> lstm(proj_options(2, true), gen);
  CHECK(lstm.output_size() == kProj);
  const std::map<std::string, Shape> expected = {{"weight_ih_l0", {4 * kHidden, kIn}},
                                                 {"weight_hh_l0", {4 * kHidden, kProj}},
                                                 {"bias_ih_l0", {4 * kHidden}},
                                                 {"bias_hh_l0", {4 * kHidden}},
                                                 {"weight_hr_l0", {kProj, kHidden}},
                                                 {"weight_hr_l0_reverse", {kProj, kHidden}},
                                                 {"weight_ih_l1", {4 * kHidden, 2 * kProj}},
                                                 {"weight_hh_l1_reverse", {4 * kHidden, kProj}},
                                                 {"weight_hr_l1_reverse", {kProj, kHidden}}};
  const auto params = lstm.named_parameters();
  CHECK(params.size() == 20);
  // PyTorch's order within a cell: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr.
  CHECK(params[4].name == "weight_hr_l0");
  CHECK(params[9].name == "weight_hr_l0_reverse");
  for (const auto& [name, shape] : expected) {
    INFO("parameter " << name);
    bool found = false;
    for (const auto& p : params)
      if (p.name == name) {
        found = true;
        CHECK(p.param->shape() == shape);
      }
    CHECK(found);
  }

  Graph<double> g;
  auto out = lstm.forward(g.constant(randn({kSteps, kBatch, kIn}, 2)));
  CHECK(out.output.shape() == Shape{kSteps, kBatch, 2 * kProj});
  CHECK(out.h_n().shape() == Shape{4, kBatch, kProj});
  CHECK(out.c_n().shape() == Shape{4, kBatch, kHidden});
  // The last forward output is h_n of the last layer's forward direction.
  const auto y = out.output.value();
  const auto h = out.h_n().value();
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t j = 0; j < kProj; ++j) CHECK(y.at({kSteps - 1, b, j}) == h.at({2, b, j}));

  // The per-step cell: h [B, P], c [B, H].
  LSTMCell<double> cell(kIn, kHidden, gen, true, kProj);
  CHECK(cell.proj_size() == kProj);
  auto s = cell.step(g.constant(randn({kBatch, kIn}, 3)),
                     {g.zeros({kBatch, kProj}), g.zeros({kBatch, kHidden})});
  CHECK(s[0].shape() == Shape{kBatch, kProj});
  CHECK(s[1].shape() == Shape{kBatch, kHidden});
  LSTMCell<double> plain(kIn, kHidden, gen);
  CHECK(plain.weight_hr() == nullptr);
  CHECK(plain.named_parameters().size() == 4);
}

TEST_CASE("bad proj_size options throw ValueError naming the option and the values",
          "[layers][proj][errors]") {
  Generator gen(2);
  for (int64_t bad : {int64_t(-1), kHidden, kHidden + 2}) {
    RecurrentOptions o = proj_options(1, false);
    o.proj_size = bad;
    const std::string what = value_error([&] { LSTM<double> lstm(o, gen); });
    INFO(what);
    CHECK_THAT(what, Catch::Contains("LSTM") &&
                         Catch::Contains(fmt::format("proj_size ({})", bad)) &&
                         Catch::Contains(fmt::format("hidden_size ({})", kHidden)));
    CHECK_THAT(value_error([&] { LSTMCell<double> c(kIn, kHidden, gen, true, bad); }),
               Catch::Contains("LSTMCell") && Catch::Contains(fmt::format("proj_size ({})", bad)));
  }
  const RecurrentOptions o = proj_options(1, false);
  CHECK_THAT(value_error([&] { GRU<double> gru(o, gen); }), Catch::Contains("GRU") &&
                                                                Catch::Contains("proj_size (2)") &&
                                                                Catch::Contains("only LSTM"));
  CHECK_THAT(value_error([&] { RNN<double> rnn(o, gen); }),
             Catch::Contains("RNN") && Catch::Contains("proj_size (2)"));

  // Initial states: h is [L·D, B, P], c is [L·D, B, H].
  LSTM<double> lstm(o, gen);
  Graph<double> g;
  auto x = g.constant(randn({kSteps, kBatch, kIn}, 4));
  LSTM<double>::State wide_h{g.zeros({1, kBatch, kHidden}), Var<double>()};
  CHECK_THROWS_WITH(lstm.forward(x, wide_h),
                    Catch::Contains("initial state 0") && Catch::Contains("[1, 2, 3]") &&
                        Catch::Contains("[1, 2, 2]") && Catch::Contains("proj_size"));
  LSTM<double>::State narrow_c{Var<double>(), g.zeros({1, kBatch, kProj})};
  CHECK_THROWS_WITH(lstm.forward(x, narrow_c),
                    Catch::Contains("initial state 1") && Catch::Contains("[1, 2, 3]"));
  LSTM<double>::State fine{g.zeros({1, kBatch, kProj}), g.zeros({1, kBatch, kHidden})};
  CHECK(lstm.forward(x, fine).output.shape() == Shape{kSteps, kBatch, kProj});
}

TEST_CASE("LSTM with proj_size: gradcheck stacked and bidirectional, with lengths",
          "[layers][proj][grad]") {
  Generator gen(3);
  auto require = [](LSTM<double>& layer, const Tensor<double>& x, std::vector<Tensor<double>> init,
                    std::vector<int64_t> lengths) {
    const auto r = rwd::test::check_sequence_layer(layer, x, std::move(init), std::move(lengths));
    INFO(r.summary());
    CHECK(r.elements_checked > layer.num_parameters());
    REQUIRE(r.passed);
  };
  SECTION("two layers, bidirectional, lengths, initial states") {
    LSTM<double> layer(proj_options(2, true), gen);
    require(layer, randn({kSteps, kBatch, kIn}, 10),
            {randn({4, kBatch, kProj}, 11), randn({4, kBatch, kHidden}, 12)}, {3, 5});
  }
  SECTION("two layers, bidirectional, batch_first, lengths") {
    LSTM<double> layer(proj_options(2, true, true), gen);
    require(layer, randn({kBatch, kSteps, kIn}, 13), {}, {5, 2});
  }
}

TEST_CASE("LSTM with proj_size: two threads give the numbers of one", "[layers][proj][threads]") {
  Generator gen(4);
  LSTM<double> layer(proj_options(2, true), gen);
  auto run = [&](int threads) {
    const rwd::test::ScopedThreads guard(threads);
    Graph<double> g;
    auto x = g.input(randn({kSteps, kBatch, kIn}, 20), true);
    LSTM<double>::State init{g.input(randn({4, kBatch, kProj}, 21), true),
                             g.input(randn({4, kBatch, kHidden}, 22), true)};
    const std::vector<int64_t> lengths = {5, 3};
    auto out = layer.forward(x, init, lengths);
    Var<double> loss = sum(square(out.output)) + sum(out.h_n() * 0.5) + sum(out.c_n() * 0.25);
    layer.zero_grad();
    g.backward(loss);
    std::vector<Tensor<double>> results = {
        Tensor<double>(out.output.value()), Tensor<double>(out.h_n().value()),
        Tensor<double>(out.c_n().value()),  Tensor<double>(x.grad()),
        Tensor<double>(init[0].grad()),     Tensor<double>(init[1].grad())};
    for (const auto& np : layer.named_parameters()) results.push_back(np.param->grad());
    return results;
  };
  const auto one = run(1);
  const auto two = run(2);
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    REQUIRE(one[i].shape() == two[i].shape());
    CHECK(max_abs_diff(one[i].view(), two[i].view()) < 1e-12);
  }
}
