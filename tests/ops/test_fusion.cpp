// Fusion of elementwise ops (ops/fusion.cpp, docs/fusion.md): fused and unfused results agree
// for every fusible op and broadcast position, gradients pass gradcheck through fused regions,
// the switches work, and inspection and anomaly mode still see each op.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <rewind/rewind.hpp>

#include "alloc_counter.hpp"
#include "support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

// Restores the process default however a test ends.
struct DefaultGuard {
  bool saved = fusion_default();
  ~DefaultGuard() { set_fusion_default(saved); }
};

using Binary = Var<float> (*)(Var<float>, Var<float>);
using Unary = Var<float> (*)(Var<float>);

const std::pair<const char*, Binary> kBinary[] = {
    {"add", [](Var<float> a, Var<float> b) { return a + b; }},
    {"sub", [](Var<float> a, Var<float> b) { return a - b; }},
    {"mul", [](Var<float> a, Var<float> b) { return a * b; }},
    {"div", [](Var<float> a, Var<float> b) { return a / b; }},
};
const std::pair<const char*, Unary> kUnary[] = {
    {"neg", [](Var<float> x) { return -x; }},
    {"add_scalar", [](Var<float> x) { return add_scalar(x, 0.5f); }},
    {"mul_scalar", [](Var<float> x) { return mul_scalar(x, -1.5f); }},
    {"square", [](Var<float> x) { return square(x); }},
    {"sigmoid", [](Var<float> x) { return sigmoid(x); }},
    {"tanh", [](Var<float> x) { return tanh(x); }},
    {"relu", [](Var<float> x) { return relu(x); }},
    {"exp", [](Var<float> x) { return exp(x); }},
    {"log", [](Var<float> x) { return log(add_scalar(square(x), 0.5f)); }},
    {"slice",
     [](Var<float> x) {
       auto halves = chunk<2>(x, -1);  // two last-axis slices
       return halves[0] * halves[1];
     }},
};

// Shapes of the second operand against a [5, 6] first one: every broadcast position.
const std::pair<const char*, Shape> kPositions[] = {
    {"same", Shape{5, 6}},   {"row", Shape{6}},   {"row [1, 6]", Shape{1, 6}},
    {"column", Shape{5, 1}}, {"scalar", Shape{}}, {"scalar [1, 1]", Shape{1, 1}},
};

struct Result {
  std::vector<std::vector<float>> values;  // value of each recorded output
  std::vector<std::vector<float>> grads;   // gradient of each input
  FusionStats stats;
};

// Records f over inputs (each requiring a gradient) with fusion on or off, and runs backward
// from a weighted sum of the result (weights that differ per element, so every position of
// the gradient matters).
Result run(bool fused, const std::vector<Tensor<float>>& inputs,
           const std::function<Var<float>(std::span<const Var<float>>)>& f) {
  Graph<float> g;
  set_fusion(g, fused);
  std::vector<Var<float>> in;
  for (const auto& t : inputs) in.push_back(g.input(t, true));
  Var<float> y = f(in);
  Generator gen(7);
  const Tensor<float> w = Tensor<float>::normal(y.shape(), 0, 1, gen);
  Var<float> loss = sum(y * g.constant(w));
  g.backward(loss);
  Result r;
  r.values.emplace_back(y.data(), y.data() + y.numel());
  for (auto v : in) r.grads.emplace_back(v.grad().data(), v.grad().data() + v.numel());
  r.stats = fusion_stats(g);
  return r;
}

void require_close(const std::vector<std::vector<float>>& a,
                   const std::vector<std::vector<float>>& b, const char* what) {
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    REQUIRE(a[k].size() == b[k].size());
    for (size_t i = 0; i < a[k].size(); ++i) {
      INFO(what << " " << k << " element " << i);
      CHECK(a[k][i] == Approx(b[k][i]).epsilon(1e-5).margin(1e-6));
    }
  }
}

