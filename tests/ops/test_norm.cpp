// layer_norm: gradient checks, PyTorch's values and gradients, errors.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("layer_norm", "rank 2 with gain and bias") {
  return check({randn({3, 4}, 301), randn({4}, 302), randn({4}, 303)},
               [](auto x) { return layer_norm(x[0], x[1], x[2]); });
}
GRAD_CASE("layer_norm", "rank 3 with gain and bias") {
  return check({randn({2, 3, 5}, 304), randn({5}, 305), randn({5}, 306)},
               [](auto x) { return layer_norm(x[0], x[1], x[2]); });
}
GRAD_CASE("layer_norm", "rank 2 without gain and bias") {
  return check({randn({3, 4}, 307)}, [](auto x) { return layer_norm(x[0]); });
}
GRAD_CASE("layer_norm", "rank 3 without gain and bias, eps 0.1") {
  return check({randn({2, 2, 3}, 308)}, [](auto x) { return layer_norm(x[0], 0.1); });
}
GRAD_CASE("layer_norm", "gain only, input used twice") {
  // Gradients accumulate: x reaches the loss through the norm and directly.
  return check({randn({2, 4}, 309), randn({4}, 310)},
               [](auto x) { return layer_norm(x[0], x[1], Var<double>()) * x[0]; });
}

GRAD_CASE("layer_norm", "rows wider than the partial sums, with gain and bias") {
  // 37 = two blocks of 16 double partial sums and 5 after them (ops/kernels/norm_body.hpp):
  // the vector loops and the scalar tails both.
  return check({randn({3, 37}, 311), randn({37}, 312), randn({37}, 313)},
               [](auto x) { return layer_norm(x[0], x[1], x[2]); });
}
GRAD_CASE("layer_norm", "x is its own gain and bias") {
  // One gradient buffer for all three inputs: dx must add to what dgain and dbias put there,
  // not write over it.
  return check({randn({37}, 314)}, [](auto x) { return layer_norm(x[0], x[0], x[0]); });
}

namespace {

using Tensors = std::map<std::string, Tensor<double>>;

void require_close(const std::string& what, TensorView<const double> got,
                   const Tensor<double>& want, double tolerance) {
  INFO(what << ": got shape " << got.shape().str() << ", want " << want.shape().str());
  REQUIRE(got.shape() == want.shape());
  const double diff = max_abs_diff(got, want.view());
  INFO(what << ": max abs diff " << diff);
  CHECK(diff < tolerance);
}

}  // namespace

// tests/data/norm/layer_norm.safetensors was written by make_layer_norm_reference.py with
// Debian's python3-torch (F.layer_norm in float64).
TEST_CASE("layer_norm matches PyTorch to 1e-12", "[ops][layer_norm][pytorch]") {
  const std::string path = std::string(REWIND_TEST_DATA_DIR) + "/norm/layer_norm.safetensors";
  const Tensors ref = load_safetensors<double>(path);
  const auto meta = load_safetensors_metadata(path);
  for (const std::string name : {"affine", "plain"}) {
    DYNAMIC_SECTION(name) {
      const double eps = std::stod(meta.at(name + ".eps"));
      const bool affine = ref.count(name + ".weight") == 1;
      Graph<double> g;
      Var<double> x = g.input(ref.at(name + ".x"), true);
      Var<double> gain = affine ? g.input(ref.at(name + ".weight"), true) : Var<double>();
      Var<double> bias = affine ? g.input(ref.at(name + ".bias"), true) : Var<double>();
      Var<double> y = affine ? layer_norm(x, gain, bias, eps) : layer_norm(x, eps);
      g.backward(sum(y * g.constant(ref.at(name + ".w_out"))));
      require_close("y", y.value(), ref.at(name + ".y"), 1e-12);
      require_close("grad x", x.grad(), ref.at("grad." + name + ".x"), 1e-12);
      if (affine) {
        require_close("grad weight", gain.grad(), ref.at("grad." + name + ".weight"), 1e-12);
        require_close("grad bias", bias.grad(), ref.at("grad." + name + ".bias"), 1e-12);
      }

      // float: the same within float's precision.
      Graph<float> gf;
      Var<float> xf = gf.constant(ref.at(name + ".x").cast<float>());
      Var<float> yf = affine ? layer_norm(xf, gf.constant(ref.at(name + ".weight").cast<float>()),
                                          gf.constant(ref.at(name + ".bias").cast<float>()), eps)
                             : layer_norm(xf, eps);
      require_close("float y", Tensor<float>(yf.value()).cast<double>().view(), ref.at(name + ".y"),
                    1e-5);
    }
  }
}

