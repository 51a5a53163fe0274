// The tape: recording, backward semantics, parameters, clear/reuse, errors.
#include "alloc_counter.hpp"
#include "support.hpp"

using namespace rwd;
using rwd::test::randn;

TEST_CASE("a value used several times gets the sum of its uses", "[core][graph]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({2}, {1, 2}), true);
  auto y = x * 2.0 + x * 3.0 + x;
  g.backward(sum(y));
  CHECK(x.grad()[0] == 6.0);
  CHECK(x.grad()[1] == 6.0);
}

TEST_CASE("parameter gradients accumulate across backward calls until zero_grad",
          "[core][graph][param]") {
  Parameter<double> w(Tensor<double>::from({2}, {3, 4}));
  Graph<double> g;
  for (int step = 1; step <= 3; ++step) {
    g.clear();
    auto wv = g.param(w);
    CHECK(wv.value().data() == w.value().data());  // no copy
    g.backward(sum(square(wv)));
    CHECK(w.grad()[0] == 6.0 * step);
    CHECK(w.grad()[1] == 8.0 * step);
  }
  w.zero_grad();
  CHECK(w.grad()[0] == 0.0);
}

TEST_CASE("a parameter asked for twice in one round is one node", "[core][graph][param]") {
  Parameter<double> w(Tensor<double>::from({2}, {1, 2}));
  Graph<double> g;
  auto a = g.param(w);
  auto b = g.param(w);
  CHECK(a.id() == b.id());
  CHECK(g.size() == 1);
  w.set_requires_grad(false);  // a changed parameter gets a fresh node
  auto c = g.param(w);
  CHECK(c.id() != a.id());
  CHECK_FALSE(c.requires_grad());
  g.clear();
  Graph<double> other;
  auto d = other.param(w);
  auto e = g.param(w);  // same node ids on two graphs must not be confused
  CHECK(d.valid());
  CHECK(e.valid());
  CHECK(&e.graph() == &g);
}

TEST_CASE("backward twice on one graph: parameters accumulate, graph values start afresh",
          "[core][graph]") {
  Parameter<double> w(Tensor<double>::from({1}, {2}));
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({1}, {5}), true);
  auto loss = sum(g.param(w) * x);
  g.backward(loss);
  g.backward(loss);
  CHECK(w.grad()[0] == 10.0);
  CHECK(x.grad()[0] == 2.0);
}

TEST_CASE("constants, detached and unreachable values get no gradient buffer", "[core][graph]") {
  Parameter<double> w(randn({2, 2}, 1));
  Parameter<double> frozen(randn({2, 2}, 2), false);
  Graph<double> g;
  auto c = g.constant(randn({1, 2}, 3));
  auto h = matmul(c, g.param(w));
  auto unused = tanh(h);  // needs a gradient, but the loss never uses it
  auto f = g.param(frozen);
  auto loss = sum(h + matmul(c, f));
  g.backward(loss);
  CHECK(h.has_grad());
  CHECK_FALSE(unused.has_grad());
  CHECK_FALSE(c.has_grad());
  CHECK_FALSE(c.requires_grad());
  CHECK_FALSE(f.requires_grad());
  CHECK(frozen.grad()[0] == 0.0);
  CHECK_THROWS_AS(c.grad(), GraphError);
  CHECK_THROWS_WITH(unused.grad(), Catch::Contains("tanh"));
}

TEST_CASE("clear keeps the memory and makes old Vars stale", "[core][graph]") {
  Graph<float> g;
  Parameter<float> w(Tensor<float>::ones({64, 64}));
  auto run = [&] {
    auto x = g.input(Tensor<float>::ones({8, 64}));
    g.backward(sum(tanh(matmul(x, g.param(w)))));
    return x;
  };
  Var<float> old = run();
  const size_t peak = g.peak_bytes();
  g.clear();
  CHECK(g.size() == 0);
  CHECK(g.bytes_used() == 0);
  CHECK_FALSE(old.valid());
  CHECK_THROWS_AS(old.shape(), GraphError);
  CHECK_THROWS_WITH(tanh(old), Catch::Contains("stale"));
  run();
  CHECK(g.peak_bytes() == peak);
}

TEST_CASE("a reused graph makes no heap allocation per step after warm-up",
          "[core][graph][alloc]") {
  const rwd::test::PinOpenBLAS pin;  // oneDNN's sgemm allocates; see alloc_counter.hpp
  Graph<float> g;
  Generator gen(5);
  Parameter<float> w(Tensor<float>::normal({16, 32}, 0, 0.1, gen));
  Parameter<float> b(Tensor<float>::zeros({32}));
  const Tensor<float> x = Tensor<float>::normal({4, 16}, 0, 1, gen);
  const std::vector<int64_t> targets = {1, 5, 7, 31};
  auto step = [&] {
    g.clear();
    auto h = tanh(matmul(g.input(x), g.param(w)) + g.param(b));
    auto gates = chunk<2>(h, 1);
    auto loss = cross_entropy(concat({gates[0] * gates[1], h}, 1), targets);
    g.backward(loss);
    w.zero_grad();
    b.zero_grad();
  };
  for (int i = 0; i < 3; ++i) step();
  const int64_t before = rwd::test::allocation_count();
  for (int i = 0; i < 20; ++i) step();
  const int64_t allocations = rwd::test::allocation_count() - before;
  INFO("counting malloc: " << rwd::test::counts_malloc());
  CHECK(allocations == 0);
}