Tensor<float> positive(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return Tensor<float>::uniform(s, 0.5, 2.0, gen);
}

}  // namespace

TEST_CASE("fusion: fused and unfused agree for every binary op and broadcast position",
          "[fusion]") {
  for (const auto& [name, op] : kBinary)
    for (const auto& [where, shape] : kPositions)
      for (bool swap : {false, true}) {
        INFO(name << ", second operand " << where << (swap ? ", on the left" : ""));
        const std::vector<Tensor<float>> inputs = {positive({5, 6}, 1), positive(shape, 2),
                                                   positive({5, 6}, 3)};
        // The op between two more, so it sits inside a region: tanh(a) op b, times c.
        auto f = [op = op, swap](std::span<const Var<float>> in) {
          Var<float> a = tanh(in[0]);
          Var<float> y = swap ? op(in[1], a) : op(a, in[1]);
          return y * in[2];
        };
        const Result on = run(true, inputs, f);
        const Result off = run(false, inputs, f);
        CHECK(on.stats.regions == 1);
        CHECK(on.stats.fused_ops == 3);
        CHECK(off.stats.regions == 0);
        require_close(on.values, off.values, "value");
        require_close(on.grads, off.grads, "gradient of input");
      }
}

TEST_CASE("fusion: fused and unfused agree for every unary op", "[fusion]") {
  for (const auto& [name, op] : kUnary) {
    INFO(name);
    const std::vector<Tensor<float>> inputs = {positive({4, 8}, 4), positive({8}, 5)};
    auto f = [op = op](std::span<const Var<float>> in) { return tanh(op(in[0] * in[1])); };
    const Result on = run(true, inputs, f);
    const Result off = run(false, inputs, f);
    CHECK(on.stats.regions == 1);
    require_close(on.values, off.values, "value");
    require_close(on.grads, off.grads, "gradient of input");
  }
}

TEST_CASE("fusion: a user LSTM step, fused, equals the same step unfused", "[fusion]") {
  // Gates from a product, split along the last axis, the cell update: one region per step.
  const std::vector<Tensor<float>> inputs = {positive({3, 16}, 6), positive({3, 4}, 7),
                                             positive({16}, 8)};
  auto f = [](std::span<const Var<float>> in) {
    Var<float> gates = in[0] + in[2];
    auto [i, fg, g, o] = chunk<4>(gates, 1);
    Var<float> c = sigmoid(fg) * in[1] + sigmoid(i) * tanh(g);
    Var<float> h = sigmoid(o) * tanh(c);
    return concat({h, c}, 1);
  };
  const Result on = run(true, inputs, f);
  const Result off = run(false, inputs, f);
  CHECK(on.stats.regions == 1);
  CHECK(on.stats.fused_ops == 14);
  require_close(on.values, off.values, "value");
  require_close(on.grads, off.grads, "gradient of input");
}

TEST_CASE("fusion: gradcheck in double passes through fused regions", "[fusion][grad]") {
  // Every fusible op, each broadcast position, one region; the check confirms it was one.
  FusionStats seen;
  const auto report = rwd::test::check(
      {randn({3, 5}, 11), randn({5}, 12), randn({3, 1}, 13), randn({}, 14), randn({3, 10}, 15)},
      [&](std::span<const Var<double>> in) {
        Var<double> a = tanh(in[0]) * in[1];                          // row broadcast
        Var<double> b = sigmoid(a) / add_scalar(square(in[2]), 1.0);  // column
        Var<double> c = b - in[3] * relu(a);                          // scalar
        Var<double> d = exp(mul_scalar(c, 0.5)) + log(add_scalar(square(b), 1.0));
        auto [p, q] = chunk<2>(in[4], 1);  // last-axis slices
        Var<double> y = -(d * p) + neg(q) / add_scalar(exp(a), 1.0);
        seen = fusion_stats(in[0].graph());
        return y;
      });
  rwd::test::require_passed(report, "mul");
  CHECK(seen.regions == 1);
  CHECK(seen.fused_ops >= 20);
}

