// embedding and dropout.
#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("embedding", "repeated ids sum their gradients") {
  static const std::vector<int64_t> ids = {3, 1, 3, 0, 3};
  return check({randn({4, 3}, 101)}, [](auto x) { return tanh(embedding(x[0], ids)); });
}
GRAD_CASE("dropout", "training mask, re-seeded each call") {
  return check({randn({4, 5}, 102)}, [](auto x) {
    Generator gen(7);
    return dropout(x[0], 0.4, true, gen);
  });
}

TEST_CASE("embedding gathers rows and scatters gradients", "[ops][embedding]") {
  Graph<double> g;
  Parameter<double> table(Tensor<double>::from({3, 2}, {0, 1, 10, 11, 20, 21}));
  const std::vector<int64_t> ids = {2, 0, 2};
  auto e = embedding(g.param(table), ids);
  REQUIRE(e.shape() == Shape{3, 2});
  CHECK(e.value().at({0, 1}) == 21);
  CHECK(e.value().at({1, 0}) == 0);
  g.backward(sum(e));
  CHECK(table.grad().at({2, 0}) == 2.0);  // used twice
  CHECK(table.grad().at({0, 0}) == 1.0);
  CHECK(table.grad().at({1, 0}) == 0.0);  // never used
}

TEST_CASE("embedding errors name the id and the table", "[ops][embedding][errors]") {
  Graph<float> g;
  auto t = g.constant(Tensor<float>::zeros({5, 2}));
  const std::vector<int64_t> bad = {1, 5};
  CHECK_THROWS_AS(embedding(t, bad), IndexError);
  CHECK_THROWS_WITH(embedding(t, bad), Catch::Contains("embedding") && Catch::Contains("id 5") &&
                                           Catch::Contains("5 rows"));
  const std::vector<int64_t> ok = {4};
  CHECK_THROWS_AS(embedding(g.constant(Tensor<float>::zeros({5})), ok), ShapeError);
}

TEMPLATE_TEST_CASE("dropout: train scales survivors, eval is the identity", "[ops][dropout]", float,
                   double) {
  using T = TestType;
  Graph<T> g;
  Generator gen(3);
  auto x = g.constant(Tensor<T>::ones({1000}));
  auto y = dropout(x, 0.25, true, gen);
  int64_t kept = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    const T v = y.value()[i];
    CHECK((v == T(0) || v == Approx(1.0 / 0.75)));
    kept += v != T(0);
  }
  CHECK(kept > 700);
  CHECK(kept < 800);
  auto e = dropout(x, 0.25, false, gen);
  CHECK(e.id() == x.id());
  // Same seed, same mask.
  Generator a(11);
  Generator b(11);
  CHECK(max_abs_diff(dropout(x, 0.5, true, a).value(), dropout(x, 0.5, true, b).value()) == 0.0);
  auto all = dropout(x, 1.0, true, gen);
  CHECK(sum(all).item() == T(0));
}

TEST_CASE("dropout rejects a probability outside [0, 1]", "[ops][dropout][errors]") {
  Graph<double> g;
  Generator gen;
  auto x = g.constant(Tensor<double>::ones({3}));
  CHECK_THROWS_AS(dropout(x, 1.5, true, gen), ValueError);
  CHECK_THROWS_WITH(dropout(x, -0.1, true, gen),
                    Catch::Contains("dropout") && Catch::Contains("-0.1"));
}
