// Sequence layers: shapes, errors, lengths, truncated BPTT, dropout, a user-written cell run
// through the generic driver, float against double, and no allocation per step.
#include "alloc_counter.hpp"
#include "layers/layer_support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

// A minimal user cell: a "minimal gated unit"-style cell written only with public ops,
//   f = σ(x·W_fᵀ + h·U_fᵀ + b),  h' = f ∘ h + (1 − f) ∘ tanh(x·W_cᵀ + (f ∘ h)·U_cᵀ)
// It has no project_input, so the driver calls step() with raw inputs.
template <Scalar T>
class MinimalGatedCell : public Module<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 1>;
  MinimalGatedCell(int64_t in, int64_t hidden, Generator& gen)
      : w_f_(Tensor<T>::uniform({hidden, in}, -0.5, 0.5, gen)),
        u_f_(Tensor<T>::uniform({hidden, hidden}, -0.5, 0.5, gen)),
        b_f_(Tensor<T>::uniform({hidden}, -0.5, 0.5, gen)),
        w_c_(Tensor<T>::uniform({hidden, in}, -0.5, 0.5, gen)),
        u_c_(Tensor<T>::uniform({hidden, hidden}, -0.5, 0.5, gen)) {}
  int64_t input_size() const { return w_f_.shape()[1]; }
  int64_t hidden_size() const { return w_f_.shape()[0]; }
  State step(Var<T> x, const State& s) {
    Graph<T>& g = x.graph();
    Var<T> h = s[0];
    Var<T> f =
        sigmoid(linear(x, g.param(w_f_), g.param(b_f_)) + matmul(h, g.param(u_f_), false, true));
    Var<T> candidate =
        tanh(matmul(x, g.param(w_c_), false, true) + matmul(f * h, g.param(u_c_), false, true));
    return {f * h + (T(1) - f) * candidate};
  }
  void visit(ModuleVisitor<T>& v) override {
    v.parameter("w_f", w_f_);
    v.parameter("u_f", u_f_);
    v.parameter("b_f", b_f_);
    v.parameter("w_c", w_c_);
    v.parameter("u_c", u_c_);
  }

 private:
  Parameter<T> w_f_, u_f_, b_f_, w_c_, u_c_;
};

template <Scalar T>
Recurrent<MinimalGatedCell<T>> make_minimal(const RecurrentOptions& o, Generator& gen) {
  return Recurrent<MinimalGatedCell<T>>(
      "MinimalGated", o,
      [](int64_t in, int64_t hidden, bool, Generator& g) {
        return MinimalGatedCell<T>(in, hidden, g);
      },
      gen);
}

}  // namespace

static_assert(RecurrentCell<MinimalGatedCell<double>>);
static_assert(!ProjectingCell<MinimalGatedCell<double>>);
static_assert(ProjectingCell<LSTMCell<float>>);

TEST_CASE("sequence layer output and state shapes follow PyTorch", "[layers][sequence]") {
  Generator gen(1);
  Graph<float> g;
  LSTM<float> lstm(rwd::test::rnn_options(3, 4, 2, true), gen);
  auto out = lstm.forward(g.constant(Tensor<float>::zeros({7, 5, 3})));
  CHECK(out.output.shape() == Shape{7, 5, 8});
  CHECK(out.h_n().shape() == Shape{4, 5, 4});
  CHECK(out.c_n().shape() == Shape{4, 5, 4});
  auto o = rwd::test::rnn_options(3, 4);
  o.batch_first = true;
  GRU<float> gru(o, gen);
  auto gout = gru.forward(g.constant(Tensor<float>::zeros({5, 7, 3})));
  CHECK(gout.output.shape() == Shape{5, 7, 4});
  CHECK(gout.h_n().shape() == Shape{1, 5, 4});
}