TEST_CASE("fusion: a region ends at the first op that is not elementwise", "[fusion]") {
  Graph<float> g;
  set_fusion(g, true);
  auto x = g.input(positive({4, 4}, 20), true);
  auto a = tanh(x) * x;     // region 1: tanh, mul
  auto m = matmul(a, x);    // not elementwise
  auto b = sigmoid(m) + a;  // region 2: sigmoid, add
  auto s = sum(b);          // not elementwise
  auto loss = square(s);    // a lone op: not counted as a region
  const FusionStats st = fusion_stats(g);
  CHECK(st.regions == 2);
  CHECK(st.fused_ops == 4);
  CHECK(st.largest == 2);
  g.backward(loss);
  CHECK(x.has_grad());
  const GraphStats gs = graph_stats(g);
  CHECK(gs.fused_regions == 2);
  CHECK(gs.fused_ops == 4);
  CHECK_THAT(gs.table(), Catch::Contains("fused regions") && Catch::Contains("4 ops inside"));
}

TEST_CASE("fusion: the switches: process default, per graph, and back to the default", "[fusion]") {
  DefaultGuard guard;
  set_fusion_default(false);
  {
    Graph<float> g;
    CHECK_FALSE(fusion_enabled(g));
    auto x = g.input(positive({2, 3}, 21), true);
    (void)(tanh(x) * x);
    CHECK(fusion_stats(g).regions == 0);
    CHECK(g.node(NodeId(g.size() - 1)).group == 0);
    set_fusion(g, true);  // this graph only
    CHECK(fusion_enabled(g));
    (void)(tanh(x) * x);
    CHECK(fusion_stats(g).regions == 1);
    set_fusion(g, std::nullopt);  // the default again
    CHECK_FALSE(fusion_enabled(g));
  }
  set_fusion_default(true);
  Graph<float> g;
  CHECK(fusion_enabled(g));
  set_fusion(g, false);
  CHECK_FALSE(fusion_enabled(g));
  Graph<float> other;  // per-graph settings stay with their graph
  CHECK(fusion_enabled(other));
}

TEST_CASE("fusion: REWIND_FUSION sets the process default", "[fusion][fusion-env]") {
  // ctest runs this case again with REWIND_FUSION=0 (fusion.env_off).
  const char* env = std::getenv("REWIND_FUSION");
  const bool off =
      env != nullptr && (std::string_view(env) == "0" || std::string_view(env) == "off" ||
                         std::string_view(env) == "false");
  CHECK(fusion_default() == !off);
  Graph<float> g;
  auto x = g.input(positive({2, 3}, 22), true);
  (void)(tanh(x) * x);
  CHECK(fusion_stats(g).regions == (off ? 0U : 1U));
}

TEST_CASE("fusion: a value inside a region keeps its gradient only when asked", "[fusion]") {
  Graph<double> g;
  set_fusion(g, true);
  auto x = g.input(randn({3, 4}, 23), true);
  auto inner = tanh(x);    // used only inside the region
  auto kept = sigmoid(x);  // asked to keep its gradient
  g.retain_grad(kept);
  auto y = inner * kept + x;
  g.backward(sum(y));
  CHECK_FALSE(inner.has_grad());
  CHECK_THROWS_WITH(inner.grad(),
                    Catch::Contains("fused region 1") && Catch::Contains("retain_grad"));
  REQUIRE(kept.has_grad());
  // d(sum)/d(kept) = inner
  for (int64_t i = 0; i < kept.numel(); ++i) CHECK(kept.grad()[i] == Approx(inner.data()[i]));
}

