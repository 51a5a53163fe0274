// add, sub, mul, div (with broadcasting), neg, add_scalar, mul_scalar, square.
#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;
using rwd::test::uniform;

GRAD_CASE("add", "same shape") {
  return check({randn({2, 3}, 1), randn({2, 3}, 2)}, [](auto x) { return x[0] + x[1]; });
}
GRAD_CASE("add", "bias row over a batch") {
  return check({randn({4, 3}, 1), randn({3}, 2)}, [](auto x) { return x[0] + x[1]; });
}
GRAD_CASE("add", "scalar on the left") {
  return check({randn({}, 1), randn({2, 3}, 2)}, [](auto x) { return x[0] + x[1]; });
}
GRAD_CASE("add", "column against row (general broadcast)") {
  return check({randn({3, 1}, 1), randn({1, 4}, 2)}, [](auto x) { return x[0] + x[1]; });
}
GRAD_CASE("add", "rank 4 against rank 2") {
  return check({randn({2, 1, 3, 2}, 1), randn({3, 1}, 2)}, [](auto x) { return x[0] + x[1]; });
}
GRAD_CASE("sub", "bias row") {
  return check({randn({3, 2}, 3), randn({1, 2}, 4)}, [](auto x) { return x[0] - x[1]; });
}
GRAD_CASE("sub", "row minus batch") {
  return check({randn({2}, 3), randn({3, 2}, 4)}, [](auto x) { return x[0] - x[1]; });
}
GRAD_CASE("mul", "same shape") {
  return check({randn({2, 3}, 5), randn({2, 3}, 6)}, [](auto x) { return x[0] * x[1]; });
}
GRAD_CASE("mul", "mask column [B,1] times [B,H]") {
  return check({randn({3, 1}, 5), randn({3, 4}, 6)}, [](auto x) { return x[0] * x[1]; });
}
GRAD_CASE("mul", "fan-out: x * x") {
  return check({randn({2, 3}, 7)}, [](auto x) { return x[0] * x[0]; });
}
GRAD_CASE("div", "same shape") {
  return check({randn({2, 3}, 8), uniform({2, 3}, 0.5, 2.0, 9)},
               [](auto x) { return x[0] / x[1]; });
}
GRAD_CASE("div", "by a broadcast row") {
  return check({randn({3, 2}, 8), uniform({2}, 0.5, 2.0, 9)}, [](auto x) { return x[0] / x[1]; });
}
GRAD_CASE("div", "scalar over tensor") {
  return check({uniform({2, 2}, 0.5, 2.0, 10)}, [](auto x) { return 3.0 / x[0]; });
}
GRAD_CASE("neg", "matrix") {
  return check({randn({2, 3}, 11)}, [](auto x) { return -x[0]; });
}
GRAD_CASE("add_scalar", "matrix") {
  return check({randn({2, 3}, 12)}, [](auto x) { return x[0] + 2.5; });
}
GRAD_CASE("mul_scalar", "matrix") {
  return check({randn({2, 3}, 13)}, [](auto x) { return x[0] * -1.5; });
}
GRAD_CASE("square", "matrix") {
  return check({randn({2, 3}, 14)}, [](auto x) { return square(x[0]); });
}

TEMPLATE_TEST_CASE("elementwise forward values", "[ops][elementwise]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto a = g.constant(Tensor<T>::from({2, 3}, {1, 2, 3, 4, 5, 6}));
  auto row = g.constant(Tensor<T>::from({3}, {10, 20, 30}));
  auto col = g.constant(Tensor<T>::from({2, 1}, {2, 4}));
  auto sum = a + row;
  CHECK(sum.shape() == Shape{2, 3});
  CHECK(sum.value()[4] == T(25));
  auto q = a / col;
  CHECK(q.value()[0] == Approx(0.5));
  CHECK(q.value()[5] == Approx(1.5));
  auto d = row - a;
  CHECK(d.value()[3] == T(6));
  CHECK((a * T(2)).value()[5] == T(12));
  CHECK((T(1) - a).value()[1] == T(-1));
  CHECK((a / T(2)).value()[1] == T(1));
  CHECK(square(a).value()[2] == T(9));
  CHECK((-a).value()[0] == T(-1));
}

TEST_CASE("elementwise: shapes that do not broadcast name the op and both shapes",
          "[ops][elementwise][errors]") {
  Graph<double> g;
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  auto b = g.constant(Tensor<double>::zeros({4}));
  CHECK_THROWS_AS(a + b, ShapeError);
  CHECK_THROWS_WITH(a * b,
                    Catch::Contains("mul") && Catch::Contains("[2, 3]") && Catch::Contains("[4]"));
  // The graph is still usable afterwards.
  const size_t before = g.size();
  auto c = a + a;
  CHECK(g.size() == before + 1);
  CHECK(c.shape() == Shape{2, 3});
}
