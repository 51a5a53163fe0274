// Regularizers of recurrent models: locked dropout, weight drop, zoneout and embedding
// dropout. Eval equals the undropped model (zoneout: its expectation), masks repeat across
// time steps where the method says so, and gradients check in double with the masks fixed by
// re-seeding the layer's generator before every evaluation.
#include <cmath>
#include <limits>

#include "layers/layer_support.hpp"
#include "user_cells.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

constexpr int64_t kSteps = 4;
constexpr int64_t kBatch = 2;
constexpr int64_t kIn = 3;
constexpr int64_t kHidden = 3;

RecurrentOptions opts(int64_t layers = 1, bool bidirectional = false) {
  RecurrentOptions o;
  o.input_size = kIn;
  o.hidden_size = kHidden;
  o.num_layers = layers;
  o.bidirectional = bidirectional;
  return o;
}

RecurrentRegularizers all_dropouts(double p) {
  RecurrentRegularizers r;
  r.input_dropout = p;
  r.output_dropout = p;
  r.state_dropout = p;
  r.weight_drop = p;
  return r;
}

// Every element of `a` equals the one of `b`.
template <Scalar T>
void require_same(TensorView<const T> a, TensorView<const T> b) {
  REQUIRE(a.shape() == b.shape());
  CHECK(max_abs_diff(a, b) == 0.0);
}

// gradcheck of layer.forward (output and final states) over its input, initial states and
// every parameter, the layer's generator re-seeded before each evaluation so that every
// evaluation draws the same masks.
template <class Layer>
GradcheckReport check_with_fixed_masks(Layer& layer, const Tensor<double>& input,
                                       std::vector<int64_t> lengths = {}) {
  const auto params = layer.named_parameters();
  const std::vector<Tensor<double>> inputs = {input};
  return gradcheck(
      [&](Graph<double>&, std::span<const Var<double>> xs) {
        layer.dropout_generator().seed_with(99);
        auto out = layer.forward(xs[0], {}, lengths);
        std::vector<Var<double>> parts = {reshape(out.output, {-1})};
        for (auto& s : out.state) parts.push_back(reshape(s, {-1}));
        return concat(std::span<const Var<double>>(parts), 0);
      },
      inputs, params);
}

template <class Layer>
void require_gradcheck(Layer& layer, const Tensor<double>& input,
                       std::vector<int64_t> lengths = {}) {
  const auto r = check_with_fixed_masks(layer, input, std::move(lengths));
  INFO(r.summary());
  CHECK(r.elements_checked > layer.num_parameters());
  REQUIRE(r.passed);
}

// An RNN whose step is h_t = relu(x_t·I + h_{t-1}·W_hh) with W_ih = W_hh = I and no bias,
// fed x_t = 1: a unit whose feedback is cut (a dropped h or a dropped diagonal of W_hh) reads
// exactly 1 at every step, one whose feedback is kept grows past 1 from step 1 on. So the
// output [T, 1, H] tells, unit by unit, whether one mask held for the whole sequence.
RNN<double> identity_rnn(const RecurrentRegularizers& r) {
  RecurrentOptions o;
  o.input_size = 8;
  o.hidden_size = 8;
  o.bias = false;
  o.regularizers = r;
  Generator gen(5);
  RNN<double> rnn(o, gen, Nonlinearity::kRelu);
  for (Parameter<double>* w : {&rnn.cell(0, 0).weight_ih(), &rnn.cell(0, 0).weight_hh()}) {
    w->value() = Tensor<double>::zeros({8, 8});
    for (int64_t i = 0; i < 8; ++i) w->value().at({i, i}) = 1.0;
  }
  return rnn;
}

// Runs `rnn` on ones [T, 1, 8] and requires each unit cut at every step or at none; returns
// how many units were cut.
int64_t require_one_mask_per_sequence(RNN<double>& rnn) {
  constexpr int64_t steps = 6;
  Graph<double> g;
  auto y = rnn.forward(g.constant(Tensor<double>::ones({steps, 1, 8}))).output;  // [T, 1, 8]
  int64_t cut = 0;
  for (int64_t u = 0; u < 8; ++u) {
    const bool unit_cut = y.value().at({1, 0, u}) == 1.0;
    for (int64_t t = 1; t < steps; ++t) {
      INFO("unit " << u << " step " << t);
      if (unit_cut)
        CHECK(y.value().at({t, 0, u}) == 1.0);
      else
        CHECK(y.value().at({t, 0, u}) > 1.0);
    }
    cut += unit_cut;
  }
  return cut;
}

}  // namespace