TEST_CASE("fusion: anomaly mode names the op inside a fused region", "[fusion][anomaly]") {
  SECTION("forward") {
    Graph<float> g;
    set_fusion(g, true);
    g.set_anomaly_detection(true);
    auto x = g.input(Tensor<float>::from({2}, {1, -1}), true);
    {
      auto s = g.scope("cell");
      auto y = log(x * x - 1.0f + x);  // log(-1) = NaN in a region of mul, add_scalar, add, log
      (void)y;
    }
    try {
      g.check_anomalies();
      FAIL("no anomaly reported");
    } catch (const AnomalyError& e) {
      CHECK(e.op() == "log");
      CHECK_THAT(std::string(e.what()), Catch::Contains("forward of 'log'") &&
                                            Catch::Contains("fused region 1") &&
                                            Catch::Contains("scope 'cell'"));
    }
  }
  SECTION("backward") {
    Graph<float> g;
    set_fusion(g, true);
    g.set_anomaly_detection(true);
    auto a = g.input(Tensor<float>::from({2}, {1e-30f, 1}), true);
    auto b = g.input(Tensor<float>::from({2}, {1e-30f, 1}), true);
    auto w = g.constant(Tensor<float>::from({2}, {1e10f, 1e10f}));
    Var<float> y;
    {
      auto s = g.scope("cell");
      y = (a / b) * w;  // forward 1e10; backward of div: 1e10 / 1e-30 = +Inf in float
    }
    REQUIRE(g.node(y.id()).group != 0);
    try {
      g.backward(sum(y));
      FAIL("no anomaly reported");
    } catch (const AnomalyError& e) {
      CHECK(e.op() == "div");
      CHECK(e.in_backward());
      CHECK_THAT(std::string(e.what()),
                 Catch::Contains("backward of 'div'") && Catch::Contains("fused region 1") &&
                     Catch::Contains("scope 'cell'") && Catch::Contains("+Inf") &&
                     Catch::Contains("its input 0"));
    }
  }
}

TEST_CASE("fusion: DOT draws a fused region as a cluster of its ops", "[fusion][inspect]") {
  Graph<float> g;
  set_fusion(g, true);
  auto x = g.input(positive({2, 3}, 30), true);
  Var<float> y;
  {
    auto s = g.scope("cell");
    y = sigmoid(x) * tanh(x) + x;
  }
  g.backward(sum(y));
  std::ostringstream dot;
  write_dot(dot, g);
  const std::string text = dot.str();
  CHECK_THAT(text, Catch::Contains("fused region 1 (4 ops)") && Catch::Contains("cluster_s"));
  // Every member is still drawn with its own op.
  for (const char* op : {"sigmoid", "tanh", "mul", "add"}) CHECK_THAT(text, Catch::Contains(op));
}

namespace {

// An LSTM cell a user writes from public ops (PyTorch's equations).
template <Scalar T>
class UserLSTMCell : public Module<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 2>;
  UserLSTMCell(int64_t input, int64_t hidden, Generator& gen)
      : w_ih_(Tensor<T>::uniform({4 * hidden, input}, -0.3, 0.3, gen)),
        w_hh_(Tensor<T>::uniform({4 * hidden, hidden}, -0.3, 0.3, gen)),
        b_(Tensor<T>::uniform({4 * hidden}, -0.3, 0.3, gen)) {}
  [[nodiscard]] int64_t input_size() const { return w_ih_.shape()[1]; }
  [[nodiscard]] int64_t hidden_size() const { return w_hh_.shape()[1]; }
  State step(Var<T> x, const State& s) {
    Graph<T>& g = x.graph();
    Var<T> gates = matmul(x, g.param(w_ih_), false, true) +
                   matmul(s[0], g.param(w_hh_), false, true) + g.param(b_);
    auto [i, f, c_hat, o] = chunk<4>(gates, 1);
    Var<T> c = sigmoid(f) * s[1] + sigmoid(i) * tanh(c_hat);
    return {sigmoid(o) * tanh(c), c};
  }
  void visit(ModuleVisitor<T>& v) override {
    v.parameter("w_ih", w_ih_);
    v.parameter("w_hh", w_hh_);
    v.parameter("b", b_);
  }

 private:
  Parameter<T> w_ih_, w_hh_, b_;
};

