// The variant cells (layers/variant_sequence.hpp): LayerNormLSTMCell, LayerNormGRUCell and
// PeepholeLSTMCell. Each: a gradient check through a stacked bidirectional layer with
// lengths and initial states; one step against the equations computed here with plain
// loops; two threads give the one-thread result; checkpoints round-trip; bad sizes are
// ValueErrors naming the cell. The LN cells also: their norms make zero-mean, unit-variance
// pre-activations; the LN-LSTM equals the user-written one of tests/user_cells.hpp. Fused
// and unfused steps agree.
#include <cmath>
#include <filesystem>
#include <iterator>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
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
constexpr int64_t kHidden = 3;  // >= 3: an LN over 2 values is nearly a sign function

RecurrentOptions opts(int64_t layers, bool bidirectional, bool bias = true) {
  RecurrentOptions o = rwd::test::rnn_options(kIn, kHidden, layers, bidirectional);
  o.bias = bias;
  return o;
}

// Every parameter of `m` redrawn from N(0, 1) (gains and biases away from 1 and 0, so each
// one's gradient is distinct); returns the new values by name.
template <class M>
std::map<std::string, Tensor<double>> randomize(M& m, uint64_t seed) {
  std::map<std::string, Tensor<double>> w;
  for (const auto& [name, t] : m.state_dict()) w.emplace(name, randn(t.shape(), seed++));
  m.load_state_dict(w);
  return w;
}

// ---- The equations, with plain loops on row-major [rows, cols] buffers ----

using Buf = std::vector<double>;

Buf values(const Tensor<double>& t) {
  return Buf(t.data(), t.data() + t.numel());
}

// x [B, I] · Wᵀ, W [R, I] -> [B, R]
Buf times_transposed(const Buf& x, const Buf& w, int64_t batch, int64_t in, int64_t rows) {
  Buf y(size_t(batch * rows), 0.0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < in; ++j)
        y[size_t(b * rows + r)] += x[size_t(b * in + j)] * w[size_t(r * in + j)];
  return y;
}

// Each row of a [B, D]: (a - mean) / sqrt(var + 1e-5) * gain + bias, var biased.
Buf layer_norm_rows(const Buf& a, int64_t batch, int64_t d, const Buf& gain, const Buf& bias) {
  Buf y(a.size());
  for (int64_t b = 0; b < batch; ++b) {
    double mean = 0, var = 0;
    for (int64_t k = 0; k < d; ++k) mean += a[size_t(b * d + k)];
    mean /= double(d);
    for (int64_t k = 0; k < d; ++k) var += std::pow(a[size_t(b * d + k)] - mean, 2);
    var /= double(d);
    for (int64_t k = 0; k < d; ++k)
      y[size_t(b * d + k)] =
          (a[size_t(b * d + k)] - mean) / std::sqrt(var + 1e-5) * gain[size_t(k)] + bias[size_t(k)];
  }
  return y;
}

