// sum, mean (all and along an axis), softmax, log_softmax.
#include <cmath>

#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("sum", "all elements") {
  return check({randn({2, 3}, 81)}, [](auto x) { return sum(tanh(x[0])); });
}
GRAD_CASE("sum", "each axis of rank 3, keepdim and not") {
  return check({randn({2, 3, 4}, 82)}, [](auto x) {
    // [3, 4] * [3, 4] + [2, 1, 1] + [2, 3, 1] broadcasts to [2, 3, 4]
    return sum(x[0], 0) * sum(x[0], 0) + sum(sum(x[0], 1, true), 2, true) + sum(x[0], -1, true);
  });
}
GRAD_CASE("mean", "all elements") {
  return check({randn({3, 2}, 83)}, [](auto x) { return mean(square(x[0])); });
}
GRAD_CASE("mean", "along an axis") {
  return check({randn({3, 4}, 84)}, [](auto x) {
    return square(mean(x[0], 1, true)) + mean(x[0], 0, true);  // [3, 1] + [1, 4]
  });
}
GRAD_CASE("softmax", "last axis") {
  return check({randn({3, 4}, 85)}, [](auto x) { return softmax(x[0]); });
}
GRAD_CASE("softmax", "axis 0 of rank 3") {
  return check({randn({3, 2, 2}, 86)}, [](auto x) { return softmax(x[0], 0); });
}
GRAD_CASE("log_softmax", "last axis") {
  return check({randn({3, 4}, 87)}, [](auto x) { return log_softmax(x[0]); });
}
GRAD_CASE("log_softmax", "middle axis") {
  return check({randn({2, 3, 2}, 88)}, [](auto x) { return log_softmax(x[0], 1); });
}

TEMPLATE_TEST_CASE("reduce forward values", "[ops][reduce]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto a = g.constant(Tensor<T>::from({2, 3}, {1, 2, 3, 4, 5, 6}));
  CHECK(sum(a).item() == T(21));
  CHECK(sum(a).rank() == 0);
  CHECK(mean(a).item() == Approx(3.5));
  auto s0 = sum(a, 0);
  REQUIRE(s0.shape() == Shape{3});
  CHECK(s0.value()[2] == T(9));
  auto m1 = mean(a, 1, true);
  REQUIRE(m1.shape() == Shape{2, 1});
  CHECK(m1.value()[1] == Approx(5.0));
  auto sm = softmax(a);
  CHECK(sum(sm).item() == Approx(2.0));
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(sm.value()[0] == Approx(std::exp(1.0) / z));
  auto ls = log_softmax(a);
  CHECK(ls.value()[0] == Approx(1.0 - std::log(z)));
}

TEST_CASE("softmax and log_softmax are stable for huge logits", "[ops][reduce]") {
  Graph<float> g;
  auto a = g.constant(Tensor<float>::from({1, 3}, {1000.f, 1001.f, 999.f}));
  auto sm = softmax(a).value();
  auto ls = log_softmax(a).value();
  for (int i = 0; i < 3; ++i) {
    CHECK(std::isfinite(sm[i]));
    CHECK(std::isfinite(ls[i]));
  }
  CHECK(ls[1] == Approx(-std::log(1 + std::exp(-1.0) + std::exp(-2.0))).epsilon(1e-5));
}

TEST_CASE("reduce errors name the axis and shape", "[ops][reduce][errors]") {
  Graph<double> g;
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  CHECK_THROWS_AS(sum(a, 2), IndexError);
  CHECK_THROWS_WITH(mean(a, -3), Catch::Contains("mean") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(softmax(a, 5), IndexError);
}