template <Scalar T>
Recurrent<UserLSTMCell<T>> user_lstm(const RecurrentOptions& o, uint64_t seed) {
  Generator gen(seed);
  return Recurrent<UserLSTMCell<T>>(
      "ulstm", o,
      [](int64_t in, int64_t hidden, bool, Generator& g) { return UserLSTMCell<T>(in, hidden, g); },
      gen);
}

}  // namespace

TEST_CASE("fusion: a user cell on the sequence driver, gradient-checked with fusion on",
          "[fusion][grad]") {
  auto layer = user_lstm<double>(rwd::test::rnn_options(3, 2, 2, true), 31);
  const auto params = layer.named_parameters();
  const std::vector<int64_t> lengths = {4, 2};
  const auto report = rwd::test::check(
      {randn({4, 2, 3}, 32)},
      [&](std::span<const Var<double>> in) {
        auto out = layer.forward(in[0], {}, lengths);
        CHECK(fusion_stats(in[0].graph()).regions > 0);
        return concat({reshape(out.output, {-1}), reshape(out.state[1], {-1})}, 0);
      },
      params);
  rwd::test::require_passed(report, "sigmoid");
}

TEST_CASE("fusion: a user cell trains with no heap allocation per step once warm",
          "[fusion][alloc]") {
  const rwd::test::PinOpenBLAS pin;  // oneDNN's sgemm allocates; see alloc_counter.hpp
  auto layer = user_lstm<float>(rwd::test::rnn_options(8, 16, 1, false), 33);
  Generator gen(34);
  const Tensor<float> x = Tensor<float>::normal({12, 4, 8}, 0, 1, gen);
  Graph<float> g;
  set_fusion(g, true);
  auto step = [&] {
    g.clear();
    auto out = layer.forward(g.input_view(x));
    g.backward(sum(square(out.output)));
    layer.zero_grad();
  };
  step();
  step();
  const int64_t before = rwd::test::allocation_count();
  step();
  CHECK(rwd::test::allocation_count() - before == 0);
  CHECK(fusion_stats(g).regions >= 12);
}

TEST_CASE("fusion: a bidirectional user cell on two threads equals one thread",
          "[fusion][threads]") {
  auto layer = user_lstm<double>(rwd::test::rnn_options(3, 4, 1, true), 35);
  const Tensor<double> x = randn({5, 2, 3}, 36);
  std::array<std::vector<double>, 2> grads;
  for (int threads : {1, 2}) {
    const rwd::test::ScopedThreads guard(threads);
    Graph<double> g;
    set_fusion(g, true);
    layer.zero_grad();
    auto out = layer.forward(g.input(x));
    g.backward(sum(square(out.output)));
    for (const auto& p : layer.named_parameters())
      for (int64_t i = 0; i < p.param->grad().numel(); ++i)
        grads[size_t(threads - 1)].push_back(p.param->grad().data()[i]);
  }
  REQUIRE(grads[0].size() == grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i)
    CHECK(grads[1][i] == Approx(grads[0][i]).epsilon(1e-12));
}

namespace {

// lerp(a, b, w) = a + w (b − a) as a user's ElementwiseOp.
template <Scalar T>
void lerp_row(int64_t n, const T* const* x, const int64_t* stride, T* y) {
  for (int64_t c = 0; c < n; ++c) {
    const T a = x[0][c * stride[0]], b = x[1][c * stride[1]], w = x[2][c * stride[2]];
    y[c] = a + w * (b - a);
  }
}
template <Scalar T>
void lerp_grad_row(int64_t n, const T* dy, const T*, const T* const* x, const int64_t* stride,
                   T* const* dx) {
  for (int64_t c = 0; c < n; ++c) {
    const T a = x[0][c * stride[0]], b = x[1][c * stride[1]], w = x[2][c * stride[2]];
    if (dx[0] != nullptr) dx[0][c] = dy[c] * (T(1) - w);
    if (dx[1] != nullptr) dx[1][c] = dy[c] * w;
    if (dx[2] != nullptr) dx[2][c] = dy[c] * (b - a);
  }
}
template <Scalar T>
const ElementwiseOp<T> kLerp("lerp", 3, &lerp_row<T>, &lerp_grad_row<T>);

}  // namespace