double sigma(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

// The mean and the biased variance of d values.
std::pair<double, double> row_moments(const double* row, int64_t d) {
  double mean = 0, var = 0;
  for (int64_t k = 0; k < d; ++k) mean += row[k];
  mean /= double(d);
  for (int64_t k = 0; k < d; ++k) var += std::pow(row[k] - mean, 2);
  return {mean, var / double(d)};
}

void require_close(const Var<double>& got, const Buf& want) {
  REQUIRE(got.value().numel() == int64_t(want.size()));
  for (size_t k = 0; k < want.size(); ++k) {
    INFO("element " << k);
    CHECK(got.value()[int64_t(k)] == Approx(want[k]).margin(1e-12).epsilon(0));
  }
}

// What one run of a layer produces, by name: values and gradients.
using Results = std::map<std::string, Tensor<double>>;

template <class Layer>
Results run(Layer& layer, const Tensor<double>& x, const std::vector<int64_t>& lengths) {
  layer.zero_grad();
  Graph<double> g;
  Var<double> input = g.input(x, true);
  typename Layer::State init{};
  for (size_t k = 0; k < Layer::kStateSize; ++k)
    init[k] = g.input(randn({2 * layer.options().num_layers, kBatch, kHidden}, 30 + k), true);
  const auto out = layer.forward(input, init, lengths);
  Var<double> loss = sum(out.output * g.constant(randn(out.output.shape(), 40)));
  for (size_t k = 0; k < Layer::kStateSize; ++k)
    loss = loss + sum(out.state[k] * g.constant(randn(out.state[k].shape(), 41 + k)));
  g.backward(loss);
  Results r;
  r.emplace("output", Tensor<double>(out.output.value()));
  r.emplace("grad input", Tensor<double>(input.grad()));
  for (size_t k = 0; k < Layer::kStateSize; ++k) {
    r.emplace("final state " + std::to_string(k), Tensor<double>(out.state[k].value()));
    r.emplace("grad initial state " + std::to_string(k), Tensor<double>(init[k].grad()));
  }
  for (const auto& [name, p] : layer.named_parameters()) r.emplace("grad " + name, p->grad());
  return r;
}

// Values (outputs, final states) to `value_tolerance`, gradients to `grad_tolerance`.
void require_same(const Results& got, const Results& want, double value_tolerance,
                  double grad_tolerance) {
  REQUIRE(got.size() == want.size());
  for (const auto& [name, w] : want) {
    INFO(name);
    REQUIRE(got.count(name) == 1);
    REQUIRE(got.at(name).shape() == w.shape());
    const double diff = max_abs_diff(got.at(name).view(), w.view());
    INFO("max abs diff " << diff);
    CHECK(diff <= (name.rfind("grad ", 0) == 0 ? grad_tolerance : value_tolerance));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("variant cells: gradcheck through stacked bidirectional layers",
                   "[layers][variant_cells][grad]", LayerNormLSTM<double>, LayerNormGRU<double>,
                   PeepholeLSTM<double>) {
  using Layer = TestType;
  Generator gen(11);
  SECTION("two layers, bidirectional, initial states, lengths") {
    Layer layer(opts(2, true), gen);
    randomize(layer, 100);
    std::vector<Tensor<double>> init;
    for (size_t k = 0; k < Layer::kStateSize; ++k)
      init.push_back(randn({4, kBatch, kHidden}, 120 + k));
    const auto r = check_sequence_layer(layer, randn({kSteps, kBatch, kIn}, 110), init, {5, 2, 4});
    INFO(r.summary());
    CHECK(r.elements_checked > layer.num_parameters());
    REQUIRE(r.passed);
  }
  SECTION("without biases, batch_first") {
    RecurrentOptions o = opts(1, true, false);
    o.batch_first = true;
    Layer layer(o, gen);
    randomize(layer, 200);
    const auto r = check_sequence_layer(layer, randn({kBatch, kSteps, kIn}, 210), {}, {3, 5, 1});
    INFO(r.summary());
    REQUIRE(r.passed);
  }
}

TEST_CASE("LayerNormLSTMCell: one step equals the equations to 1e-12",
          "[layers][variant_cells][lnlstm]") {
  Generator gen(1);
  LayerNormLSTMCell<double> cell(kIn, kHidden, gen);
  auto w = randomize(cell, 300);
  const int64_t b = kBatch, h4 = 4 * kHidden;
  const Tensor<double> x = randn({b, kIn}, 310), h = randn({b, kHidden}, 311),
                       c = randn({b, kHidden}, 312);
  Graph<double> g;
  const auto [h_next, c_next] = cell.step(g.input(x), {g.input(h), g.input(c)});

  const Buf a = layer_norm_rows(times_transposed(values(x), values(w.at("weight_ih")), b, kIn, h4),
                                b, h4, values(w.at("ln_ih_weight")), values(w.at("ln_ih_bias")));
  const Buf r =
      layer_norm_rows(times_transposed(values(h), values(w.at("weight_hh")), b, kHidden, h4), b, h4,
                      values(w.at("ln_hh_weight")), values(w.at("ln_hh_bias")));
  Buf c_want(size_t(b * kHidden)), o_gate(c_want.size());
  for (int64_t n = 0; n < b; ++n)
    for (int64_t k = 0; k < kHidden; ++k) {
      auto gate = [&](int64_t q) {
        return a[size_t(n * h4 + q * kHidden + k)] + r[size_t(n * h4 + q * kHidden + k)];
      };
      const size_t at = size_t(n * kHidden + k);
      c_want[at] = sigma(gate(1)) * c[int64_t(at)] + sigma(gate(0)) * std::tanh(gate(2));
      o_gate[at] = sigma(gate(3));
    }
  const Buf c_norm =
      layer_norm_rows(c_want, b, kHidden, values(w.at("ln_c_weight")), values(w.at("ln_c_bias")));
  Buf h_want(c_want.size());
  for (size_t k = 0; k < h_want.size(); ++k) h_want[k] = o_gate[k] * std::tanh(c_norm[k]);
  require_close(c_next, c_want);
  require_close(h_next, h_want);
}

TEST_CASE("LayerNormGRUCell: one step equals the equations to 1e-12",
          "[layers][variant_cells][lngru]") {
  Generator gen(2);
  LayerNormGRUCell<double> cell(kIn, kHidden, gen);
  auto w = randomize(cell, 400);
  const int64_t b = kBatch, h3 = 3 * kHidden;
  const Tensor<double> x = randn({b, kIn}, 410), h = randn({b, kHidden}, 411);
  Graph<double> g;
  const auto [h_next] = cell.step(g.input(x), {g.input(h)});

  const Buf a = layer_norm_rows(times_transposed(values(x), values(w.at("weight_ih")), b, kIn, h3),
                                b, h3, values(w.at("ln_ih_weight")), values(w.at("ln_ih_bias")));
  const Buf q =
      layer_norm_rows(times_transposed(values(h), values(w.at("weight_hh")), b, kHidden, h3), b, h3,
                      values(w.at("ln_hh_weight")), values(w.at("ln_hh_bias")));
  Buf h_want(size_t(b * kHidden));
  for (int64_t n = 0; n < b; ++n)
    for (int64_t k = 0; k < kHidden; ++k) {
      auto at = [&](int64_t gate) { return size_t(n * h3 + gate * kHidden + k); };
      const double reset = sigma(a[at(0)] + q[at(0)]);
      const double update = sigma(a[at(1)] + q[at(1)]);
      const double cand = std::tanh(a[at(2)] + reset * q[at(2)]);
      h_want[size_t(n * kHidden + k)] = (1 - update) * cand + update * h[n * kHidden + k];
    }
  require_close(h_next, h_want);
}

TEST_CASE("PeepholeLSTMCell: one step equals the equations to 1e-12",
          "[layers][variant_cells][peephole]") {
  Generator gen(3);
  PeepholeLSTMCell<double> cell(kIn, kHidden, gen);
  auto w = randomize(cell, 500);
  const int64_t b = kBatch, h4 = 4 * kHidden;
  const Tensor<double> x = randn({b, kIn}, 510), h = randn({b, kHidden}, 511),
                       c = randn({b, kHidden}, 512);
  Graph<double> g;
  const auto [h_next, c_next] = cell.step(g.input(x), {g.input(h), g.input(c)});

  const Buf xi = times_transposed(values(x), values(w.at("weight_ih")), b, kIn, h4);
  const Buf hh = times_transposed(values(h), values(w.at("weight_hh")), b, kHidden, h4);
  const Buf b_ih = values(w.at("bias_ih")), b_hh = values(w.at("bias_hh"));
  const Buf w_ci = values(w.at("weight_ci")), w_cf = values(w.at("weight_cf")),
            w_co = values(w.at("weight_co"));
  Buf c_want(size_t(b * kHidden)), h_want(c_want.size());
  for (int64_t n = 0; n < b; ++n)
    for (int64_t k = 0; k < kHidden; ++k) {
      auto pre = [&](int64_t gate) {
        const size_t at = size_t(n * h4 + gate * kHidden + k);
        return xi[at] + b_ih[size_t(gate * kHidden + k)] + hh[at] +
               b_hh[size_t(gate * kHidden + k)];
      };
      const size_t at = size_t(n * kHidden + k);
      const double c_prev = c[int64_t(at)];
      const double i = sigma(pre(0) + w_ci[size_t(k)] * c_prev);
      const double f = sigma(pre(1) + w_cf[size_t(k)] * c_prev);
      c_want[at] = f * c_prev + i * std::tanh(pre(2));
      const double o = sigma(pre(3) + w_co[size_t(k)] * c_want[at]);
      h_want[at] = o * std::tanh(c_want[at]);
    }
  require_close(c_next, c_want);
  require_close(h_next, h_want);
}

TEMPLATE_TEST_CASE("LN cells: with gain 1 and bias 0 every norm in a step has mean 0, variance 1",
                   "[layers][variant_cells][layer_norm]", LayerNormLSTMCell<double>,
                   LayerNormGRUCell<double>) {
  using Cell = TestType;
  Generator gen(4);
  Cell cell(kIn, kHidden, gen);  // gains start at 1, biases at 0
  typename Cell::State state;
  Graph<double> g;
  // A known input: x[b][j] = (j + 1)·(b + 1) / 4 - 1, states 0.7·(k + 1) - 0.9·b.
  Tensor<double> x({kBatch, kIn}), s({kBatch, kHidden});
  for (int64_t b = 0; b < kBatch; ++b) {
    for (int64_t j = 0; j < kIn; ++j) x[b * kIn + j] = double((j + 1) * (b + 1)) / 4.0 - 1.0;
    for (int64_t k = 0; k < kHidden; ++k)
      s[b * kHidden + k] = 0.7 * double(k + 1) - 0.9 * double(b);
  }
  for (auto& v : state) v = g.input(s);
  const size_t first = g.size();
  cell.step(g.input(x), state);
  int norms = 0;
  for (size_t id = first; id < g.size(); ++id) {
    const auto& node = g.node(NodeId(id));
    if (std::string(node.op->name) != "layer_norm") continue;
    ++norms;
    const int64_t d = node.shape[node.shape.rank() - 1];
    const int64_t rows = node.shape.numel() / d;
    for (int64_t r = 0; r < rows; ++r) {
      const auto [mean, var] = row_moments(node.value + r * d, d);
      // The variance is v / (v + ε) for the variance v of the norm's input row, ε = 1e-5.
      const double v = row_moments(g.node(g.inputs(NodeId(id))[0]).value + r * d, d).second;
      INFO("norm " << norms << " over " << d << " values, row " << r << ", input variance " << v);
      CHECK(mean == Approx(0).margin(1e-12));
      CHECK(var == Approx(v / (v + 1e-5)).margin(1e-12));
      CHECK(var == Approx(1).margin(1e-3));
    }
  }
  CHECK(norms ==
        (std::tuple_size_v<typename Cell::State> == 2 ? 3 : 2));  // LSTM: ih, hh, c; GRU: ih, hh
}

TEMPLATE_TEST_CASE("variant layers: two threads give the one-thread result",
                   "[layers][variant_cells][threads]", LayerNormLSTM<double>, LayerNormGRU<double>,
                   PeepholeLSTM<double>) {
  using Layer = TestType;
  Generator gen(5);
  Layer layer(opts(2, true), gen);
  randomize(layer, 600);
  const Tensor<double> x = randn({kSteps, kBatch, kIn}, 610);
  const std::vector<int64_t> lengths = {4, 5, 2};
  const Results one = run(layer, x, lengths);
  Results two;
  {
    const rwd::test::ScopedThreads threads(2);
    two = run(layer, x, lengths);
  }
  // The values are the same bits; a gradient that meets from both directions of the layer
  // above is summed in another order, so it may differ in the last bits.
  require_same(two, one, 0.0, 1e-12);
}

TEST_CASE("LayerNormLSTM equals the user-written LN-LSTM cell to 1e-12",
          "[layers][variant_cells][lnlstm]") {
  // The same equations written twice: tests/user_cells.hpp from public ops in the test tree,
  // and the library's cell. The parameters list in the same order (gain_ih there is
  // ln_ih_weight here, ...), so they are copied by position.
  Generator gen(6), user_gen(7);
  const RecurrentOptions o = opts(2, true);
  LayerNormLSTM<double> layer(o, gen);
  randomize(layer, 700);
  auto user = user_cells::make_layer<user_cells::LayerNormLSTMCell<double>>("User", o, user_gen);
  const auto mine = layer.named_parameters();
  const auto theirs = user.named_parameters();
  REQUIRE(mine.size() == theirs.size());
  std::map<std::string, Tensor<double>> w;
  for (size_t k = 0; k < mine.size(); ++k) w.emplace(theirs[k].name, mine[k].param->value());
  user.load_state_dict(w);
  const Tensor<double> x = randn({kSteps, kBatch, kIn}, 710);
  Results want = run(layer, x, {5, 3, 4});
  Results got = run(user, x, {5, 3, 4});
  // Compare the gradients by position too: rename the user layer's to the library's names.
  for (size_t k = 0; k < mine.size(); ++k) {
    auto node = got.extract("grad " + theirs[k].name);
    node.key() = "grad " + mine[k].name;
    got.insert(std::move(node));
  }
  require_same(got, want, 1e-12, 1e-12);
}

TEST_CASE("PeepholeLSTM with zero peepholes is the LSTM", "[layers][variant_cells][peephole]") {
  Generator gen(8), other(9);
  const RecurrentOptions o = opts(2, true);
  LSTM<double> lstm(o, gen);
  PeepholeLSTM<double> peephole(o, other);
  auto w = lstm.state_dict();
  for (const auto& [name, t] : peephole.state_dict())
    if (name.rfind("weight_c", 0) == 0) w.emplace(name, Tensor<double>::zeros(t.shape()));
  peephole.load_state_dict(w);
  const Tensor<double> x = randn({kSteps, kBatch, kIn}, 810);
  Results want = run(lstm, x, {5, 1, 3});
  Results got = run(peephole, x, {5, 1, 3});
  for (auto it = got.begin(); it != got.end();)  // the peepholes' own gradients: no twin
    it = it->first.rfind("grad weight_c", 0) == 0 ? got.erase(it) : std::next(it);
  require_same(got, want, 1e-12, 1e-12);
}

TEST_CASE("variant layers: parameter names and checkpoints round-trip",
          "[layers][variant_cells][checkpoint]") {
  Generator gen(10), other(11);
  const RecurrentOptions o = opts(2, true);
  LayerNormLSTM<double> lnlstm(o, gen);
  std::vector<std::string> names;
  for (const auto& p : lnlstm.named_parameters()) names.push_back(p.name);
  REQUIRE(names.size() == 32);
  CHECK(names[0] == "weight_ih_l0");
  CHECK(names[2] == "ln_ih_weight_l0");
  CHECK(names[7] == "ln_c_bias_l0");
  CHECK(names[8] == "weight_ih_l0_reverse");
  CHECK(names[13] == "ln_hh_bias_l0_reverse");
  LayerNormGRU<double> lngru(o, gen);
  CHECK(lngru.named_parameters().size() == 4 * 6);
  RecurrentOptions no_bias = o;
  no_bias.bias = false;
  CHECK(LayerNormLSTM<double>(no_bias, gen).named_parameters().size() == 4 * 5);
  PeepholeLSTM<double> peephole(o, gen);
  CHECK(peephole.named_parameters()[4].name == "weight_ci_l0");
  CHECK(peephole.named_parameters()[6].name == "weight_co_l0");

  const std::string dir = rwd::test::temp_dir("variant_cells");
  auto round_trip = [&](auto& layer, auto fresh, const std::string& file) {
    randomize(layer, 900);
    const std::string path = dir + "/" + file;
    save_checkpoint(path, layer);
    load_checkpoint(path, fresh);
    const auto a = layer.state_dict();
    const auto b = fresh.state_dict();
    REQUIRE(a.size() == b.size());
    for (const auto& [name, t] : a) {
      INFO(file << ": " << name);
      REQUIRE(b.count(name) == 1);
      CHECK(max_abs_diff(b.at(name).view(), t.view()) == 0.0);
    }
  };
  round_trip(lnlstm, LayerNormLSTM<double>(o, other), "lnlstm.safetensors");
  round_trip(lngru, LayerNormGRU<double>(o, other), "lngru.safetensors");
  round_trip(peephole, PeepholeLSTM<double>(o, other), "peephole.safetensors");
  std::filesystem::remove_all(dir);
}

TEST_CASE("variant cells: bad sizes are ValueErrors naming the cell and the values",
          "[layers][variant_cells][errors]") {
  Generator gen(12);
  CHECK_THROWS_WITH(LayerNormLSTMCell<double>(0, 3, gen),
                    Catch::Contains("LayerNormLSTMCell") && Catch::Contains("input_size (0)"));
  CHECK_THROWS_AS(LayerNormLSTMCell<double>(0, 3, gen), ValueError);
  CHECK_THROWS_WITH(LayerNormGRUCell<double>(4, -2, gen),
                    Catch::Contains("LayerNormGRUCell") && Catch::Contains("hidden_size (-2)"));
  CHECK_THROWS_AS(LayerNormGRUCell<double>(4, -2, gen), ValueError);
  CHECK_THROWS_WITH(PeepholeLSTMCell<double>(4, 0, gen),
                    Catch::Contains("PeepholeLSTMCell") && Catch::Contains("hidden_size (0)"));
  CHECK_THROWS_AS(PeepholeLSTMCell<double>(4, 0, gen), ValueError);

  RecurrentOptions o = opts(1, false);
  o.hidden_size = 0;
  CHECK_THROWS_WITH(LayerNormLSTM<double>(o, gen),
                    Catch::Contains("LayerNormLSTM") && Catch::Contains("hidden_size (0)"));
  o = opts(1, false);
  o.proj_size = 2;
  CHECK_THROWS_AS(LayerNormGRU<double>(o, gen), ValueError);
  CHECK_THROWS_AS(PeepholeLSTM<double>(o, gen), ValueError);

  // A step input of the wrong width: a ShapeError naming the cell and the shapes.
  LayerNormLSTMCell<double> cell(kIn, kHidden, gen);
  Graph<double> g;
  const Var<double> state = g.zeros({kBatch, kHidden});
  CHECK_THROWS_WITH(cell.step(g.zeros({kBatch, kIn + 1}), {state, state}),
                    Catch::Contains("LayerNormLSTMCell") && Catch::Contains("[batch, 4]"));
}

TEMPLATE_TEST_CASE("variant cells: the gate math runs in fused regions, as unfused",
                   "[layers][variant_cells][fusion]", LayerNormLSTMCell<double>,
                   LayerNormGRUCell<double>, PeepholeLSTMCell<double>) {
  using Cell = TestType;
  Generator gen(13);
  Cell cell(kIn, kHidden, gen);
  randomize(cell, 1000);
  auto step = [&](bool fused) {
    Graph<double> g;
    set_fusion(g, fused);
    Var<double> x = g.input(randn({kBatch, kIn}, 1010), true);
    typename Cell::State state;
    for (size_t k = 0; k < state.size(); ++k)
      state[k] = g.input(randn({kBatch, kHidden}, 1020 + k), true);
    const auto next = cell.step(x, state);
    Var<double> loss = sum(next[0] * g.constant(randn({kBatch, kHidden}, 1030)));
    if (next.size() == 2) loss = loss + sum(next[next.size() - 1] * 0.5);
    cell.zero_grad();
    g.backward(loss);
    std::vector<Tensor<double>> r = {Tensor<double>(next[0].value()), Tensor<double>(x.grad())};
    for (const auto& p : cell.named_parameters()) r.push_back(p.param->grad());
    return std::make_pair(r, fusion_stats(g));
  };
  const auto [on, stats] = step(true);
  const auto [off, no_stats] = step(false);
  // The LN-GRU's gate math is one gru_pointwise node: nothing left to fuse.
  if constexpr (!std::is_same_v<Cell, LayerNormGRUCell<double>>) CHECK(stats.regions >= 1);
  CHECK(no_stats.regions == 0);
  REQUIRE(on.size() == off.size());
  for (size_t k = 0; k < on.size(); ++k) {
    INFO("result " << k);
    CHECK(max_abs_diff(on[k].view(), off[k].view()) < 1e-12);
  }
}