TEMPLATE_TEST_CASE("locked_dropout: one mask for every step, identity in eval",
                   "[layers][regularizers][locked_dropout]", float, double) {
  using T = TestType;
  Graph<T> g;
  Generator gen(3);
  auto x = g.constant(Tensor<T>::full({5, 4, 50}, T(2)));
  auto y = locked_dropout(x, 0.3, gen, true);
  REQUIRE(y.shape() == x.shape());
  int64_t dropped = 0;
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t f = 0; f < 50; ++f) {
      const T first = y.value().at({0, b, f});
      CHECK((first == T(0) || first == Approx(2.0 / 0.7)));
      for (int64_t t = 1; t < 5; ++t) CHECK(y.value().at({t, b, f}) == first);
      dropped += first == T(0);
    }
  CHECK(dropped > 30);  // about 0.3 · 200
  CHECK(dropped < 90);
  CHECK(locked_dropout(x, 0.3, gen, false).id() == x.id());
  CHECK(locked_dropout(x, 0.0, gen, true).id() == x.id());
}

TEST_CASE("locked_dropout: errors name the argument and the value",
          "[layers][regularizers][locked_dropout][errors]") {
  Graph<double> g;
  Generator gen;
  auto x = g.constant(Tensor<double>::ones({2, 3, 4}));
  CHECK_THROWS_AS(locked_dropout(x, 1.0, gen, true), ValueError);
  CHECK_THROWS_WITH(locked_dropout(x, -0.25, gen, false),
                    Catch::Contains("locked_dropout") && Catch::Contains("p = -0.25"));
  CHECK_THROWS_AS(locked_dropout(g.constant(Tensor<double>::ones({3})), 0.5, gen, true),
                  ShapeError);
}

TEST_CASE("locked_dropout: gradcheck with a fixed mask", "[layers][regularizers][grad]") {
  const auto r = gradcheck(
      [](Graph<double>&, std::span<const Var<double>> xs) {
        Generator gen(4);
        return tanh(locked_dropout(xs[0], 0.4, gen, true));
      },
      std::vector<Tensor<double>>{randn({3, 2, 4}, 31)});
  INFO(r.summary());
  REQUIRE(r.passed);
}

TEMPLATE_TEST_CASE("embedding_dropout: whole words dropped, plain lookup in eval",
                   "[layers][regularizers][embedding_dropout]", float, double) {
  using T = TestType;
  Graph<T> g;
  Generator init(1);
  Parameter<T> table(Tensor<T>::normal({40, 3}, 0, 1, init));
  std::vector<int64_t> ids;
  for (int64_t k = 0; k < 120; ++k) ids.push_back((k * 7) % 40);  // every word three times
  Generator gen(2);
  auto w = g.param(table);
  auto y = embedding_dropout(w, ids, 0.5, gen, true);  // [120, 3]
  auto plain = embedding(w, ids);
  std::vector<int> state(40, -1);  // per word: 0 dropped, 1 kept
  for (size_t k = 0; k < ids.size(); ++k) {
    const int64_t row = int64_t(k);
    const bool kept = y.value().at({row, 0}) != T(0);
    for (int64_t j = 0; j < 3; ++j)
      CHECK(y.value().at({row, j}) ==
            Approx(kept ? plain.value().at({row, j}) * 2.0 : 0.0).margin(1e-6));
    int& s = state[size_t(ids[k])];
    if (s >= 0) CHECK(s == int(kept));  // a repeated word: the same draw everywhere
    s = int(kept);
  }
  require_same<T>(embedding_dropout(w, ids, 0.5, gen, false).value(), plain.value());
  CHECK_THROWS_WITH(embedding_dropout(w, ids, 1.5, gen, true),
                    Catch::Contains("embedding_dropout") && Catch::Contains("1.5"));
}

TEST_CASE("embedding_dropout: gradcheck with a fixed mask", "[layers][regularizers][grad]") {
  static const std::vector<int64_t> ids = {3, 1, 3, 0, 2, 4, 1};
  const auto r = gradcheck(
      [](Graph<double>&, std::span<const Var<double>> xs) {
        Generator gen(8);
        return tanh(embedding_dropout(xs[0], ids, 0.5, gen, true));
      },
      std::vector<Tensor<double>>{randn({5, 3}, 41)});
  INFO(r.summary());
  REQUIRE(r.passed);
}