TEST_CASE("fusion: a user's ElementwiseOp joins regions and passes gradcheck", "[fusion][grad]") {
  for (bool fused : {true, false}) {
    INFO("fusion " << fused);
    FusionStats seen;
    const auto report = rwd::test::check(
        {randn({3, 4}, 40), randn({4}, 41), randn({3, 1}, 42)},  // full, row, column
        [&](std::span<const Var<double>> in) {
          set_fusion(in[0].graph(), fused);
          Var<double> y = tanh(elementwise(kLerp<double>, {in[0], in[1], sigmoid(in[2])}));
          seen = fusion_stats(in[0].graph());
          return y * in[0];
        });
    rwd::test::require_passed(report, "lerp");
    CHECK(seen.regions == (fused ? 1U : 0U));
  }
  const std::vector<Tensor<float>> inputs = {positive({5, 6}, 43), positive({6}, 44),
                                             positive({5, 1}, 45)};
  auto f = [](std::span<const Var<float>> in) {
    return elementwise(kLerp<float>, {tanh(in[0]), in[1], in[2]}) * in[0];
  };
  const Result on = run(true, inputs, f);
  const Result off = run(false, inputs, f);
  CHECK(on.stats.fused_ops == 3);
  require_close(on.values, off.values, "value");
  require_close(on.grads, off.grads, "gradient of input");
}

TEST_CASE("fusion: a user's ElementwiseOp checks its inputs", "[fusion]") {
  Graph<float> g;
  auto a = g.input(positive({2, 3}, 46));
  auto b = g.input(positive({3}, 47));
  CHECK_THROWS_WITH(elementwise(kLerp<float>, {a, b}),
                    Catch::Contains("lerp") && Catch::Contains("takes 3 inputs, given 2"));
  auto t = g.input(positive({2, 1, 3}, 48));
  auto u = g.input(positive({2, 4, 3}, 49));
  CHECK_THROWS_AS(elementwise(kLerp<float>, {t, u, u}), ShapeError);
  CHECK_THROWS_WITH(elementwise(kLerp<float>, {t, u, u}),
                    Catch::Contains("lerp: input 0 of shape [2, 1, 3]"));
  CHECK(elementwise(kLerp<float>, {a, b, b}).shape() == Shape{2, 3});  // still usable
}

TEST_CASE("fusion: a value used inside and outside its region reads its whole gradient",
          "[fusion]") {
  for (bool fused : {true, false}) {
    INFO("fusion " << fused);
    Graph<double> g;
    set_fusion(g, fused);
    auto x = g.input(randn({2, 3}, 50), true);
    auto a = tanh(x);
    auto b = a * 2.0;                // inside a's region
    auto view = reshape(a, {6});     // outside: a view of a
    g.backward(sum(b) + sum(view));  // dL/da = 2 + 1 = 3 everywhere
    REQUIRE(a.has_grad());
    for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.grad()[i] == Approx(3.0));
    for (int64_t i = 0; i < view.numel(); ++i) CHECK(view.grad()[i] == Approx(3.0));
  }
}

