// Tensor creation, access, copy and printing.
#include <fmt/format.h>

#include "support.hpp"

using namespace rwd;

TEMPLATE_TEST_CASE("tensor creation and access", "[core][tensor]", float, double) {
  using T = TestType;
  auto z = Tensor<T>::zeros({2, 3});
  CHECK(z.rank() == 2);
  CHECK(z.numel() == 6);
  CHECK(z.size(-1) == 3);
  CHECK(z[5] == T(0));
  CHECK(Tensor<T>::ones({4})[3] == T(1));
  CHECK(Tensor<T>::full({2, 2}, T(7)).at({1, 1}) == T(7));
  auto f = Tensor<T>::from({2, 2}, {1, 2, 3, 4});
  CHECK(f.at({1, 0}) == T(3));
  f.at({1, 0}) = T(30);
  CHECK(f[2] == T(30));
  CHECK(reinterpret_cast<uintptr_t>(f.data()) % 64 == 0);
  auto copy = f;
  copy[0] = T(-1);
  CHECK(f[0] == T(1));  // a deep copy
  auto s = Tensor<T>::from({}, {T(5)});
  CHECK(s.rank() == 0);
  CHECK(s.item() == T(5));
  auto r4 = Tensor<T>::zeros({1, 2, 3, 4});
  CHECK(r4.numel() == 24);
}

TEMPLATE_TEST_CASE("random tensors are reproducible from a seed", "[core][tensor][random]", float,
                   double) {
  using T = TestType;
  Generator a(42);
  Generator b(42);
  auto u1 = Tensor<T>::uniform({100}, -1, 1, a);
  auto u2 = Tensor<T>::uniform({100}, -1, 1, b);
  CHECK(max_abs_diff(u1.view(), u2.view()) == 0.0);
  Generator other(43);
  CHECK(max_abs_diff(u1.view(), Tensor<T>::uniform({100}, -1, 1, other).view()) > 0.1);
  T lo = 1;
  T hi = -1;
  for (int64_t i = 0; i < 100; ++i) {
    lo = std::min(lo, u1[i]);
    hi = std::max(hi, u1[i]);
  }
  CHECK(lo >= T(-1));
  CHECK(hi < T(1));
  CHECK(hi - lo > T(1.5));  // spread over the range, not stuck
  Generator c(1);
  Generator c2(1);
  auto n = Tensor<T>::normal({20000}, 2.0, 3.0, c);
  CHECK(max_abs_diff(n.view(), Tensor<T>::normal({20000}, 2.0, 3.0, c2).view()) == 0.0);
  double mean = 0;
  for (int64_t i = 0; i < n.numel(); ++i) mean += double(n[i]);
  mean /= double(n.numel());
  double var = 0;
  for (int64_t i = 0; i < n.numel(); ++i) var += (double(n[i]) - mean) * (double(n[i]) - mean);
  var /= double(n.numel());
  CHECK(mean == Approx(2.0).margin(0.1));
  CHECK(std::sqrt(var) == Approx(3.0).margin(0.1));
}

TEST_CASE("tensor errors name the shape and the index", "[core][tensor][errors]") {
  CHECK_THROWS_AS(Shape({1, 2, 3, 4, 5}), ShapeError);
  CHECK_THROWS_AS(Shape({2, -1}), ShapeError);
  CHECK_THROWS_WITH(Tensor<float>::from({2, 2}, {1, 2, 3}),
                    Catch::Contains("3 values") && Catch::Contains("[2, 2]"));
  auto t = Tensor<double>::zeros({2, 3});
  CHECK_THROWS_AS(t.at({2, 0}), IndexError);
  CHECK_THROWS_WITH(t.at({0, 3}), Catch::Contains("[0, 3]") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(t.at({0}), IndexError);
  CHECK_THROWS_AS(t.item(), ShapeError);
  CHECK_THROWS_AS(t.reshaped({4}), ShapeError);
  CHECK_THROWS_AS(t.size(2), IndexError);
}

TEST_CASE("fmt prints dtype, shape and values, eliding large tensors", "[core][tensor][format]") {
  auto t = Tensor<float>::from({2, 3}, {1, 2, 3, 4, 5, 6});
  const std::string s = fmt::format("{}", t);
  CHECK(s == "tensor(float32, [2, 3],\n [[1, 2, 3],\n  [4, 5, 6]])");
  CHECK(fmt::format("{}", Tensor<double>::from({}, {2.5})) == "tensor(float64, [],\n 2.5)");
  auto big = Tensor<double>::zeros({100, 100});
  big.at({99, 99}) = 7;
  const std::string b = fmt::format("{}", big);
  CHECK(b.find("...") != std::string::npos);
  CHECK(b.size() < 400);
  CHECK(b.find("7]]") != std::string::npos);
  CHECK(fmt::format("{}", Shape{4, 5}) == "[4, 5]");
}

TEMPLATE_TEST_CASE("uniform never returns hi, even where rounding would give it",
                   "[core][tensor][random]", float, double) {
  using T = TestType;
  // [1, next T after 1): half of the draws lo + (hi - lo)·u round up to hi, in double or when
  // narrowed to float; every draw must be 1.
  const T hi = std::nextafter(T(1), T(2));
  Generator gen(5);
  auto u = Tensor<T>::uniform({1000}, 1, double(hi), gen);
  for (int64_t i = 0; i < u.numel(); ++i) {
    INFO("draw " << i);
    REQUIRE(u[i] == T(1));
  }
  Generator g2(6);
  for (int i = 0; i < 1000; ++i) REQUIRE(g2.uniform(1.0, std::nextafter(1.0, 2.0)) == 1.0);
  CHECK(g2.uniform(3.0, 3.0) == 3.0);
}