TEST_CASE("regularizers: each option outside 0 <= p < 1 is a ValueError naming it",
          "[layers][regularizers][errors]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double bad : {1.0, -0.5, nan}) {
    for (double RecurrentRegularizers::*field :
         {&RecurrentRegularizers::input_dropout, &RecurrentRegularizers::output_dropout,
          &RecurrentRegularizers::state_dropout, &RecurrentRegularizers::weight_drop,
          &RecurrentRegularizers::zoneout_h, &RecurrentRegularizers::zoneout_c}) {
      RecurrentOptions o = opts();
      o.regularizers.*field = bad;
      CHECK_THROWS_AS(LSTM<double>(o), ValueError);
    }
  }
  RecurrentOptions o = opts();
  o.regularizers.state_dropout = 1.0;
  CHECK_THROWS_WITH(LSTM<float>(o), Catch::Contains("LSTM") &&
                                        Catch::Contains("regularizers.state_dropout") &&
                                        Catch::Contains("= 1 "));
  o.regularizers = {};
  o.regularizers.zoneout_h = -0.1;
  CHECK_THROWS_WITH(GRU<float>(o), Catch::Contains("zoneout_h = -0.1"));
  o.regularizers = {};
  o.regularizers.zoneout_c = 0.2;  // a GRU has no c
  CHECK_THROWS_WITH(GRU<float>(o), Catch::Contains("zoneout_c = 0.2") && Catch::Contains("only h"));
  o.regularizers.zoneout_c = 0.0;
  o.regularizers.weight_drop = 0.3;
  CHECK_NOTHROW(GRU<float>(o));
}

TEMPLATE_TEST_CASE("regularizers: eval equals the undropped model", "[layers][regularizers]",
                   LSTM<double>, GRU<double>, RNN<double>, LSTM<float>) {
  using Layer = TestType;
  using T = typename Layer::T;
  RecurrentOptions plain_opts = opts(2, true);
  plain_opts.batch_first = true;
  RecurrentOptions reg_opts = plain_opts;
  reg_opts.regularizers = all_dropouts(0.5);
  reg_opts.dropout = 0.5;
  Generator g1(11);
  Generator g2(11);
  Layer plain(plain_opts, g1);
  Layer regular(reg_opts, g2);
  regular.eval();
  const std::vector<int64_t> lengths = {kSteps, 2};
  Graph<T> g;
  Generator data(12);
  auto x = g.constant(Tensor<T>::normal({kBatch, kSteps, kIn}, 0, 1, data));
  for (int run = 0; run < 2; ++run) {  // deterministic: the same twice
    auto a = plain.forward(x, {}, lengths);
    auto b = regular.forward(x, {}, lengths);
    require_same<T>(a.output.value(), b.output.value());
    for (size_t k = 0; k < a.state.size(); ++k)
      require_same<T>(a.state[k].value(), b.state[k].value());
  }
  regular.train();
  auto dropped = regular.forward(x, {}, lengths);
  CHECK(max_abs_diff(dropped.output.value(), plain.forward(x, {}, lengths).output.value()) > 0.0);
}

TEST_CASE("regularizers: the same seed draws the same masks, on 1 or 2 threads",
          "[layers][regularizers]") {
  RecurrentOptions o = opts(2, true);
  o.regularizers = all_dropouts(0.3);
  o.regularizers.zoneout_h = 0.2;
  o.regularizers.zoneout_c = 0.1;
  LSTM<double> lstm(o);
  Graph<double> g;
  auto x = g.constant(randn({kSteps, kBatch, kIn}, 13));
  lstm.dropout_generator().seed_with(1);
  auto a = lstm.forward(x).output;
  Var<double> b;
  {
    const test::ScopedThreads threads(2);  // a forward that draws masks runs directions in turn
    lstm.dropout_generator().seed_with(1);
    b = lstm.forward(x).output;
  }
  CHECK(max_abs_diff(a.value(), b.value()) < 1e-12);  // two threads share the products
  auto c = lstm.forward(x).output;                    // the generator moved on: other masks
  CHECK(max_abs_diff(a.value(), c.value()) > 0.0);
  // Eval (zoneout's expectation) through the parallel directions too.
  lstm.eval();
  auto one = lstm.forward(x).output;
  const test::ScopedThreads threads(2);
  CHECK(max_abs_diff(one.value(), lstm.forward(x).output.value()) < 1e-12);
}

