// cross_entropy and mse.
#include <cmath>

#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("cross_entropy", "batch of 3, 4 classes, a repeated target") {
  static const std::vector<int64_t> targets = {2, 0, 2};
  return check({randn({3, 4}, 91)}, [](auto x) { return cross_entropy(x[0], targets); });
}
GRAD_CASE("cross_entropy", "large logits") {
  static const std::vector<int64_t> targets = {1, 0};
  Tensor<double> x = randn({2, 3}, 92);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 30 * x[i];
  // Large logits make the loss steep; a smaller step keeps truncation error down.
  GradcheckOptions opt;
  opt.eps = 1e-7;
  return gradcheck([](Graph<double>&, auto v) { return cross_entropy(v[0], targets); }, {&x, 1}, {},
                   opt);
}
GRAD_CASE("mse", "both sides") {
  return check({randn({2, 3}, 93), randn({2, 3}, 94)}, [](auto x) { return mse(x[0], x[1]); });
}

TEMPLATE_TEST_CASE("loss forward values", "[ops][loss]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto logits = g.constant(Tensor<T>::from({2, 3}, {1, 2, 3, 1, 1, 1}));
  const std::vector<int64_t> targets = {2, 0};
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const double expected = (-(3.0 - std::log(z)) + std::log(3.0)) / 2;
  CHECK(cross_entropy(logits, targets).item() == Approx(expected));
  auto a = g.constant(Tensor<T>::from({2}, {1, 2}));
  auto b = g.constant(Tensor<T>::from({2}, {3, 5}));
  CHECK(mse(a, b).item() == Approx((4.0 + 9.0) / 2));
}

TEST_CASE("cross_entropy is finite for extreme logits in float", "[ops][loss]") {
  Graph<float> g;
  auto logits = g.input(Tensor<float>::from({1, 2}, {1e4f, -1e4f}), true);
  const std::vector<int64_t> targets = {1};
  auto loss = cross_entropy(logits, targets);
  CHECK(loss.item() == Approx(2e4));
  g.backward(loss);
  CHECK(logits.grad()[0] == Approx(1.0));
  CHECK(logits.grad()[1] == Approx(-1.0));
}

TEST_CASE("loss errors name the op and the bad value", "[ops][loss][errors]") {
  Graph<double> g;
  auto logits = g.constant(Tensor<double>::zeros({2, 3}));
  const std::vector<int64_t> bad_id = {0, 3};
  CHECK_THROWS_AS(cross_entropy(logits, bad_id), IndexError);
  CHECK_THROWS_WITH(cross_entropy(logits, bad_id), Catch::Contains("cross_entropy") &&
                                                       Catch::Contains("target 3") &&
                                                       Catch::Contains("3 classes"));
  const std::vector<int64_t> negative = {0, -1};
  CHECK_THROWS_AS(cross_entropy(logits, negative), IndexError);
  const std::vector<int64_t> too_few = {0};
  CHECK_THROWS_AS(cross_entropy(logits, too_few), ShapeError);
  CHECK_THROWS_AS(cross_entropy(g.constant(Tensor<double>::zeros({3})), too_few), ShapeError);
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  auto b = g.constant(Tensor<double>::zeros({3, 2}));
  CHECK_THROWS_WITH(mse(a, b), Catch::Contains("mse") && Catch::Contains("[3, 2]"));
}
