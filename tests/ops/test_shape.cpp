// concat, stack, slice, split, chunk, reshape, transpose, detach.
#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("concat", "axis 0") {
  return check({randn({2, 3}, 61), randn({1, 3}, 62)}, [](auto x) {
    return concat({x[0], x[1]}, 0);
  });
}
GRAD_CASE("concat", "last axis, three inputs, one repeated") {
  return check({randn({2, 3}, 63), randn({2, 1}, 64)}, [](auto x) {
    return concat({x[0], x[1], x[0]}, -1);
  });
}
GRAD_CASE("concat", "middle axis of rank 3") {
  return check({randn({2, 1, 3}, 65), randn({2, 2, 3}, 66)}, [](auto x) {
    return concat({x[0], x[1]}, 1);
  });
}
GRAD_CASE("stack", "new leading axis, an input repeated") {
  return check({randn({2, 3}, 71), randn({2, 3}, 72)}, [](auto x) {
    return stack({x[0], x[1], x[0]}, 0);
  });
}
GRAD_CASE("stack", "new middle and last axes") {
  return check({randn({2, 3}, 73), randn({2, 3}, 74)}, [](auto x) {
    return tanh(stack({x[0], x[1]}, 1)) + transpose(stack({x[1], x[0]}, -1), 1, 2);
  });
}
GRAD_CASE("slice", "leading axis (a view)") {
  return check({randn({4, 3}, 67)}, [](auto x) { return tanh(slice(x[0], 0, 1, 3)); });
}
GRAD_CASE("slice", "last axis (a copy)") {
  return check({randn({3, 5}, 68)}, [](auto x) { return tanh(slice(x[0], 1, 1, 4)); });
}
GRAD_CASE("slice", "overlapping slices of one value") {
  return check({randn({4, 3}, 69)},
               [](auto x) { return slice(x[0], 0, 0, 3) * slice(x[0], 0, 1, 4); });
}
GRAD_CASE("slice", "split and chunk into gates") {
  return check({randn({2, 8}, 70)}, [](auto x) {
    auto gates = chunk<4>(x[0], 1);
    const int64_t sizes[] = {3, 5};
    auto parts = split(x[0], 1, sizes);
    return sigmoid(gates[0]) * tanh(gates[2]) + gates[3] - gates[1] + sum(parts[1]) + sum(parts[0]);
  });
}
GRAD_CASE("slice", "middle axis of rank 3 (a copy)") {
  return check({randn({2, 5, 3}, 76)}, [](auto x) { return tanh(slice(x[0], 1, 1, 4)); });
}
GRAD_CASE("slice", "split and chunk along axis 1 of rank 3") {
  return check({randn({2, 5, 3}, 77)}, [](auto x) {
    const int64_t sizes[] = {2, 3};
    auto parts = split(x[0], 1, sizes);  // [2, 2, 3] and [2, 3, 3]
    auto pieces = chunk(x[0], 5, 1);     // five [2, 1, 3]
    // Each piece weighted differently, so a gradient landing in the wrong place shows.
    auto y = sum(square(parts[0])) + sum(tanh(parts[1]) * parts[1]);
    for (size_t k = 0; k < pieces.size(); ++k) y = y + sum(pieces[k]) * double(k + 1);
    return y + sum(sigmoid(pieces[4]) * pieces[0]);
  });
}
GRAD_CASE("reshape", "flatten and back") {
  return check({randn({2, 3, 2}, 71)}, [](auto x) {
    auto flat = reshape(x[0], {-1});
    return reshape(tanh(flat), {3, 4}) * reshape(x[0], {3, -1});
  });
}
GRAD_CASE("transpose", "swap the first two axes of rank 3 (batch_first)") {
  return check({randn({2, 3, 4}, 74)}, [](auto x) { return tanh(transpose(x[0], 0, 1)); });
}
GRAD_CASE("transpose", "axes 1 and 3 of rank 4") {
  return check({randn({2, 3, 1, 2}, 75)}, [](auto x) { return transpose(x[0], 1, -1); });
}
GRAD_CASE("transpose", "2-D") {
  return check({randn({2, 3}, 72), randn({2, 3}, 73)},
               [](auto x) { return matmul(transpose(x[0]), x[1]); });
}