TEST_CASE("state_dropout: one mask on the fed-back h for the whole sequence",
          "[layers][regularizers][state_dropout]") {
  RecurrentRegularizers r;
  r.state_dropout = 0.5;
  RNN<double> rnn = identity_rnn(r);
  const int64_t cut = require_one_mask_per_sequence(rnn);
  CHECK(cut > 0);
  CHECK(cut < 8);
  rnn.eval();
  CHECK(require_one_mask_per_sequence(rnn) == 0);
}

TEST_CASE("weight_drop: one mask on W_hh for the whole forward",
          "[layers][regularizers][weight_drop]") {
  RecurrentRegularizers r;
  r.weight_drop = 0.5;
  RNN<double> rnn = identity_rnn(r);
  const int64_t cut = require_one_mask_per_sequence(rnn);
  CHECK(cut > 0);
  CHECK(cut < 8);
  // The gradient reaches W_hh through the mask: zero exactly where the diagonal was cut.
  Graph<double> g;
  rnn.dropout_generator().seed_with(21);
  auto y = rnn.forward(g.constant(Tensor<double>::ones({3, 1, 8}))).output;
  g.backward(sum(y));
  Parameter<double>& w = rnn.cell(0, 0).weight_hh();
  for (int64_t u = 0; u < 8; ++u) {
    const bool unit_cut = y.value().at({1, 0, u}) == 1.0;
    CHECK((w.grad().at({u, u}) == 0.0) == unit_cut);
  }
  // The parameter itself is never changed, and after the forward the cell reads it again.
  CHECK(w.value().at({0, 0}) == 1.0);
  rnn.eval();
  CHECK(require_one_mask_per_sequence(rnn) == 0);
}

TEST_CASE("output_dropout and input_dropout: a dropped unit is zero at every step",
          "[layers][regularizers][locked_dropout]") {
  RecurrentOptions o = opts(2, true);
  o.hidden_size = 6;
  o.regularizers.output_dropout = 0.5;
  LSTM<double> lstm(o);
  Graph<double> g;
  auto y = lstm.forward(g.constant(randn({kSteps, kBatch, kIn}, 14))).output;  // [T, B, 12]
  int64_t dropped = 0;
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t u = 0; u < 12; ++u) {
      const bool zero = y.value().at({0, b, u}) == 0.0;
      for (int64_t t = 1; t < kSteps; ++t) CHECK((y.value().at({t, b, u}) == 0.0) == zero);
      dropped += zero;
    }
  CHECK(dropped > 0);
  CHECK(dropped < 24);

  // Input dropout: an input feature dropped for a sequence has no gradient at any step.
  RecurrentOptions oi = opts();
  oi.input_size = 8;
  oi.regularizers.input_dropout = 0.5;
  GRU<double> gru(oi);
  Graph<double> g2;
  Tensor<double> xin = randn({kSteps, kBatch, 8}, 15);
  auto x = g2.input(xin, true);
  g2.backward(sum(gru.forward(x).output));
  const TensorView<const double> dx = x.grad();  // [T, B, 8]
  int64_t cut = 0;
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t f = 0; f < 8; ++f) {
      const bool zero = dx.at({0, b, f}) == 0.0;
      for (int64_t t = 1; t < kSteps; ++t) CHECK((dx.at({t, b, f}) == 0.0) == zero);
      cut += zero;
    }
  CHECK(cut > 0);
  CHECK(cut < 16);
}

TEST_CASE("zoneout in eval: h = p·h_prev + (1-p)·h_new, c likewise",
          "[layers][regularizers][zoneout]") {
  RecurrentOptions o = opts();
  o.regularizers.zoneout_h = 0.3;
  o.regularizers.zoneout_c = 0.6;
  LSTM<double> lstm(o);
  lstm.eval();
  Graph<double> g;
  auto x = g.constant(randn({kSteps, kBatch, kIn}, 16));
  auto out = lstm.forward(x);
  // The same by hand, one cell step at a time.
  LSTMCell<double>& cell = lstm.cell(0, 0);
  LSTMCell<double>::State s = {g.zeros(Shape{kBatch, kHidden}), g.zeros(Shape{kBatch, kHidden})};
  for (int64_t t = 0; t < kSteps; ++t) {
    auto xt = reshape(slice(x, 0, t, t + 1), {kBatch, kIn});
    auto next = cell.step(xt, s);
    s = {s[0] * 0.3 + next[0] * 0.7, s[1] * 0.6 + next[1] * 0.4};
    auto yt = reshape(slice(out.output, 0, t, t + 1), {kBatch, kHidden});
    CHECK(max_abs_diff(yt.value(), s[0].value()) < 1e-14);
  }
  CHECK(max_abs_diff(reshape(out.c_n(), {kBatch, kHidden}).value(), s[1].value()) < 1e-14);
}