TEST_CASE("the final state of a sequence is its last step's output, in each direction",
          "[layers][sequence]") {
  Generator gen(2);
  Graph<double> g;
  LSTM<double> lstm(rwd::test::rnn_options(2, 3, 1, true), gen);
  const std::vector<int64_t> lengths = {4, 2};
  auto out = lstm.forward(g.constant(randn({4, 2, 2}, 3)), {}, lengths);
  const auto y = out.output.value();  // [T, B, 2H]
  const auto h = out.h_n().value();   // [2, B, H]
  for (int64_t j = 0; j < 3; ++j) {
    // Forward direction: final state at the own last step (t = len - 1).
    CHECK(h.at({0, 0, j}) == y.at({3, 0, j}));
    CHECK(h.at({0, 1, j}) == y.at({1, 1, j}));
    // Reverse direction: final state after reading back to t = 0.
    CHECK(h.at({1, 0, j}) == y.at({0, 0, 3 + j}));
    CHECK(h.at({1, 1, j}) == y.at({0, 1, 3 + j}));
    // Past the end, outputs are zero in both directions.
    CHECK(y.at({2, 1, j}) == 0.0);
    CHECK(y.at({3, 1, 3 + j}) == 0.0);
  }
}

TEST_CASE("a padded sequence gives the same results as the sequence alone", "[layers][sequence]") {
  Generator gen(4);
  GRU<double> gru(rwd::test::rnn_options(2, 3, 2, true), gen);
  const Tensor<double> full = randn({5, 2, 2}, 5);
  // Row 1 alone, its first 3 steps.
  Tensor<double> alone({3, 1, 2});
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t f = 0; f < 2; ++f) alone.at({t, 0, f}) = full.at({t, 1, f});
  Graph<double> g;
  const std::vector<int64_t> lengths = {5, 3};
  auto padded = gru.forward(g.constant(full), {}, lengths);
  auto single = gru.forward(g.constant(alone));
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t j = 0; j < 6; ++j)
      CHECK(padded.output.value().at({t, 1, j}) == Approx(single.output.value().at({t, 0, j})));
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t j = 0; j < 3; ++j)
      CHECK(padded.h_n().value().at({k, 1, j}) == Approx(single.h_n().value().at({k, 0, j})));
}

TEST_CASE("outputs past a sequence's end pass no gradient", "[layers][sequence]") {
  Generator gen(6);
  RNN<double> rnn(rwd::test::rnn_options(2, 3), gen);
  Graph<double> g;
  auto x = g.input(randn({4, 2, 2}, 7), true);
  const std::vector<int64_t> lengths = {4, 2};
  auto out = rnn.forward(x, {}, lengths);
  g.backward(sum(out.output));
  // Sequence 1 ends at t = 1: its inputs at t = 2, 3 influence nothing.
  for (int64_t t = 2; t < 4; ++t)
    for (int64_t f = 0; f < 2; ++f) CHECK(x.grad().at({t, 1, f}) == 0.0);
  CHECK(x.grad().at({1, 1, 0}) != 0.0);
}

