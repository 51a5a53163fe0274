// Anomaly mode: the first NaN or Inf from an op's forward or backward throws AnomalyError
// naming the op, its scope and its inputs' shapes; off by default.
#include <cmath>
#include <limits>

#include "support.hpp"

using namespace rwd;

namespace {

// An RNN (ReLU) whose hidden state grows by ~1e200 per step: finite at steps 0 and 1,
// Inf in the hidden-to-hidden product of step 2.
RNN<double> exploding_rnn() {
  Generator gen(1);
  RecurrentOptions o;
  o.input_size = 2;
  o.hidden_size = 3;
  RNN<double> rnn(o, gen, Nonlinearity::kRelu);
  for (auto& [name, p] : rnn.named_parameters()) {
    const double v = name.starts_with("weight_hh") ? 1e200 : name.starts_with("weight") ? 1 : 0;
    p->value().fill(v);
  }
  return rnn;
}

}  // namespace

TEST_CASE("anomaly mode is off by default and NaNs pass silently", "[core][anomaly]") {
  Graph<double> g;
  CHECK_FALSE(g.anomaly_detection());
  auto x = g.input(Tensor<double>::from({2}, {-1, 2}), true);
  auto loss = sum(log(x));
  g.backward(loss);
  CHECK(std::isnan(loss.item()));
  CHECK(x.grad()[0] == -1.0);  // d log(x)/dx = 1/x: finite
}

TEST_CASE("anomaly mode: a forward NaN names the op, its scope and its inputs' shapes",
          "[core][anomaly]") {
  Graph<double> g;
  g.set_anomaly_detection(true);
  auto x = g.input(Tensor<double>::from({2, 3}, {1, 2, 3, -4, 5, 6}), true);
  Var<double> y;
  {
    auto s = g.scope("decoder");
    auto step = g.scope("t=", 2);
    y = log(x);  // NaN at element 3; found when the next op records
  }
  try {
    static_cast<void>(sum(y));
    FAIL("no AnomalyError");
  } catch (const AnomalyError& e) {
    CHECK(e.op() == "log");
    CHECK(e.scope() == "decoder/t=2");
    CHECK_FALSE(e.in_backward());
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("forward of 'log'") && Catch::Contains("'decoder/t=2'") &&
                        Catch::Contains("NaN at element 3") && Catch::Contains("'input' [2, 3]"));
  }
  // Reported once; the graph stays usable.
  auto ok = sum(x);
  CHECK(ok.item() == 13.0);
}

TEST_CASE("anomaly mode: an overflow inside an unrolled RNN names the layer and time step",
          "[core][anomaly][layers]") {
  RNN<double> rnn = exploding_rnn();
  Graph<double> g;
  g.set_anomaly_detection(true);
  try {
    static_cast<void>(rnn.forward(g.input(Tensor<double>::ones({4, 1, 2}))));
    FAIL("no AnomalyError");
  } catch (const AnomalyError& e) {
    CHECK(e.op() == "addmm");  // xp_t + h·W_hhᵀ, the step's product
    CHECK(e.scope() == "rnn.l0.fwd/t=2");
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("+Inf") && Catch::Contains("'relu' [1, 3], 'param' [3, 3]"));
  }
  // The same layer with anomaly mode off runs to the end.
  Graph<double> quiet;
  auto out = rnn.forward(quiet.input(Tensor<double>::ones({4, 1, 2})));
  CHECK(std::isinf(out.output.value().at({3, 0, 0})));
}

TEST_CASE("anomaly mode: a NaN in the last value is found when backward starts",
          "[core][anomaly]") {
  Graph<double> g;
  g.set_anomaly_detection(true);
  auto x = g.input(Tensor<double>::from({2}, {-1, -2}), true);
  auto loss = log(sum(x));  // the last op: no later record checks it
  CHECK_THROWS_MATCHES(g.backward(loss), AnomalyError,
                       Catch::Matchers::Predicate<AnomalyError>(
                           [](const AnomalyError& e) { return e.op() == "log"; }));
  // check_anomalies() is the way to check without backward.
  static_cast<void>(log(sum(x)));
  CHECK_THROWS_AS(g.check_anomalies(), AnomalyError);
  g.check_anomalies();  // each value is checked once
}

