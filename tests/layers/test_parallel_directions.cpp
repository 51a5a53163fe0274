// Two threads: a bidirectional layer records and differentiates its reverse direction on a
// side graph, on the layer's worker thread (Note [Parallel directions]). The results must be
// the same as with one thread (gradients summed in another order: to the last bits), and
// gradient-checked.
#include <algorithm>
#include <cmath>

#include "alloc_counter.hpp"
#include "layers/layer_support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

RecurrentOptions opts(int64_t layers) {
  RecurrentOptions o;
  o.input_size = 3;
  o.hidden_size = 2;
  o.num_layers = layers;
  o.bidirectional = true;
  return o;
}

// Output, final states and every gradient of a fixed loss, with the given thread count.
template <class Layer>
std::vector<Tensor<double>> run(Layer& layer, int threads, const std::vector<int64_t>& lengths) {
  const rwd::test::ScopedThreads guard(threads);
  Graph<double> g;
  auto x = g.input(randn({5, 2, 3}, 1), true);
  typename Layer::State init{};
  for (size_t k = 0; k < Layer::kStateSize; ++k)
    init[k] = g.input(randn({2 * layer.options().num_layers, 2, 2}, 2 + k), true);
  auto out = layer.forward(x, init, lengths);
  Var<double> loss = sum(square(out.output));
  for (auto& s : out.state) loss = loss + sum(s * 0.5);
  layer.zero_grad();
  g.backward(loss);
  std::vector<Tensor<double>> results = {Tensor<double>(out.output.value()),
                                         Tensor<double>(x.grad())};
  for (size_t k = 0; k < Layer::kStateSize; ++k) {
    results.emplace_back(out.state[k].value());
    results.emplace_back(init[k].grad());
  }
  for (const auto& np : layer.named_parameters()) results.push_back(np.param->grad());
  return results;
}

}  // namespace

TEMPLATE_TEST_CASE("two threads give the same numbers as one", "[layers][threads]", LSTM<double>,
                   GRU<double>, RNN<double>) {
  Generator gen(3);
  TestType layer(opts(2), gen);
  for (const std::vector<int64_t>& lengths : {std::vector<int64_t>{}, std::vector<int64_t>{5, 2}}) {
    const auto one = run(layer, 1, lengths);
    const auto two = run(layer, 2, lengths);
    REQUIRE(one.size() == two.size());
    for (size_t i = 0; i < one.size(); ++i) {
      INFO("result " << i);
      CHECK(max_abs_diff(one[i].view(), two[i].view()) < 1e-12);
    }
  }
}

TEMPLATE_TEST_CASE("two threads: gradcheck of stacked bidirectional layers",
                   "[layers][threads][grad]", LSTM<double>, GRU<double>) {
  const rwd::test::ScopedThreads guard(2);
  Generator gen(4);
  TestType layer(opts(2), gen);
  std::vector<Tensor<double>> init;
  for (size_t k = 0; k < TestType::kStateSize; ++k) init.push_back(randn({4, 2, 2}, 5 + k));
  const auto r = rwd::test::check_sequence_layer(layer, randn({5, 2, 3}, 6), init, {4, 5});
  INFO(r.summary());
  CHECK(r.passed);
  CHECK(std::find(r.ops.begin(), r.ops.end(), "side_exit") != r.ops.end());
}

TEST_CASE("two threads: a training step makes no heap allocation after warm-up",
          "[layers][threads][alloc]") {
  const rwd::test::PinOpenBLAS pin;  // oneDNN's sgemm allocates; see alloc_counter.hpp
  const rwd::test::ScopedThreads guard(2);
  Generator gen(7);
  RecurrentOptions o = opts(2);
  o.input_size = 8;
  o.hidden_size = 16;
  LSTM<float> lstm(o, gen);
  const Tensor<float> x = Tensor<float>::normal({10, 3, 8}, 0, 1, gen);
  Graph<float> g;
  auto step = [&] {
    g.clear();
    auto out = lstm.forward(g.input_view(x));
    g.backward(sum(square(out.output)));
    lstm.zero_grad();
  };
  for (int i = 0; i < 3; ++i) step();
  const int64_t before = rwd::test::allocation_count();
  for (int i = 0; i < 5; ++i) step();
  const int64_t allocations = rwd::test::allocation_count() - before;
  CHECK(allocations == 0);
}

TEST_CASE("two threads: an anomaly in the reverse direction reaches the caller",
          "[layers][threads][anomaly]") {
  const rwd::test::ScopedThreads guard(2);
  Generator gen(8);
  RNN<double> rnn(opts(1), gen, Nonlinearity::kRelu);
  rnn.cell(0, 1).weight_hh().value().fill(1e308);  // only the reverse direction overflows
  Graph<double> g;
  g.set_anomaly_detection(true);
  CHECK_THROWS_AS(rnn.forward(g.input(Tensor<double>::ones({4, 1, 3}))), AnomalyError);
  // The layer and the graph stay usable.
  rnn.cell(0, 1).weight_hh().value().fill(0.1);
  g.clear();
  auto out = rnn.forward(g.input(Tensor<double>::ones({4, 1, 3})));
  g.backward(sum(out.output));
  CHECK(rnn.cell(0, 1).weight_hh().grad()[0] != 0.0);
}