TEMPLATE_TEST_CASE("layer_norm forward values", "[ops][layer_norm]", float, double) {
  using T = TestType;
  Graph<T> g;
  // Rank 1 is one row. mean 2.5, biased variance 1.25.
  auto x = g.constant(Tensor<T>::from({4}, {1, 2, 3, 4}));
  auto y = layer_norm(x, T(0.25)).value();
  const double s = 1.0 / std::sqrt(1.25 + 0.25);
  CHECK(y[0] == Approx(-1.5 * s));
  CHECK(y[3] == Approx(1.5 * s));
  // A constant row normalises to zero (then gets the bias).
  auto c = g.constant(Tensor<T>::from({2, 3}, {7, 7, 7, 1, 2, 3}));
  auto gain = g.constant(Tensor<T>::from({3}, {2, 2, 2}));
  auto bias = g.constant(Tensor<T>::from({3}, {1, 0, -1}));
  auto yc = layer_norm(c, gain, bias).value();
  CHECK(yc[0] == Approx(1.0).margin(1e-6));
  CHECK(yc[2] == Approx(-1.0).margin(1e-6));
  CHECK(yc[4] == Approx(0.0).margin(1e-6));
  CHECK(yc[5] == Approx(2.0 / std::sqrt(2.0 / 3.0 + 1e-5) - 1.0).epsilon(1e-5));
}