TEST_CASE("zoneout in training: each unit is its previous or its new value, drawn per step",
          "[layers][regularizers][zoneout]") {
  RecurrentOptions o = opts();
  o.hidden_size = 8;
  o.regularizers.zoneout_h = 0.5;
  RNN<double> rnn(o);
  Graph<double> g;
  constexpr int64_t steps = 6;
  auto x = g.constant(randn({steps, 1, kIn}, 17));
  auto y = rnn.forward(x).output;  // [T, 1, 8]
  RNNCell<double>& cell = rnn.cell(0, 0);
  Var<double> prev = g.zeros(Shape{1, 8});
  int64_t kept = 0;
  for (int64_t t = 0; t < steps; ++t) {
    auto fresh = cell.step(reshape(slice(x, 0, t, t + 1), {1, kIn}), {prev})[0];
    auto yt = reshape(slice(y, 0, t, t + 1), {1, 8});
    for (int64_t u = 0; u < 8; ++u) {
      const double v = yt.value()[u];
      const bool old = std::abs(v - prev.value()[u]) < 1e-12;  // next + (prev - next)·1
      INFO("step " << t << " unit " << u << ": " << v << " vs old " << prev.value()[u] << ", new "
                   << fresh.value()[u]);
      CHECK((old || std::abs(v - fresh.value()[u]) < 1e-12));  // the layer's products are batched
      kept += old && t > 0;
    }
    prev = yt;
  }
  CHECK(kept > 5);  // about half of 40
  CHECK(kept < 35);
}

TEMPLATE_TEST_CASE("regularizers: gradcheck with fixed masks", "[layers][regularizers][grad]",
                   LSTM<double>, GRU<double>, RNN<double>) {
  using Layer = TestType;
  Generator gen(7);
  RecurrentRegularizers r = all_dropouts(0.4);
  r.zoneout_h = 0.3;
  if constexpr (std::is_same_v<Layer, LSTM<double>>) r.zoneout_c = 0.3;
  SECTION("one layer, training") {
    RecurrentOptions o = opts();
    o.regularizers = r;
    Layer layer(o, gen);
    require_gradcheck(layer, randn({kSteps, kBatch, kIn}, 18));
  }
  SECTION("two layers, bidirectional, lengths, training") {
    RecurrentOptions o = opts(2, true);
    o.regularizers = r;
    Layer layer(o, gen);
    require_gradcheck(layer, randn({kSteps, kBatch, kIn}, 19), {3, kSteps});
  }
  SECTION("zoneout's expectation in eval") {
    RecurrentOptions o = opts(2);
    o.regularizers = r;
    Layer layer(o, gen);
    layer.eval();
    require_gradcheck(layer, randn({kSteps, kBatch, kIn}, 20));
  }
}

TEST_CASE("regularizers: an LSTM with a projection, gradcheck with fixed masks",
          "[layers][regularizers][grad][proj_size]") {
  RecurrentOptions o = opts(2, true);
  o.proj_size = 2;  // h [B, 2] (the state mask), W_hh [12, 2] (the weight mask), c [B, 3]
  o.regularizers = all_dropouts(0.4);
  o.regularizers.zoneout_h = 0.3;
  o.regularizers.zoneout_c = 0.2;
  Generator gen(23);
  LSTM<double> lstm(o, gen);
  require_gradcheck(lstm, randn({kSteps, kBatch, kIn}, 24), {kSteps, 2});
}

TEST_CASE("regularizers: a user cell gets locked dropout and zoneout, and no weight drop",
          "[layers][regularizers][user_cells]") {
  using Cell = user_cells::LSTMCell<double>;
  RecurrentOptions o = opts();
  o.regularizers = all_dropouts(0.3);
  Generator gen(25);
  CHECK_THROWS_WITH(user_cells::make_layer<Cell>("UserLSTM", o, gen),
                    Catch::Contains("UserLSTM") && Catch::Contains("weight_drop = 0.3"));
  o.regularizers.weight_drop = 0.0;
  o.regularizers.zoneout_h = 0.2;
  o.regularizers.zoneout_c = 0.2;
  auto layer = user_cells::make_layer<Cell>("UserLSTM", o, gen);
  require_gradcheck(layer, randn({kSteps, kBatch, kIn}, 26));
}
