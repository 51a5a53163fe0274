// gradcheck itself: it passes right gradients and catches, and locates, wrong ones.
#include "support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

// A user op with a deliberately wrong backward: y = x^3 with dx += 3 x dy (missing a factor x)
// on element 1 only, so the report must point there.
void bad_cube_backward(const Backward<double>& b) {
  double* dx = b.dx(0);
  if (dx == nullptr) return;
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double x = b.x(0)[i];
    dx[i] += b.dy()[i] * (i == 1 ? 3 * x : 3 * x * x);
  }
}
const OpDef<double> kBadCube{"bad_cube", &bad_cube_backward};

Var<double> bad_cube(Var<double> x) {
  return record_unary(kBadCube, x, [](double v) { return v * v * v; });
}

}  // namespace

TEST_CASE("gradcheck finds and locates a wrong gradient", "[core][gradcheck]") {
  const Tensor<double> x = Tensor<double>::from({2, 2}, {0.5, 2.0, -1.0, 1.5});
  const auto r = gradcheck([](Graph<double>&, auto v) { return sum(bad_cube(v[0])); }, {&x, 1});
  INFO(r.summary());
  CHECK_FALSE(r.passed);
  CHECK(r.where == "input 0");
  CHECK(r.index == std::vector<int64_t>{0, 1});
  CHECK(r.analytic == Approx(3 * 2.0));
  CHECK(r.numeric == Approx(3 * 4.0).epsilon(1e-6));
  CHECK(r.summary().find("FAILED") != std::string::npos);
  CHECK(r.ops == std::vector<std::string>{"bad_cube", "sum"});
}

TEST_CASE("gradcheck covers parameters by name and restores their gradients", "[core][gradcheck]") {
  Parameter<double> w(randn({2, 3}, 1));
  w.grad().fill(42);
  const Tensor<double> before = w.value();
  const NamedParameter<double> params[] = {{"layer.weight", &w}};
  const Tensor<double> x = randn({4, 2}, 2);
  const auto r = gradcheck(
      [&](Graph<double>& g, auto v) { return sigmoid(matmul(v[0], g.param(w))); }, {&x, 1}, params);
  INFO(r.summary());
  CHECK(r.passed);
  CHECK(r.elements_checked == 8 + 6);
  CHECK(w.grad()[0] == 42.0);
  CHECK(max_abs_diff(w.value().view(), before.view()) == 0.0);
}

TEST_CASE("gradcheck reports a parameter by name when its gradient is wrong", "[core][gradcheck]") {
  Parameter<double> w(Tensor<double>::from({2}, {1.0, 2.0}));
  const NamedParameter<double> params[] = {{"cube.w", &w}};
  const Tensor<double> x = Tensor<double>::from({2}, {1.0, 1.0});
  const auto r = gradcheck([&](Graph<double>& g, auto v) { return bad_cube(g.param(w)) * v[0]; },
                           {&x, 1}, params);
  CHECK_FALSE(r.passed);
  CHECK(r.where == "parameter 'cube.w'");
  CHECK(r.index == std::vector<int64_t>{1});
}

TEST_CASE("gradcheck leaves parameters intact when the function throws", "[core][gradcheck]") {
  Parameter<double> w(Tensor<double>::from({2}, {1.0, 2.0}));
  const NamedParameter<double> params[] = {{"w", &w}};
  const Tensor<double> x = Tensor<double>::from({2}, {1.0, 1.0});
  int calls = 0;
  CHECK_THROWS_AS(gradcheck(
                      [&](Graph<double>& g, auto v) {
                        if (++calls > 3) throw ValueError("boom");
                        return g.param(w) * v[0];
                      },
                      {&x, 1}, params),
                  ValueError);
  CHECK(w.value()[0] == 1.0);
  CHECK(w.value()[1] == 2.0);
}