TEMPLATE_TEST_CASE("shape ops forward values", "[ops][shape]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto a = g.constant(Tensor<T>::from({2, 3}, {0, 1, 2, 3, 4, 5}));
  auto b = g.constant(Tensor<T>::from({2, 1}, {9, 8}));
  auto c = concat({a, b}, 1);
  REQUIRE(c.shape() == Shape{2, 4});
  CHECK(c.value().at({0, 3}) == T(9));
  CHECK(c.value().at({1, 0}) == T(3));
  auto s = slice(a, 1, 1, 3);
  REQUIRE(s.shape() == Shape{2, 2});
  CHECK(s.value().at({1, 1}) == T(5));
  auto r = slice(a, 0, 1, 2);
  CHECK(r.value().data() == a.value().data() + 3);  // a view, not a copy
  auto t = transpose(a);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.value().at({2, 1}) == T(5));
  auto b3 = g.constant(Tensor<T>::from({2, 3, 1}, {0, 1, 2, 3, 4, 5}));
  auto t3 = transpose(b3, 0, 1);
  REQUIRE(t3.shape() == Shape{3, 2, 1});
  CHECK(t3.value().at({2, 1, 0}) == T(5));
  CHECK(t3.value().at({1, 0, 0}) == T(1));
  auto re = reshape(a, {3, -1});
  CHECK(re.shape() == Shape{3, 2});
  CHECK(re.value().data() == a.value().data());
  auto parts = chunk(a, 3, 1);
  REQUIRE(parts.size() == 3);
  CHECK(parts[2].value().at({1, 0}) == T(5));
  // The middle axis of rank 3: x[i, j, k] = 100 i + 10 j + k.
  Tensor<T> x3({2, 5, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 5; ++j)
      for (int64_t k = 0; k < 3; ++k) x3.at({i, j, k}) = T(100 * i + 10 * j + k);
  auto v3 = g.constant(x3);
  auto m = slice(v3, 1, 1, 4);
  REQUIRE(m.shape() == Shape{2, 3, 3});
  CHECK(m.value().at({1, 2, 1}) == T(131));
  CHECK(m.value().at({0, 0, 2}) == T(12));
  const int64_t sizes[] = {2, 3};
  auto halves = split(v3, 1, sizes);
  REQUIRE(halves[1].shape() == Shape{2, 3, 3});
  CHECK(halves[1].value().at({1, 0, 0}) == T(120));
  auto fifths = chunk(v3, 5, 1);
  REQUIRE(fifths.size() == 5);
  CHECK(fifths[3].value().at({1, 0, 2}) == T(132));
}

TEMPLATE_TEST_CASE("stack forward values", "[ops][shape][stack]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto a = g.constant(Tensor<T>::from({2, 2}, {1, 2, 3, 4}));
  auto b = g.constant(Tensor<T>::from({2, 2}, {5, 6, 7, 8}));
  auto s0 = stack({a, b}, 0);
  REQUIRE(s0.shape() == Shape{2, 2, 2});
  CHECK(s0.value()[4] == T(5));
  auto s1 = stack({a, b}, 1);  // [[a0, b0], [a1, b1]]
  REQUIRE(s1.shape() == Shape{2, 2, 2});
  CHECK(s1.value()[2] == T(5));
  CHECK(s1.value()[4] == T(3));
  auto s2 = stack({a, b}, -1);  // pairs
  CHECK(s2.value()[1] == T(5));
  CHECK(s2.value()[2] == T(2));
  auto scalars = stack({g.scalar(T(1)), g.scalar(T(2))}, 0);
  CHECK(scalars.shape() == Shape{2});
}

TEST_CASE("stack errors name the op, the shapes and the axis", "[ops][shape][stack][errors]") {
  Graph<double> g;
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  auto b = g.constant(Tensor<double>::zeros({3, 2}));
  auto rank4 = g.constant(Tensor<double>::zeros({1, 1, 1, 1}));
  const size_t before = g.size();
  CHECK_THROWS_AS(stack({a, b}, 0), ShapeError);
  CHECK_THROWS_WITH(stack({a, a, b}, 0), Catch::Contains("stack") && Catch::Contains("input 2") &&
                                             Catch::Contains("[3, 2]") &&
                                             Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(stack({a, a}, 3), IndexError);
  CHECK_THROWS_WITH(stack({a, a}, -4), Catch::Contains("stack") && Catch::Contains("axis -4"));
  CHECK_THROWS_AS(stack({rank4, rank4}, 0), ShapeError);
  CHECK_THROWS_AS(stack(std::span<const Var<double>>(), 0), GraphError);
  CHECK(g.size() == before);
}

TEST_CASE("detach passes values and stops gradients", "[ops][detach]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({2}, {1, 2}), true);
  auto y = x * detach(x);
  CHECK_FALSE(detach(x).requires_grad());
  g.backward(sum(y));
  // d/dx (x * c) = c, with c = x held constant.
  CHECK(x.grad()[0] == 1.0);
  CHECK(x.grad()[1] == 2.0);
}

TEST_CASE("shape op errors name the op, shapes and bounds", "[ops][shape][errors]") {
  Graph<double> g;
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  auto b = g.constant(Tensor<double>::zeros({3, 3}));
  CHECK_THROWS_AS(concat({a, b}, 1), ShapeError);
  CHECK_THROWS_WITH(concat({a, b}, 1), Catch::Contains("concat") && Catch::Contains("[3, 3]"));
  CHECK_THROWS_AS(concat({a, b}, 2), IndexError);
  CHECK_THROWS_AS(slice(a, 1, 2, 4), IndexError);
  CHECK_THROWS_WITH(slice(a, 1, 2, 4), Catch::Contains("slice") && Catch::Contains("[2, 4)"));
  CHECK_THROWS_AS(slice(a, -3, 0, 1), IndexError);
  CHECK_THROWS_AS(chunk(a, 2, 1), ShapeError);
  CHECK_THROWS_AS((chunk<2>(a, 1)), ShapeError);
  const int64_t bad[] = {1, 1};
  CHECK_THROWS_WITH(split(a, 1, bad), Catch::Contains("split") && Catch::Contains("add up to 2"));
  CHECK_THROWS_AS(reshape(a, {4, 2}), ShapeError);
  CHECK_THROWS_AS(reshape(a, {-1, -1}), ShapeError);
  CHECK_THROWS_AS(reshape(a, {4, -1}), ShapeError);
  CHECK_THROWS_AS(transpose(g.constant(Tensor<double>::zeros({2, 2, 2}))), ShapeError);
  CHECK(concat({a, a}, 0).shape() == Shape{4, 3});  // still usable
}
