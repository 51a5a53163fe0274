// matmul with every transpose combination, and linear.
#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("matmul", "a b") {
  return check({randn({3, 4}, 31), randn({4, 2}, 32)}, [](auto x) { return matmul(x[0], x[1]); });
}
GRAD_CASE("matmul", "aT b") {
  return check({randn({4, 3}, 33), randn({4, 2}, 34)},
               [](auto x) { return matmul(x[0], x[1], true, false); });
}
GRAD_CASE("matmul", "a bT") {
  return check({randn({3, 4}, 35), randn({2, 4}, 36)},
               [](auto x) { return matmul(x[0], x[1], false, true); });
}
GRAD_CASE("matmul", "aT bT") {
  return check({randn({4, 3}, 37), randn({2, 4}, 38)},
               [](auto x) { return matmul(x[0], x[1], true, true); });
}
GRAD_CASE("matmul", "same value on both sides: x xT") {
  return check({randn({3, 2}, 39)}, [](auto x) { return matmul(x[0], x[0], false, true); });
}
GRAD_CASE("matmul", "linear without bias, parameter weight, deferred weight gradient") {
  // The weight is a leaf multiplied by few rows: its gradient product is deferred and
  // batched at the end of backward (Note [Deferred weight gradients]). Used in three
  // products here, with both layouts.
  static Parameter<double> w(randn({3, 4}, 43));
  static const NamedParameter<double> params[] = {{"weight", &w}};
  return check(
      {randn({2, 4}, 44), randn({2, 3}, 45)},
      [](auto x) {
        Graph<double>& g = x[0].graph();
        Var<double> wv = g.param(w);
        Var<double> h = tanh(linear(x[0], wv));   // [2, 3] = x0 · wᵀ
        Var<double> back = matmul(h + x[1], wv);  // [2, 4] = (h + x1) · w
        return sigmoid(linear(back, wv)) + h;     // [2, 3]
      },
      params);
}
GRAD_CASE("addmm", "linear with bias and a parameter weight") {
  static Parameter<double> w(randn({3, 4}, 40));
  static Parameter<double> b(randn({3}, 41));
  static const NamedParameter<double> params[] = {{"weight", &w}, {"bias", &b}};
  return check(
      {randn({2, 4}, 42)},
      [](auto x) {
        Graph<double>& g = x[0].graph();
        return tanh(linear(x[0], g.param(w), g.param(b)));
      },
      params);
}

GRAD_CASE("addmm", "full base, every transpose") {
  return check({randn({3, 2}, 46), randn({4, 3}, 47), randn({2, 4}, 48)}, [](auto x) {
    return addmm(x[0], x[1], x[2], true, true) + addmm(x[0], transpose(x[1]), x[2], false, true);
  });
}
GRAD_CASE("addmm", "row base, recurrent use") {
  // h_t = tanh(b + h_{t-1} · Wᵀ) for 4 steps, W shared: exercises deferred batching.
  return check({randn({2, 3}, 49), randn({3, 3}, 50), randn({3}, 51)}, [](auto x) {
    Var<double> h = x[0];
    for (int t = 0; t < 4; ++t) h = tanh(addmm(x[2], h, x[1], false, true));
    return h;
  });
}

TEMPLATE_TEST_CASE("addmm forward values and errors", "[ops][addmm]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto base = g.constant(Tensor<T>::from({2, 2}, {1, 2, 3, 4}));
  auto row = g.constant(Tensor<T>::from({2}, {10, 20}));
  auto a = g.constant(Tensor<T>::from({2, 3}, {1, 2, 3, 4, 5, 6}));
  auto b = g.constant(Tensor<T>::from({3, 2}, {7, 8, 9, 10, 11, 12}));
  auto c = addmm(base, a, b);
  CHECK(c.value()[0] == T(59));
  CHECK(c.value()[3] == T(158));
  auto r = addmm(row, a, b);
  CHECK(r.value()[2] == T(149));
  CHECK_THROWS_WITH(addmm(g.constant(Tensor<T>::zeros({3})), a, b),
                    Catch::Contains("addmm") && Catch::Contains("[3]"));
  CHECK_THROWS_AS(addmm(base, a, a), ShapeError);
}

TEMPLATE_TEST_CASE("matmul forward values and transposes", "[ops][matmul]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto a = g.constant(Tensor<T>::from({2, 3}, {1, 2, 3, 4, 5, 6}));
  auto b = g.constant(Tensor<T>::from({3, 2}, {7, 8, 9, 10, 11, 12}));
  auto c = matmul(a, b);
  REQUIRE(c.shape() == Shape{2, 2});
  CHECK(c.value()[0] == T(58));
  CHECK(c.value()[1] == T(64));
  CHECK(c.value()[2] == T(139));
  CHECK(c.value()[3] == T(154));
  // aᵀ-flagged product of the stored transpose gives the same numbers.
  auto at = g.constant(Tensor<T>::from({3, 2}, {1, 4, 2, 5, 3, 6}));
  auto c2 = matmul(at, b, true, false);
  CHECK(max_abs_diff(c.value(), c2.value()) == 0.0);
  auto bt = g.constant(Tensor<T>::from({2, 3}, {7, 9, 11, 8, 10, 12}));
  auto c3 = matmul(a, bt, false, true);
  CHECK(max_abs_diff(c.value(), c3.value()) == 0.0);
}

TEST_CASE("matmul errors name the shapes", "[ops][matmul][errors]") {
  Graph<double> g;
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  auto b = g.constant(Tensor<double>::zeros({4, 5}));
  CHECK_THROWS_AS(matmul(a, b), ShapeError);
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("matmul") && Catch::Contains("[2, 3]") &&
                                      Catch::Contains("[4, 5]"));
  auto v = g.constant(Tensor<double>::zeros({3}));
  CHECK_THROWS_WITH(matmul(a, v), Catch::Contains("2-D") && Catch::Contains("[3]"));
  CHECK_NOTHROW(matmul(a, a, false, true));
}

TEST_CASE("matmul backward accumulates into an existing gradient", "[ops][matmul]") {
  // W is used by two products: its gradient must be the sum of both (beta = 1 in BLAS).
  Graph<double> g;
  Parameter<double> w(randn({3, 3}, 50));
  auto x = g.constant(randn({2, 3}, 51));
  auto wv = g.param(w);
  g.backward(sum(matmul(x, wv)) + sum(matmul(x, wv)));
  Tensor<double> twice = w.grad();
  w.zero_grad();
  g.clear();
  x = g.constant(randn({2, 3}, 51));
  g.backward(sum(matmul(x, g.param(w))));
  for (int64_t i = 0; i < 9; ++i) CHECK(twice[i] == Approx(2 * w.grad()[i]));
}