TEST_CASE("several graphs live at once and do not mix", "[core][graph][errors]") {
  Graph<double> g1;
  Graph<double> g2;
  auto a = g1.constant(Tensor<double>::ones({2}));
  auto b = g2.constant(Tensor<double>::ones({2}));
  auto c = a + a;
  auto d = b * b;
  CHECK(c.value()[0] == 2.0);
  CHECK(d.value()[0] == 1.0);
  CHECK_THROWS_AS(a + b, GraphError);
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("matmul") && Catch::Contains("different graph"));
  CHECK_THROWS_WITH(concat({a, b}, 0), Catch::Contains("concat") && Catch::Contains("input 1"));
  CHECK_THROWS_AS(tanh(Var<double>()), GraphError);
  CHECK(g1.size() == 2);  // the failed calls recorded nothing
  CHECK(g2.size() == 2);
  // Both graphs stay usable after the failed calls: a new op with a parameter on g1 runs
  // backward, and g2's values are intact and it records and differentiates too.
  Parameter<double> w(Tensor<double>::from({2}, {3, -2}));
  auto loss1 = sum(g1.param(w) * c);  // c = [2, 2]
  CHECK(loss1.item() == 2.0);
  g1.backward(loss1);
  CHECK(w.grad()[0] == 2.0);
  CHECK(w.grad()[1] == 2.0);
  CHECK(d.value()[1] == 1.0);
  auto x2 = g2.input(Tensor<double>::from({2}, {1, 4}), true);
  g2.backward(sum(x2 * x2 + d));
  CHECK(x2.grad()[1] == 8.0);
  CHECK(g1.size() == 5);
  CHECK(g2.size() == 2 + 4);
}

TEST_CASE("backward errors: non-scalar loss, nothing to differentiate", "[core][graph][errors]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::ones({2, 3}), true);
  auto y = tanh(x);
  CHECK_THROWS_AS(g.backward(y), GraphError);
  CHECK_THROWS_WITH(g.backward(y), Catch::Contains("backward") && Catch::Contains("[2, 3]") &&
                                       Catch::Contains("tanh"));
  auto c = sum(g.constant(Tensor<double>::ones({2})));
  CHECK_THROWS_WITH(g.backward(c), Catch::Contains("requires a gradient"));
  CHECK_THROWS_AS(g.backward(y, Tensor<double>::ones({3, 2}).view()), ShapeError);
  // Still usable: an explicit output gradient, then a scalar loss.
  g.backward(y, Tensor<double>::ones({2, 3}).view());
  CHECK(x.grad()[0] == Approx(1 - std::tanh(1.0) * std::tanh(1.0)));
  g.backward(sum(y));
  CHECK(x.has_grad());
}

TEST_CASE("backward over a 20000-node chain needs no recursion", "[core][graph]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({1}, {0.5}), true);
  Var<double> h = x;
  for (int i = 0; i < 20000; ++i) h = h * 1.0;
  g.backward(sum(h));
  CHECK(x.grad()[0] == 1.0);
  CHECK(g.size() == 20002);
}

TEST_CASE("views share gradients with what they view", "[core][graph]") {
  Graph<double> g;
  auto x = g.input(randn({4, 3}, 9), true);
  auto top = slice(x, 0, 0, 2);
  auto flat = reshape(x, {12});
  g.backward(sum(top) * 2.0 + sum(flat));
  CHECK(x.grad().at({0, 0}) == 3.0);
  CHECK(x.grad().at({3, 2}) == 1.0);
}

TEST_CASE("input_view uses data in place and can take a gradient", "[core][graph]") {
  const Tensor<double> data = Tensor<double>::from({2, 2}, {1, 2, 3, 4});
  Graph<double> g;
  const size_t before = g.bytes_used();
  auto x = g.input_view(data, true);
  CHECK(g.bytes_used() == before);  // no copy on the tape
  CHECK(x.value().data() == data.data());
  g.backward(sum(square(x)));
  CHECK(x.grad().at({1, 1}) == 8.0);
  auto c = g.input_view(data);
  CHECK_FALSE(c.requires_grad());
  CHECK_THROWS_AS(g.input_view(TensorView<const double>(nullptr, Shape{3})), ValueError);
}
