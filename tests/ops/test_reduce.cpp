// sum, mean (all and along an axis), softmax, log_softmax, var, std, logsumexp, max, argmax.
#include <cmath>
#include <limits>

#include "pytorch_reference.hpp"
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

GRAD_CASE("var", "each axis of rank 3, corrections 0 to 2, keepdim and not") {
  return check({randn({3, 4, 2}, 89)}, [](auto x) {
    // [4, 2] + [3, 1, 2] + [3, 4, 1] + [3, 1, 2] broadcast to [3, 4, 2]
    return var(x[0], 0) + var(x[0], 1, 0, true) + var(x[0], -1, 1, true) + var(x[0], 1, 2, true);
  });
}
GRAD_CASE("std", "along an axis, keepdim and not") {
  return check({randn({3, 4}, 90)}, [](auto x) {
    return rwd::std(x[0], 1, 1, true) * rwd::std(x[0], 0, 0);  // [3, 1] * [4]
  });
}
GRAD_CASE("logsumexp", "last axis") {
  return check({randn({3, 4}, 91)}, [](auto x) { return logsumexp(x[0], -1); });
}
GRAD_CASE("logsumexp", "axis 0 of rank 3, keepdim, large values") {
  Tensor<double> x = randn({3, 2, 2}, 92);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 40 * x[i];
  return check({x}, [](auto v) { return logsumexp(v[0], 0, true); });
}
GRAD_CASE("max", "each axis of rank 3, keepdim and not") {
  return check({randn({2, 3, 4}, 93)},
               [](auto x) {  // [3, 4] + [2, 1, 4] + [2, 3, 1] broadcast to [2, 3, 4]
                 return max(x[0], 0) + max(x[0], 1, true) + max(x[0], -1, true);
               });
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

TEMPLATE_TEST_CASE("var, std, logsumexp, max and argmax forward values", "[ops][reduce]", float,
                   double) {
  using T = TestType;
  Graph<T> g;
  auto a = g.constant(Tensor<T>::from({2, 3}, {1, 2, 6, 4, 4, 4}));
  auto v = var(a, 1);  // row 0: mean 3, squares 4 + 1 + 9 = 14
  REQUIRE(v.shape() == Shape{2});
  CHECK(v.value()[0] == Approx(7.0));
  CHECK(v.value()[1] == Approx(0.0).margin(1e-12));
  CHECK(var(a, 1, 0, true).value()[0] == Approx(14.0 / 3));
  CHECK(var(a, 1, 0, true).shape() == Shape{2, 1});
  CHECK(rwd::std(a, 1).value()[0] == Approx(std::sqrt(7.0)));
  CHECK(rwd::std(a, 0).value()[0] == Approx(std::sqrt(4.5)));
  auto l = logsumexp(a, 1);
  CHECK(l.value()[0] == Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(6.0))));
  CHECK(l.value()[1] == Approx(4 + std::log(3.0)));
  auto m = max(a, 0, true);
  REQUIRE(m.shape() == Shape{1, 3});
  CHECK(m.value()[2] == T(6));
  const Indices where = argmax(a, 1);
  CHECK(where.shape() == Shape{2});
  CHECK(where[0] == 2);
  CHECK(where[1] == 0);  // a tie: the first maximal element
  CHECK(argmax(a, 0, true).shape() == Shape{1, 3});
}

TEST_CASE("max sends the gradient to the first maximal element, and NaN counts as maximal",
          "[ops][reduce][max]") {
  Graph<double> g;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto x = g.input(Tensor<double>::from({3, 3}, {1, 5, 5, 2, 2, 2, 1, nan, 3}), true);
  auto y = max(x, 1);
  CHECK(y.value()[0] == 5);
  CHECK(std::isnan(y.value()[2]));
  g.backward(sum(y * g.constant(Tensor<double>::from({3}, {1, 2, 3}))));
  const std::vector<double> want = {0, 1, 0, 2, 0, 0, 0, 3, 0};
  for (size_t i = 0; i < want.size(); ++i) CHECK(x.grad()[int64_t(i)] == want[i]);
  const Indices where = argmax(x, 1);
  CHECK(where[0] == 1);
  CHECK(where[1] == 0);
  CHECK(where[2] == 1);
}

TEST_CASE("logsumexp is stable for huge values and -inf", "[ops][reduce][logsumexp]") {
  Graph<float> g;
  const float inf = std::numeric_limits<float>::infinity();
  auto a = g.constant(Tensor<float>::from({3, 2}, {1000.f, 1001.f, -inf, 0.f, -inf, -inf}));
  auto l = logsumexp(a, 1).value();
  CHECK(l[0] == Approx(1001 + std::log1p(std::exp(-1.0))));
  CHECK(l[1] == 0.f);
  CHECK(l[2] == -inf);  // log of an empty sum, as PyTorch
}

TEST_CASE("std's gradient is zero where it is zero, as PyTorch's", "[ops][reduce][std]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({2, 2}, {3, 3, 1, 2}), true);
  g.backward(sum(rwd::std(x, 1)));
  CHECK(x.grad()[0] == 0);
  CHECK(x.grad()[1] == 0);
  CHECK(x.grad()[2] == Approx(-1 / std::sqrt(2.0)));
}

// tests/data/ops/reduce.safetensors was written by make_ops_reference.py with Debian's
// python3-torch in float64.
TEST_CASE("var, std, logsumexp, max and argmax match PyTorch to 1e-12", "[ops][reduce][pytorch]") {
  const rwd::test::PytorchReference ref("reduce.safetensors");
  for (const std::string& c : ref.cases("")) {
    DYNAMIC_SECTION(c) {
      const int axis = ref.int_arg(c, "axis");
      const bool keepdim = ref.int_arg(c, "keepdim") != 0;
      const std::string op = c.substr(0, c.find('.'));
      ref.check(c, {"x"}, [&](auto x) {
        if (op == "var" || op == "std") {
          const int64_t correction = ref.int_arg(c, "correction");
          return op == "var" ? var(x[0], axis, correction, keepdim)
                             : rwd::std(x[0], axis, correction, keepdim);
        }
        if (op == "logsumexp") return logsumexp(x[0], axis, keepdim);
        return max(x[0], axis, keepdim);
      });
      if (op == "max") {
        Graph<double> g;
        const Indices want = ref.indices(c, "argmax");
        const Indices got = argmax(g.constant(ref.at(c, "x")), axis, keepdim);
        REQUIRE(got.shape() == want.shape());
        for (int64_t i = 0; i < want.numel(); ++i) CHECK(got[i] == want[i]);
      }
    }
  }
}

TEST_CASE("var, std, logsumexp, max and argmax errors name the op and values",
          "[ops][reduce][errors]") {
  Graph<double> g;
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  const size_t before = g.size();
  CHECK_THROWS_AS(var(a, 0, 2), ValueError);
  CHECK_THROWS_WITH(rwd::std(a, 1, 3), Catch::Contains("std") && Catch::Contains("correction 3") &&
                                           Catch::Contains("length 3") &&
                                           Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(var(a, 2), IndexError);
  CHECK_THROWS_WITH(logsumexp(a, -3), Catch::Contains("logsumexp") && Catch::Contains("[2, 3]"));
  auto empty = g.constant(Tensor<double>::zeros({2, 0}));
  CHECK_THROWS_AS(max(empty, 1), ShapeError);
  CHECK_THROWS_WITH(argmax(empty, -1), Catch::Contains("argmax") && Catch::Contains("[2, 0]") &&
                                           Catch::Contains("empty"));
  CHECK(g.size() == before + 1);  // only `empty`: nothing recorded by a call that threw
}
