// layer_norm: gradient checks, PyTorch's values and gradients, errors.
#include <cmath>
#include <map>
#include <string>

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
