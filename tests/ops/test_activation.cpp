// sigmoid, tanh, relu, exp, log.
#include <cmath>

#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;
using rwd::test::uniform;

GRAD_CASE("sigmoid", "matrix") {
  return check({randn({3, 4}, 21)}, [](auto x) { return sigmoid(x[0]); });
}
GRAD_CASE("tanh", "matrix") {
  return check({randn({3, 4}, 22)}, [](auto x) { return tanh(x[0]); });
}
GRAD_CASE("relu", "away from the kink") {
  // |x| >= 0.1 so the central difference never straddles 0.
  Tensor<double> x = uniform({3, 4}, 0.1, 1.0, 23);
  for (int64_t i = 0; i < x.numel(); i += 2) x[i] = -x[i];
  return check({x}, [](auto v) { return relu(v[0]); });
}
GRAD_CASE("exp", "matrix") {
  return check({randn({2, 3}, 24)}, [](auto x) { return exp(x[0]); });
}
GRAD_CASE("log", "positive inputs") {
  return check({uniform({2, 3}, 0.2, 3.0, 25)}, [](auto x) { return log(x[0]); });
}

TEMPLATE_TEST_CASE("activation forward values", "[ops][activation]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto x = g.constant(Tensor<T>::from({4}, {-100, -1, 0, 2}));
  auto s = sigmoid(x).value();
  CHECK(s[0] == Approx(0.0).margin(1e-30));
  CHECK(s[1] == Approx(1.0 / (1.0 + std::exp(1.0))));
  CHECK(s[2] == Approx(0.5));
  CHECK(std::isfinite(sigmoid(g.constant(Tensor<T>::from({1}, {-1000}))).value()[0]));
  CHECK(tanh(x).value()[3] == Approx(std::tanh(2.0)));
  auto r = relu(x).value();
  CHECK(r[1] == T(0));
  CHECK(r[3] == T(2));
  CHECK(exp(x).value()[1] == Approx(std::exp(-1.0)));
  CHECK(log(g.constant(Tensor<T>::from({1}, {std::exp(T(2))}))).value()[0] == Approx(2.0));
}

TEST_CASE("relu passes no gradient at zero, as PyTorch", "[ops][activation]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({3}, {-1, 0, 1}), true);
  g.backward(sum(relu(x)));
  CHECK(x.grad()[0] == 0.0);
  CHECK(x.grad()[1] == 0.0);
  CHECK(x.grad()[2] == 1.0);
}