TEST_CASE("sequence layer errors name the layer and the shapes", "[layers][sequence][errors]") {
  Generator gen(8);
  LSTM<double> lstm(rwd::test::rnn_options(3, 2, 2), gen);
  Graph<double> g;
  auto x = g.constant(Tensor<double>::zeros({4, 2, 3}));
  CHECK_THROWS_AS(lstm.forward(g.constant(Tensor<double>::zeros({4, 3}))), ShapeError);
  CHECK_THROWS_WITH(
      lstm.forward(g.constant(Tensor<double>::zeros({4, 3}))),
      Catch::Contains("LSTM") && Catch::Contains("rank 3") && Catch::Contains("[4, 3]"));
  CHECK_THROWS_WITH(lstm.forward(g.constant(Tensor<double>::zeros({4, 2, 5}))),
                    Catch::Contains("LSTM") && Catch::Contains("5 features") &&
                        Catch::Contains("input_size is 3"));
  CHECK_THROWS_WITH(lstm.forward(g.constant(Tensor<double>::zeros({0, 2, 3}))),
                    Catch::Contains("empty sequence"));
  CHECK_THROWS_AS(lstm.forward(g.constant(Tensor<double>::zeros({4, 0, 3}))), ShapeError);
  // Initial states of the wrong shape.
  LSTM<double>::State bad_h{g.constant(Tensor<double>::zeros({1, 2, 2})), Var<double>()};
  CHECK_THROWS_WITH(lstm.forward(x, bad_h), Catch::Contains("initial state 0") &&
                                                Catch::Contains("[1, 2, 2]") &&
                                                Catch::Contains("[2, 2, 2]"));
  LSTM<double>::State bad_c{Var<double>(), g.constant(Tensor<double>::zeros({2, 3, 2}))};
  CHECK_THROWS_AS(lstm.forward(x, bad_c), ShapeError);
  Graph<double> other;
  LSTM<double>::State foreign{other.constant(Tensor<double>::zeros({2, 2, 2})), Var<double>()};
  CHECK_THROWS_AS(lstm.forward(x, foreign), GraphError);
  // Lengths: wrong count, out of 1..T.
  const std::vector<int64_t> three = {1, 2, 3};
  CHECK_THROWS_WITH(lstm.forward(x, {}, three),
                    Catch::Contains("3 lengths") && Catch::Contains("batch of 2"));
  const std::vector<int64_t> zero = {0, 4};
  CHECK_THROWS_AS(lstm.forward(x, {}, zero), ValueError);
  const std::vector<int64_t> long_len = {4, 5};
  CHECK_THROWS_WITH(lstm.forward(x, {}, long_len),
                    Catch::Contains("lengths[1] = 5") && Catch::Contains("1..4"));
  // Cells: wrong input or state shapes in the per-step API.
  LSTMCell<double> cell(3, 2, gen);
  auto h = g.zeros({2, 2});
  CHECK_THROWS_WITH(cell.step(g.constant(Tensor<double>::zeros({2, 4})), {h, h}),
                    Catch::Contains("LSTMCell") && Catch::Contains("[2, 4]"));
  CHECK_THROWS_WITH(cell.step(g.constant(Tensor<double>::zeros({2, 3})), {h, g.zeros({3, 2})}),
                    Catch::Contains("state value 1") && Catch::Contains("[3, 2]"));
  // Bad options.
  CHECK_THROWS_AS(LSTM<double>(rwd::test::rnn_options(0, 2), gen), ValueError);
  auto drop = rwd::test::rnn_options(3, 2, 2);
  drop.dropout = 1.0;
  CHECK_THROWS_AS(LSTM<double>(drop, gen), ValueError);
  // Still usable.
  CHECK(lstm.forward(x).output.shape() == Shape{4, 2, 2});
}

TEST_CASE("a user-written cell runs stacked and bidirectional with lengths through the driver",
          "[layers][sequence][custom-cell]") {
  Generator gen(9);
  auto layer = make_minimal<double>(rwd::test::rnn_options(3, 2, 2, true), gen);
  std::vector<std::string> names;
  for (const auto& np : layer.named_parameters()) names.push_back(np.name);
  REQUIRE(names.size() == 20);
  CHECK(names[0] == "w_f_l0");
  CHECK(names[5] == "w_f_l0_reverse");
  CHECK(names[19] == "u_c_l1_reverse");
  const auto r =
      rwd::test::check_sequence_layer(layer, randn({5, 2, 3}, 10), {randn({4, 2, 2}, 11)}, {5, 3});
  INFO(r.summary());
  CHECK(r.passed);
  Graph<double> g;
  auto out = layer.forward(g.constant(randn({5, 2, 3}, 12)));
  CHECK(out.output.shape() == Shape{5, 2, 4});
}

TEST_CASE("truncated BPTT: values carry across chunks, gradients stop at the boundary",
          "[layers][sequence][tbptt]") {
  Generator gen(13);
  LSTM<double> lstm(rwd::test::rnn_options(2, 3), gen);
  const Tensor<double> seq = randn({6, 2, 2}, 14);
  Tensor<double> first({3, 2, 2});
  Tensor<double> second({3, 2, 2});
  for (int64_t i = 0; i < 12; ++i) {
    first[i] = seq[i];
    second[i] = seq[12 + i];
  }
  Graph<double> g;
  // The whole sequence at once, for reference values.
  auto whole = lstm.forward(g.constant(seq));
  // Two chunks; the first chunk's final state enters the second detached.
  auto x1 = g.input(first, true);
  auto chunk1 = lstm.forward(x1);
  LSTM<double>::State carried{detach(chunk1.h_n()), detach(chunk1.c_n())};
  auto x2 = g.input(second, true);
  auto chunk2 = lstm.forward(x2, carried);
  // Values carry over: chunk 2 continues exactly where the whole sequence is.
  CHECK(max_abs_diff(chunk2.h_n().value(), whole.h_n().value()) < 1e-14);
  CHECK(max_abs_diff(chunk2.c_n().value(), whole.c_n().value()) < 1e-14);
  // Gradients stop: a loss on chunk 2 reaches x2 but not x1.
  g.backward(sum(chunk2.output));
  CHECK_FALSE(x1.has_grad());
  CHECK(x2.has_grad());
  double norm = 0;
  for (int64_t i = 0; i < 12; ++i) norm += std::abs(x2.grad()[i]);
  CHECK(norm > 0);
  // Without the detach, the same loss does reach chunk 1.
  LSTM<double>::State attached{chunk1.h_n(), chunk1.c_n()};
  auto chunk2b = lstm.forward(x2, attached);
  g.backward(sum(chunk2b.output));
  CHECK(x1.has_grad());
}