TEST_CASE("anomaly mode: a backward Inf names the op whose backward produced it",
          "[core][anomaly]") {
  Graph<float> g;
  g.set_anomaly_detection(true);
  auto x = g.input(Tensor<float>::from({2}, {1e-30f, 2e-30f}), true);
  Var<float> y;
  {
    auto s = g.scope("scale");
    y = x * 1e30f;  // [1, 2]; its backward makes dx = 1e60: Inf in float
  }
  auto z = y * 1e30f;  // forward still finite: 1e30, 2e30
  auto loss = sum(z);
  try {
    g.backward(loss);
    FAIL("no AnomalyError");
  } catch (const AnomalyError& e) {
    CHECK(e.op() == "mul_scalar");
    CHECK(e.scope() == "scale");
    CHECK(e.in_backward());
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("backward of 'mul_scalar'") && Catch::Contains("input 0") &&
                   Catch::Contains("'input' [2]") && Catch::Contains("+Inf at element 0"));
  }
  // Off, the same backward completes with Inf in the gradient.
  g.set_anomaly_detection(false);
  g.backward(loss);
  CHECK(std::isinf(x.grad()[0]));
}

TEST_CASE("anomaly mode: a non-finite output gradient passed to backward is reported",
          "[core][anomaly]") {
  Graph<double> g;
  g.set_anomaly_detection(true);
  auto x = g.input(Tensor<double>::from({2}, {1, 2}), true);
  auto y = x * 2.0;
  const Tensor<double> seed =
      Tensor<double>::from({2}, {1.0, std::numeric_limits<double>::quiet_NaN()});
  CHECK_THROWS_WITH(g.backward(y, seed.view()),
                    Catch::Contains("output gradient") && Catch::Contains("NaN at element 1"));
}

TEST_CASE("anomaly mode: values recorded before it is switched on are not checked",
          "[core][anomaly]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({1}, {-1}), true);
  auto bad = log(x);
  g.set_anomaly_detection(true);
  auto fine = x * 2.0;  // recording checks only values made since
  CHECK(fine.item() == -2.0);
  CHECK(std::isnan(bad.item()));
  g.clear();  // a new round checks from its first node
  auto y = g.input(Tensor<double>::from({1}, {-1}), true);
  auto nan = log(y);
  CHECK_THROWS_AS(nan * 2.0, AnomalyError);
}

TEST_CASE("anomaly mode: an Inf that first appears in a weight's batched gradient sum",
          "[core][anomaly]") {
  // W is used by three products; the first one backward meets is applied at once (2e38,
  // finite), the other two are staged and summed into W's gradient after the tape is played
  // back (Note [Deferred weight gradients]): 6e38 overflows float only there.
  Parameter<float> w(Tensor<float>::from({1, 1}, {1e-30F}));
  const Tensor<float> big = Tensor<float>::from({1, 1}, {2e38F});
  Graph<float> g;
  g.set_anomaly_detection(true);
  Var<float> y = matmul(g.input(big), g.param(w));
  for (int i = 0; i < 2; ++i) y = add(y, matmul(g.input(big), g.param(w)));
  try {
    g.backward(sum(y));
    FAIL("no AnomalyError for the overflowing batched weight gradient");
  } catch (const AnomalyError& e) {
    CHECK(e.in_backward());
    CHECK(e.op() == "matmul");
    CHECK_THAT(e.what(), Catch::Matchers::Contains("Inf") &&
                             Catch::Matchers::Contains("batched sum") &&
                             Catch::Matchers::Contains("[1, 1]"));
  }
  // The graph stays usable: a finite step afterwards.
  w.zero_grad();
  g.clear();
  g.backward(sum(matmul(g.input(Tensor<float>::from({1, 1}, {2.0F})), g.param(w))));
  CHECK(w.grad()[0] == 2.0F);
}