TEST_CASE("two threads: the gradient-flow report includes the reverse direction's steps",
          "[layers][threads][inspect]") {
  Generator gen(7);
  LSTM<double> layer(opts(2), gen);
  std::array<GradientFlowReport, 2> reports;
  for (int threads : {1, 2}) {
    const rwd::test::ScopedThreads guard(threads);
    Graph<double> g;
    auto s = g.scope("encoder");
    auto out = layer.forward(g.input(randn({5, 2, 3}, 8)));
    layer.zero_grad();
    g.backward(sum(square(out.output)));
    reports[size_t(threads - 1)] = gradient_flow(g, layer.named_parameters());
  }
  const GradientFlowReport& one = reports[0];
  const GradientFlowReport& two = reports[1];
  // 2 layers × 2 directions × (h, c): the same series, under the same names, either way.
  REQUIRE(one.hidden.size() == 8);
  REQUIRE(two.hidden.size() == one.hidden.size());
  for (const GradientSeries& a : one.hidden) {
    INFO(a.name);
    auto b = std::find_if(two.hidden.begin(), two.hidden.end(),
                          [&](const GradientSeries& s) { return s.name == a.name; });
    REQUIRE(b != two.hidden.end());
    CHECK(b->steps == a.steps);
    REQUIRE(b->norms.size() == a.norms.size());
    for (size_t t = 0; t < a.norms.size(); ++t) {
      INFO("t = " << t);
      if (std::isnan(a.norms[t]))  // no gradient reached it, on either graph
        CHECK(std::isnan(b->norms[t]));
      else
        CHECK(b->norms[t] == Approx(a.norms[t]).epsilon(1e-12));
    }
  }
  CHECK(std::any_of(two.hidden.begin(), two.hidden.end(),
                    [](const GradientSeries& s) { return s.name == "encoder/lstm.l1.rev"; }));
}

TEST_CASE("two threads: a layer run on a second graph before the first one's backward",
          "[layers][threads]") {
  // g1 records the layer, then g2 records it too (say, a validation batch) before g1's
  // backward: g1's reverse direction must still be the one it recorded.
  Generator gen(9);
  LSTM<double> layer(opts(1), gen);
  auto grads = [&](int threads, bool interleave) {
    const rwd::test::ScopedThreads guard(threads);
    layer.zero_grad();
    Graph<double> g1;
    Graph<double> g2;
    auto out1 = layer.forward(g1.input(randn({5, 2, 3}, 10)));
    if (interleave) {
      auto out2 = layer.forward(g2.input(randn({4, 2, 3}, 11)));
      CHECK(out2.output.shape() == Shape{4, 2, 4});
    }
    g1.backward(sum(square(out1.output)));
    std::vector<Tensor<double>> r;
    for (const auto& np : layer.named_parameters()) r.push_back(np.param->grad());
    return r;
  };
  const auto reference = grads(1, false);
  const auto two = grads(2, true);
  REQUIRE(two.size() == reference.size());
  for (size_t i = 0; i < two.size(); ++i) {
    INFO("parameter " << i);
    CHECK(max_abs_diff(reference[i].view(), two[i].view()) < 1e-12);
  }
}

TEST_CASE("two threads: a side graph taken over by later graphs is refused, not misused",
          "[layers][threads][errors]") {
  const rwd::test::ScopedThreads guard(2);
  Generator gen(12);
  LSTM<double> layer(opts(1), gen);
  Linear<double> head(4, 1, gen);  // after the layer: its gradient would come first
  layer.zero_grad();
  head.zero_grad();
  Graph<double> first;
  auto out = layer.forward(first.input(randn({5, 2, 3}, 13)));
  Var<double> loss = sum(square(head.forward(reshape(out.output, {10, 4}))));
  std::array<Graph<double>, 4> others;  // the layer keeps 4 graphs' side graphs
  for (Graph<double>& g : others) layer.forward(g.input(randn({5, 2, 3}, 14)));
  try {
    first.backward(loss);
    FAIL("backward through a side graph recorded again did not throw");
  } catch (const GraphError& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("recorded again") &&
                             Catch::Matchers::Contains("nothing was changed"));
  }
  // Refused before any gradient flowed: no parameter got part of one.
  for (Module<double>* m :
       {static_cast<Module<double>*>(&layer), static_cast<Module<double>*>(&head)})
    for (const auto& np : m->named_parameters()) {
      INFO(np.name);
      const auto gr = np.param->grad();
      for (int64_t i = 0; i < gr.numel(); ++i) REQUIRE(gr[i] == 0.0);
    }
  // A report over a graph whose side graph was taken over is refused too.
  Graph<double> second;
  auto out2 = layer.forward(second.input(randn({5, 2, 3}, 15)));
  second.backward(sum(square(out2.output)));
  CHECK_NOTHROW(gradient_flow(second, layer.named_parameters()));
  for (Graph<double>& g : others) {
    g.clear();
    layer.forward(g.input(randn({5, 2, 3}, 14)));
  }
  CHECK_THROWS_AS(gradient_flow(second, layer.named_parameters()), GraphError);
  // The layer and a fresh graph work afterwards.
  Graph<double> fresh;
  auto again = layer.forward(fresh.input(randn({5, 2, 3}, 13)));
  layer.zero_grad();
  fresh.backward(sum(square(again.output)));
  CHECK(layer.named_parameters().front().param->grad().numel() > 0);
}