TEST_CASE("truncated BPTT across graph rounds: carry values as constants", "[layers][tbptt]") {
  Generator gen(15);
  GRU<float> gru(rwd::test::rnn_options(2, 3), gen);
  const Tensor<float> chunk = Tensor<float>::ones({4, 1, 2});
  Graph<float> g;
  Tensor<float> h({1, 1, 3});  // starts at zero
  for (int step = 0; step < 3; ++step) {
    g.clear();
    GRU<float>::State init{g.constant(h)};
    auto out = gru.forward(g.input(chunk), init);
    g.backward(sum(out.output));
    h = Tensor<float>(out.h_n().value());  // carried value, detached by construction
  }
  CHECK(std::abs(h[0]) > 0);
}

namespace {

// One forward of `layer` on a fresh graph: its output, and how many dropout nodes it recorded.
// A fresh graph for each call, so calls are compared bit for bit: within one graph round a
// weight's first product runs in BLAS and later ones on a transposed copy (Note [Thin
// products] in ops/linalg.cpp), which round differently in the last bits.
template <class Layer>
std::pair<Tensor<double>, int64_t> forward_fresh(Layer& layer, const Tensor<double>& x) {
  Graph<double> g;
  auto y = layer.forward(g.constant(x)).output;
  int64_t dropouts = 0;
  for (const OpStats& op : graph_stats(g).ops)
    if (op.op == "dropout") dropouts = op.recorded;
  return {Tensor<double>(y.value()), dropouts};
}

}  // namespace

TEST_CASE("dropout between layers: active in train mode only, reproducible", "[layers][dropout]") {
  Generator gen(16);
  auto o = rwd::test::rnn_options(3, 4, 2);
  o.dropout = 0.5;
  LSTM<double> lstm(o, gen);
  const Tensor<double> x = randn({3, 2, 3}, 17);
  const auto [a, a_dropouts] = forward_fresh(lstm, x);
  const auto [b, b_dropouts] = forward_fresh(lstm, x);
  CHECK(max_abs_diff(a.view(), b.view()) > 1e-6);  // different masks each call
  CHECK(a_dropouts == 1);                          // between the two layers
  CHECK(b_dropouts == 1);
  lstm.eval();
  const auto [c, c_dropouts] = forward_fresh(lstm, x);
  const auto [d, d_dropouts] = forward_fresh(lstm, x);
  CHECK(max_abs_diff(c.view(), d.view()) == 0.0);
  CHECK(c_dropouts == 0);
  CHECK(d_dropouts == 0);

  // In eval mode the output is exactly that of the same weights without dropout.
  auto o0 = o;
  o0.dropout = 0.0;
  LSTM<double> plain(o0, gen);
  plain.load_state_dict(lstm.state_dict());
  plain.eval();
  const auto [e, e_dropouts] = forward_fresh(plain, x);
  CHECK(e_dropouts == 0);
  CHECK(max_abs_diff(c.view(), e.view()) == 0.0);
  // In train mode it is not: the mask changes the output.
  CHECK(max_abs_diff(a.view(), e.view()) > 1e-6);
}

