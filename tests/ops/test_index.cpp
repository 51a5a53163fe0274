// gather, index_select, and the Indices they and argmax use.
#include <fmt/format.h>

#include "pytorch_reference.hpp"
#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("gather", "axis 1 of a matrix, repeated indices") {
  static const Indices index({3, 2}, {0, 3, 2, 2, 1, 0});
  return check({randn({3, 4}, 401)}, [](auto x) { return gather(x[0], 1, index); });
}
GRAD_CASE("gather", "axis 0 of rank 3, indices smaller than x") {
  static const Indices index({2, 2, 1}, {1, 0, 0, 0});
  return check({randn({2, 3, 2}, 402)}, [](auto x) { return gather(x[0], 0, index); });
}
GRAD_CASE("index_select", "rows, repeated") {
  static const std::vector<int64_t> index = {2, 0, 2};
  return check({randn({3, 4}, 403)}, [](auto x) { return index_select(x[0], 0, index); });
}
GRAD_CASE("index_select", "last axis of rank 3") {
  static const std::vector<int64_t> index = {3, 1};
  return check({randn({2, 3, 4}, 404)}, [](auto x) { return index_select(x[0], -1, index); });
}

TEMPLATE_TEST_CASE("gather and index_select forward values", "[ops][index]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto a = g.constant(Tensor<T>::from({2, 3}, {1, 2, 3, 4, 5, 6}));
  auto y = gather(a, 1, Indices({2, 2}, {2, 0, 1, 1}));
  REQUIRE(y.shape() == Shape{2, 2});
  CHECK(y.value()[0] == T(3));
  CHECK(y.value()[1] == T(1));
  CHECK(y.value()[3] == T(5));
  auto rows = gather(a, 0, Indices({1, 3}, {1, 0, 1}));
  CHECK(rows.value()[0] == T(4));
  CHECK(rows.value()[1] == T(2));
  const std::vector<int64_t> cols = {2, 2, 0};
  auto s = index_select(a, 1, cols);
  REQUIRE(s.shape() == Shape{2, 3});
  CHECK(s.value()[0] == T(3));
  CHECK(s.value()[5] == T(4));
  // The PyTorch idiom: x.gather(axis, x.argmax(axis, keepdim=True)) is max(x, axis, true).
  auto picked = gather(a, 1, argmax(a, 1, true));
  CHECK(picked.value()[1] == T(6));
}

TEST_CASE("gather's and index_select's gradients add up at repeated indices", "[ops][index]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({2, 2}, {1, 2, 3, 4}), true);
  const std::vector<int64_t> twice = {1, 1};
  auto gathered = gather(x, 1, Indices({2, 3}, {0, 0, 1, 1, 1, 1}));
  g.backward(sum(gathered) + sum(index_select(x, 0, twice)));
  CHECK(x.grad()[0] == 2);
  CHECK(x.grad()[1] == 1);
  CHECK(x.grad()[2] == 2);  // index_select twice
  CHECK(x.grad()[3] == 5);  // gather three times and index_select twice
}

// tests/data/ops/index.safetensors was written by make_ops_reference.py (torch.gather,
// torch.index_select, torch.stack in float64).
TEST_CASE("gather, index_select and stack match PyTorch", "[ops][index][pytorch]") {
  const rwd::test::PytorchReference ref("index.safetensors");
  for (const std::string& c : ref.cases("")) {
    DYNAMIC_SECTION(c) {
      const int axis = ref.int_arg(c, "axis");
      if (c.rfind("stack.", 0) == 0) {
        const int count = ref.int_arg(c, "count");
        std::vector<std::string> names;
        for (int k = 0; k < count; ++k) names.push_back(fmt::format("x{}", k));
        ref.check(c, names, [&](auto x) { return stack(x, axis); });
      } else if (c.rfind("gather.", 0) == 0) {
        const Indices index = ref.indices(c, "index");
        ref.check(c, {"x"}, [&](auto x) { return gather(x[0], axis, index); });
      } else {
        const Indices index = ref.indices(c, "index");
        ref.check(c, {"x"}, [&](auto x) { return index_select(x[0], axis, index.values()); });
      }
    }
  }
}

TEST_CASE("Indices check their count against their shape", "[ops][index][errors]") {
  CHECK_THROWS_AS(Indices({2, 2}, {1, 2, 3}), ShapeError);
  CHECK_THROWS_WITH(Indices({2, 2}, {1, 2, 3}),
                    Catch::Contains("3 values") && Catch::Contains("[2, 2]"));
  const Indices ok({3}, {4, 5, 6});
  CHECK(ok.numel() == 3);
  CHECK(ok.values()[2] == 6);
}

TEST_CASE("gather and index_select errors name the op, index, position and size",
          "[ops][index][errors]") {
  Graph<double> g;
  auto x = g.constant(Tensor<double>::zeros({2, 3}));
  const size_t before = g.size();
  CHECK_THROWS_AS(gather(x, 1, Indices({2, 2}, {0, 1, 3, 0})), IndexError);
  CHECK_THROWS_WITH(gather(x, 1, Indices({2, 2}, {0, 1, 3, 0})),
                    Catch::Contains("gather") && Catch::Contains("index 3") &&
                        Catch::Contains("position [1, 0]") && Catch::Contains("length 3") &&
                        Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(gather(x, 0, Indices({1, 1}, {-1})), IndexError);
  CHECK_THROWS_AS(gather(x, 1, Indices({2}, {0, 1})), ShapeError);  // rank
  CHECK_THROWS_WITH(
      gather(x, 1, Indices({3, 1}, {0, 1, 2})),  // larger than x off the axis
      Catch::Contains("gather") && Catch::Contains("[3, 1]") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(gather(x, 2, Indices({2, 2}, {0, 0, 0, 0})), IndexError);
  const std::vector<int64_t> bad = {0, 2, 5};
  CHECK_THROWS_WITH(index_select(x, -1, bad),
                    Catch::Contains("index_select") && Catch::Contains("index 5") &&
                        Catch::Contains("position [2]") && Catch::Contains("length 3"));
  const std::vector<int64_t> negative = {-1};
  CHECK_THROWS_AS(index_select(x, 0, negative), IndexError);
  CHECK(g.size() == before);  // nothing recorded by a call that threw
}
