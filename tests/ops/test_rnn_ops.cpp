// lstm_pointwise and gru_pointwise: gradient checks, values against the same step written
// with separate ops, and shape errors.
#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("lstm_pointwise", "h' and c' together") {
  return check({randn({2, 12}, 121), randn({2, 3}, 122)},
               [](auto x) { return lstm_pointwise(x[0], x[1]); });
}
GRAD_CASE("lstm_pointwise", "h' only, through the views") {
  return check({randn({3, 8}, 123), randn({3, 2}, 124)}, [](auto x) {
    Var<double> hc = lstm_pointwise(x[0], x[1]);
    return lstm_hidden(hc) * lstm_cell_state(hc);
  });
}
GRAD_CASE("gru_pointwise", "all three inputs") {
  return check({randn({2, 9}, 125), randn({2, 9}, 126), randn({2, 3}, 127)},
               [](auto x) { return gru_pointwise(x[0], x[1], x[2]); });
}

TEMPLATE_TEST_CASE("fused cell ops equal the same step written with separate ops", "[ops][rnn]",
                   float, double) {
  using T = TestType;
  Graph<T> g;
  const int64_t batch = 3, hidden = 5;
  auto gates = g.constant(randn({batch, 4 * hidden}, 128).cast<T>());
  auto c = g.constant(randn({batch, hidden}, 129).cast<T>());
  auto hc = lstm_pointwise(gates, c);
  const auto [i, f, gg, o] = chunk<4>(gates, 1);
  auto c_ref = sigmoid(f) * c + sigmoid(i) * tanh(gg);
  auto h_ref = sigmoid(o) * tanh(c_ref);
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  CHECK(max_abs_diff(lstm_cell_state(hc).value(), c_ref.value()) < tol);
  CHECK(max_abs_diff(lstm_hidden(hc).value(), h_ref.value()) < tol);

  auto xp = g.constant(randn({batch, 3 * hidden}, 130).cast<T>());
  auto hp = g.constant(randn({batch, 3 * hidden}, 131).cast<T>());
  auto h = g.constant(randn({batch, hidden}, 132).cast<T>());
  const auto [xr, xz, xn] = chunk<3>(xp, 1);
  const auto [hr, hz, hn] = chunk<3>(hp, 1);
  auto r = sigmoid(xr + hr);
  auto z = sigmoid(xz + hz);
  auto n = tanh(xn + r * hn);
  auto h_gru = (T(1) - z) * n + z * h;
  CHECK(max_abs_diff(gru_pointwise(xp, hp, h).value(), h_gru.value()) < tol);
}

TEST_CASE("fused cell op errors name the shapes", "[ops][rnn][errors]") {
  Graph<double> g;
  auto gates = g.constant(Tensor<double>::zeros({2, 12}));
  CHECK_THROWS_WITH(
      lstm_pointwise(gates, g.constant(Tensor<double>::zeros({2, 4}))),
      Catch::Contains("lstm_pointwise") && Catch::Contains("[2, 12]") && Catch::Contains("[2, 4]"));
  CHECK_THROWS_AS(lstm_hidden(gates), ShapeError);
  CHECK_THROWS_AS(lstm_cell_state(gates), ShapeError);
  auto h = g.constant(Tensor<double>::zeros({2, 3}));
  CHECK_THROWS_WITH(gru_pointwise(g.constant(Tensor<double>::zeros({2, 9})),
                                  g.constant(Tensor<double>::zeros({2, 8})), h),
                    Catch::Contains("gru_pointwise") && Catch::Contains("[2, 8]"));
}

TEST_CASE("fast float activations stay within a few ulp of libm", "[ops][activation][float]") {
  double worst_sigmoid = 0, worst_tanh = 0;
  Graph<float> g;
  Tensor<float> xs({20001});
  for (int64_t i = 0; i < xs.numel(); ++i) xs[i] = float(i - 10000) * 0.004f;  // [-40, 40]
  auto x = g.constant(xs);
  auto s = sigmoid(x).value();
  auto t = tanh(x).value();
  for (int64_t i = 0; i < xs.numel(); ++i) {
    const double v = xs[i];
    const double se = 1 / (1 + std::exp(-v));
    const double te = std::tanh(v);
    worst_sigmoid = std::max(worst_sigmoid, std::abs(s[i] - se) / se);
    if (te != 0) worst_tanh = std::max(worst_tanh, std::abs(t[i] - te) / std::abs(te));
  }
  CHECK(worst_sigmoid < 4e-7);
  CHECK(worst_tanh < 4e-7);
  // Saturation and NaN.
  auto special = g.constant(Tensor<float>::from({3}, {INFINITY, -INFINITY, NAN}));
  CHECK(tanh(special).value()[0] == 1.0f);
  CHECK(tanh(special).value()[1] == -1.0f);
  CHECK(std::isnan(tanh(special).value()[2]));
  CHECK(sigmoid(special).value()[0] == 1.0f);
  CHECK(sigmoid(special).value()[1] < 1e-37f);  // exp clamps at e^88: 1 / (1 + e^88)
  CHECK(std::isnan(sigmoid(special).value()[2]));
}