TEST_CASE("layer_norm errors name the op and shapes", "[ops][layer_norm][errors]") {
  Graph<double> g;
  auto x = g.constant(Tensor<double>::zeros({2, 3}));
  auto row3 = g.constant(Tensor<double>::zeros({3}));
  auto row4 = g.constant(Tensor<double>::zeros({4}));
  auto matrix13 = g.constant(Tensor<double>::zeros({1, 3}));
  auto scalar = g.scalar(1.0);
  const size_t before = g.size();
  CHECK_THROWS_AS(layer_norm(x, row4, row3), ShapeError);
  CHECK_THROWS_WITH(layer_norm(x, row3, row4),
                    Catch::Contains("layer_norm") && Catch::Contains("bias") &&
                        Catch::Contains("[4]") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_WITH(layer_norm(x, matrix13, row3),
                    Catch::Contains("gain") && Catch::Contains("[1, 3]"));
  CHECK_THROWS_WITH(layer_norm(scalar), Catch::Contains("layer_norm") && Catch::Contains("rank"));
  CHECK_THROWS_AS(layer_norm(scalar), ShapeError);
  CHECK_THROWS_AS(layer_norm(x, 0.0), ValueError);
  CHECK_THROWS_WITH(layer_norm(x, row3, row3, -1.0),
                    Catch::Contains("layer_norm") && Catch::Contains("eps") &&
                        Catch::Contains("-1") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_AS(layer_norm(x, std::nan("")), ValueError);
  CHECK(g.size() == before);  // nothing recorded by a call that threw
  Graph<double> other;
  CHECK_THROWS_AS(layer_norm(x, other.constant(Tensor<double>::zeros({3})), row3), GraphError);
}

namespace {

// layer_norm written out in long double, one row at a time: y, and the gradients of
// L = Σ y ∘ w (Ba et al. 2016, eq. 4; the formulas above layer_norm_backward in ops/norm.cpp).
struct LayerNormReference {
  std::vector<long double> y, dx, dgain, dbias;
};

LayerNormReference layer_norm_reference(const Tensor<double>& x, const Tensor<double>& gain,
                                        const Tensor<double>& bias, const Tensor<double>& w,
                                        double eps) {
  const size_t d = size_t(x.shape()[x.shape().rank() - 1]);
  const size_t rows = size_t(x.numel()) / d;
  LayerNormReference ref;
  ref.y.resize(rows * d);
  ref.dx.resize(rows * d);
  ref.dgain.assign(d, 0);
  ref.dbias.assign(d, 0);
  std::vector<long double> xh(d), g(d);
  for (size_t r = 0; r < rows; ++r) {
    const double* xr = x.data() + r * d;
    const double* wr = w.data() + r * d;
    long double mean = 0, var = 0, sum_g = 0, sum_gx = 0;
    for (size_t k = 0; k < d; ++k) mean += xr[k];
    mean /= d;
    for (size_t k = 0; k < d; ++k) var += (xr[k] - mean) * (xr[k] - mean);
    const long double rstd = 1 / std::sqrt(var / d + eps);
    for (size_t k = 0; k < d; ++k) {
      xh[k] = (xr[k] - mean) * rstd;
      ref.y[r * d + k] = xh[k] * gain.data()[k] + bias.data()[k];
      g[k] = wr[k] * (long double)gain.data()[k];
      ref.dbias[k] += wr[k];
      ref.dgain[k] += wr[k] * xh[k];
      sum_g += g[k];
      sum_gx += g[k] * xh[k];
    }
    for (size_t k = 0; k < d; ++k)
      ref.dx[r * d + k] = rstd * (g[k] - sum_g / d - xh[k] * (sum_gx / d));
  }
  return ref;
}

template <class T>
double max_diff(TensorView<const T> got, const std::vector<long double>& want) {
  REQUIRE(size_t(got.numel()) == want.size());
  long double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i)
    worst = std::max(worst, std::fabs((long double)got[i] - want[size_t(i)]));
  return double(worst);
}

}  // namespace

// Rows wider than the partial sums of ops/kernels/norm_body.hpp, with and without a tail,
// against the formulas in long double. Rows have different scales and offsets; the last
// one's mean is far from zero against its spread, where a one-pass variance (E[x²] − mean²)
// or a float Σx would lose the digits these tolerances ask for. (Float's offset is 1e2: at
// 1e3 merely storing the mean as a float moves y by up to 1e-4 with these gains.)
TEMPLATE_TEST_CASE("layer_norm of wide rows matches the formulas in long double",
                   "[ops][layer_norm]", float, double) {
  using T = TestType;
  const double tolerance = std::is_same_v<T, double> ? 1e-12 : 1e-4;
  const double far = std::is_same_v<T, double> ? 1e3 : 1e2;
  const double scales[] = {1.0, 0.1, 3.0, 1.0};
  const double offsets[] = {0.0, 5.0, -2.0, far};
  for (int64_t d : {32, 37, 800, 1031}) {
    DYNAMIC_SECTION("rows of " << d) {
      // Values rounded to T first, so that the reference sees what the op sees.
      Tensor<double> x = randn({4, d}, 320 + uint64_t(d));
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t k = 0; k < d; ++k)
          x[r * d + k] = double(T(x[r * d + k] * scales[r] + offsets[r]));
      const Tensor<double> gain = randn({d}, 321).cast<T>().template cast<double>();
      const Tensor<double> bias = randn({d}, 322).cast<T>().template cast<double>();
      const Tensor<double> w = randn({4, d}, 323).cast<T>().template cast<double>();
      const LayerNormReference want = layer_norm_reference(x, gain, bias, w, 1e-5);

      Graph<T> g;
      Var<T> xv = g.input(x.cast<T>(), true);
      Var<T> gv = g.input(gain.cast<T>(), true);
      Var<T> bv = g.input(bias.cast<T>(), true);
      Var<T> y = layer_norm(xv, gv, bv);
      g.backward(sum(y * g.constant(w.cast<T>())));
      CHECK(max_diff(y.value(), want.y) < tolerance);
      CHECK(max_diff(xv.grad(), want.dx) < tolerance);
      CHECK(max_diff(gv.grad(), want.dgain) < tolerance);
      CHECK(max_diff(bv.grad(), want.dbias) < tolerance);
    }
  }
}