TEST_CASE("fusion: many blocks of rows, every broadcast, members used twice, slices at offsets",
          "[fusion]") {
  // 301 rows: a region's backward runs over several blocks, and row-broadcast operands take
  // a contribution from every block.
  const std::vector<Tensor<float>> inputs = {positive({301, 74}, 51), positive({37}, 52),
                                             positive({301, 1}, 53), positive({}, 54),
                                             positive({1, 37}, 55)};
  std::vector<Var<float>> kept;
  auto f = [&](std::span<const Var<float>> in) {
    auto [p, q] = chunk<2>(in[0], 1);                         // slices at offsets 0 and 37
    Var<float> a = tanh(p) * in[1];                           // row
    Var<float> b = a * a + q / in[2];                         // a used twice; column
    Var<float> c = sigmoid(b) - in[3];                        // scalar
    Var<float> d = elementwise(kLerp<float>, {c, a, in[4]});  // user op, row
    in[0].graph().retain_grad(b);
    kept = {b};
    return d * c + exp(mul_scalar(d, -0.1f));
  };
  const Result on = run(true, inputs, f);
  const Result off = run(false, inputs, f);
  CHECK(on.stats.regions == 1);
  CHECK(on.stats.fused_ops >= 14);
  require_close(on.values, off.values, "value");
  require_close(on.grads, off.grads, "gradient of input");
}

TEST_CASE("fusion: backward from a value in the middle of a region", "[fusion]") {
  std::array<std::vector<double>, 2> grads;
  for (bool fused : {true, false}) {
    Graph<double> g;
    set_fusion(g, fused);
    auto x = g.input(randn({5, 4}, 56), true);
    auto mid = sigmoid(x) * x;
    auto after = tanh(mid) + x;  // recorded after the root: not on its path
    (void)after;
    const Tensor<double> seed = randn({5, 4}, 57);
    g.backward(mid, seed.view());
    grads[fused ? 0 : 1].assign(x.grad().data(), x.grad().data() + x.numel());
  }
  for (size_t i = 0; i < grads[0].size(); ++i) CHECK(grads[0][i] == Approx(grads[1][i]));
}

TEST_CASE("fusion: a long chain is cut into regions of at most 256 ops", "[fusion]") {
  const std::vector<Tensor<float>> inputs = {positive({3, 5}, 58)};
  auto f = [](std::span<const Var<float>> in) {
    Var<float> y = in[0];
    for (int i = 0; i < 300; ++i) y = tanh(y) + in[0];
    return y;
  };
  const Result on = run(true, inputs, f);
  const Result off = run(false, inputs, f);
  CHECK(on.stats.regions == 3);  // 600 ops and the weighting mul: 256 + 256 + 89
  CHECK(on.stats.largest == 256);
  require_close(on.values, off.values, "value");
  require_close(on.grads, off.grads, "gradient of input");
}

TEST_CASE("fusion: graph statistics count the same nodes reached fused or not", "[fusion]") {
  std::array<GraphStats, 2> stats;
  for (bool fused : {true, false}) {
    Parameter<double> w(randn({4}, 59));
    Graph<double> g;
    set_fusion(g, fused);
    auto x = g.input(randn({3, 4}, 60));
    auto y = tanh(x * g.param(w)) * sigmoid(x);
    (void)exp(x * g.param(w));  // a dead branch: not reached either way
    g.backward(sum(y));
    stats[fused ? 0 : 1] = graph_stats(g);
  }
  CHECK(stats[0].reached == stats[1].reached);
  CHECK(stats[0].backward_runs == stats[1].backward_runs);
  CHECK(stats[0].fused_regions == 1);  // the dead branch follows on: one region of 6
}

TEST_CASE("fusion: a graph's setting reaches the reverse direction on two threads",
          "[fusion][threads]") {
  auto layer = user_lstm<float>(rwd::test::rnn_options(3, 4, 1, true), 61);
  const Tensor<float> x = Tensor<float>::normal({5, 2, 3}, 0, 1, *std::make_unique<Generator>(62));
  const rwd::test::ScopedThreads guard(2);
  for (bool fused : {true, false}) {
    Graph<float> g;
    set_fusion(g, fused);
    auto out = layer.forward(g.input(x));
    g.backward(sum(square(out.output)));
    REQUIRE(g.linked_graphs().size() == 1);
    const GraphStats side = graph_stats(*g.linked_graphs()[0].graph);
    CHECK((side.fused_regions > 0) == fused);
  }
}