TEST_CASE("dropout on a one-layer stack has nothing to act on", "[layers][dropout]") {
  Generator gen(21);
  const Tensor<double> x = randn({3, 2, 3}, 22);
  for (bool bidirectional : {false, true}) {
    INFO("bidirectional: " << bidirectional);
    auto o = rwd::test::rnn_options(3, 4, 1, bidirectional);
    o.dropout = 0.5;
    GRU<double> gru(o, gen);
    REQUIRE(gru.is_training());
    auto o0 = o;
    o0.dropout = 0.0;
    GRU<double> plain(o0, gen);
    plain.load_state_dict(gru.state_dict());
    const auto [a, a_dropouts] = forward_fresh(gru, x);
    const auto [b, b_dropouts] = forward_fresh(gru, x);
    const auto [e, e_dropouts] = forward_fresh(plain, x);
    CHECK(a_dropouts == 0);
    CHECK(b_dropouts == 0);
    // No mask: the same output each call, and the output of the layer without dropout.
    CHECK(max_abs_diff(a.view(), b.view()) == 0.0);
    CHECK(max_abs_diff(a.view(), e.view()) == 0.0);
  }
}

TEST_CASE("float layers agree with double", "[layers][float]") {
  Generator gd(18);
  Generator gf(18);
  LSTM<double> ld(rwd::test::rnn_options(3, 4, 2, true), gd);
  LSTM<float> lf(rwd::test::rnn_options(3, 4, 2, true), gf);
  const Tensor<double> x = randn({6, 2, 3}, 19);
  Graph<double> g1;
  Graph<float> g2;
  auto yd = ld.forward(g1.constant(x)).output;
  auto yf = lf.forward(g2.constant(x.cast<float>())).output;
  CHECK(max_abs_diff(Tensor<float>(yf.value()).cast<double>().view(), yd.value()) < 1e-5);
}

TEST_CASE("a training step of a reused LSTM makes no heap allocation", "[layers][alloc]") {
  const rwd::test::PinOpenBLAS pin;  // oneDNN's sgemm allocates; see alloc_counter.hpp
  Generator gen(20);
  LSTM<float> lstm(rwd::test::rnn_options(8, 16, 2, true), gen);
  Linear<float> head(32, 4, gen);
  const Tensor<float> x = Tensor<float>::normal({10, 3, 8}, 0, 1, gen);
  const std::vector<int64_t> targets(30, 1);
  const std::vector<int64_t> lengths = {10, 7, 3};
  Graph<float> g;
  auto step = [&] {
    g.clear();
    auto out = lstm.forward(g.input(x), {}, lengths);
    auto logits = head.forward(reshape(out.output, {30, 32}));
    g.backward(cross_entropy(logits, targets));
    lstm.zero_grad();
    head.zero_grad();
  };
  for (int i = 0; i < 3; ++i) step();
  const int64_t before = rwd::test::allocation_count();
  for (int i = 0; i < 5; ++i) step();
  const int64_t allocations = rwd::test::allocation_count() - before;
  CHECK(allocations == 0);
}

namespace {

// A user cell with a bug: its new state has hidden_size + 1 columns.
class WideStateCell : public Module<double> {
 public:
  using Scalar = double;
  using State = std::array<Var<double>, 1>;
  WideStateCell(int64_t input, int64_t hidden) : input_(input), hidden_(hidden) {}
  [[nodiscard]] int64_t input_size() const { return input_; }
  [[nodiscard]] int64_t hidden_size() const { return hidden_; }
  State step(Var<double> x, const State& s) {
    return {concat({s[0], slice(x, 1, 0, 1)}, 1)};  // [B, H + 1]
  }
  void visit(ModuleVisitor<double>&) override {}

 private:
  int64_t input_, hidden_;
};

}  // namespace

TEST_CASE("a user cell returning a state of the wrong shape is named with its layer",
          "[layers][sequence][errors]") {
  Generator gen(3);
  Recurrent<WideStateCell> layer(
      "WideRNN", rwd::test::rnn_options(2, 3, 2),
      [](int64_t in, int64_t hidden, bool, Generator&) { return WideStateCell(in, hidden); }, gen);
  Graph<double> g;
  auto x = g.input(randn({4, 2, 2}, 9));
  CHECK_THROWS_AS(layer.forward(x), ShapeError);
  CHECK_THROWS_WITH(layer.forward(x),
                    Catch::StartsWith("WideRNN: the cell of layer 0 (forward direction) returned "
                                      "state 0 at step 0 of shape [2, 4]; expected [2, 3]"));
}
