// cross_entropy (with PyTorch's options), nll_loss, binary_cross_entropy_with_logits, mse.
#include <cmath>
#include <string>

#include "pytorch_reference.hpp"
#include "support.hpp"

using namespace rwd;
using rwd::test::check;
using rwd::test::randn;

GRAD_CASE("cross_entropy", "batch of 3, 4 classes, a repeated target") {
  static const std::vector<int64_t> targets = {2, 0, 2};
  return check({randn({3, 4}, 91)}, [](auto x) { return cross_entropy(x[0], targets); });
}
GRAD_CASE("cross_entropy", "large logits") {
  static const std::vector<int64_t> targets = {1, 0};
  Tensor<double> x = randn({2, 3}, 92);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 30 * x[i];
  // Large logits make the loss steep; a smaller step keeps truncation error down.
  GradcheckOptions opt;
  opt.eps = 1e-7;
  return gradcheck([](Graph<double>&, auto v) { return cross_entropy(v[0], targets); }, {&x, 1}, {},
                   opt);
}
GRAD_CASE("cross_entropy", "weights, an ignored row, label smoothing, per-row losses") {
  static const std::vector<int64_t> targets = {2, -100, 0, 3};
  return check({randn({4, 4}, 95)}, [](auto x) {
    CrossEntropyOptions opt;
    opt.weight = {0.5, 2, 1, 3};
    opt.label_smoothing = 0.2;
    opt.reduction = Reduction::kNone;
    return cross_entropy(x[0], targets, opt);
  });
}
GRAD_CASE("cross_entropy", "weighted mean with a class id ignored, label smoothing") {
  static const std::vector<int64_t> targets = {2, 1, 0, 1};
  return check({randn({4, 3}, 96)}, [](auto x) {
    return cross_entropy(x[0], targets,
                         {.weight = {0.5, 2, 1}, .ignore_index = 1, .label_smoothing = 0.1});
  });
}
GRAD_CASE("nll_loss", "weighted mean over log_softmax, an ignored row") {
  static const std::vector<int64_t> targets = {1, 0, -100};
  return check({randn({3, 4}, 97)}, [](auto x) {
    return nll_loss(log_softmax(x[0]), targets, {.weight = {1, 2, 0.5, 3}});
  });
}
GRAD_CASE("nll_loss", "sum and per-row losses") {
  static const std::vector<int64_t> targets = {1, 3, 3};
  return check({randn({3, 4}, 98)}, [](auto x) {
    return nll_loss(x[0], targets, {.reduction = Reduction::kSum}) +
           nll_loss(x[0], targets, {.reduction = Reduction::kNone});
  });
}
GRAD_CASE("binary_cross_entropy_with_logits", "logits and soft targets, mean") {
  return check({randn({3, 4}, 99), rwd::test::uniform({3, 4}, 0, 1, 100)},
               [](auto x) { return binary_cross_entropy_with_logits(x[0], x[1]); });
}
GRAD_CASE("binary_cross_entropy_with_logits", "pos_weight, per-element losses") {
  return check({randn({2, 3}, 101), rwd::test::uniform({2, 3}, 0, 1, 102)}, [](auto x) {
    return binary_cross_entropy_with_logits(
        x[0], x[1], {.pos_weight = {0.5, 1, 3}, .reduction = Reduction::kNone});
  });
}
GRAD_CASE("mse", "both sides") {
  return check({randn({2, 3}, 93), randn({2, 3}, 94)}, [](auto x) { return mse(x[0], x[1]); });
}

TEMPLATE_TEST_CASE("loss forward values", "[ops][loss]", float, double) {
  using T = TestType;
  Graph<T> g;
  auto logits = g.constant(Tensor<T>::from({2, 3}, {1, 2, 3, 1, 1, 1}));
  const std::vector<int64_t> targets = {2, 0};
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const double expected = (-(3.0 - std::log(z)) + std::log(3.0)) / 2;
  CHECK(cross_entropy(logits, targets).item() == Approx(expected));
  auto a = g.constant(Tensor<T>::from({2}, {1, 2}));
  auto b = g.constant(Tensor<T>::from({2}, {3, 5}));
  CHECK(mse(a, b).item() == Approx((4.0 + 9.0) / 2));
}

TEST_CASE("cross_entropy is finite for extreme logits in float", "[ops][loss]") {
  Graph<float> g;
  auto logits = g.input(Tensor<float>::from({1, 2}, {1e4f, -1e4f}), true);
  const std::vector<int64_t> targets = {1};
  auto loss = cross_entropy(logits, targets);
  CHECK(loss.item() == Approx(2e4));
  g.backward(loss);
  CHECK(logits.grad()[0] == Approx(1.0));
  CHECK(logits.grad()[1] == Approx(-1.0));
}

TEST_CASE("loss errors name the op and the bad value", "[ops][loss][errors]") {
  Graph<double> g;
  auto logits = g.constant(Tensor<double>::zeros({2, 3}));
  const std::vector<int64_t> bad_id = {0, 3};
  CHECK_THROWS_AS(cross_entropy(logits, bad_id), IndexError);
  CHECK_THROWS_WITH(cross_entropy(logits, bad_id), Catch::Contains("cross_entropy") &&
                                                       Catch::Contains("target 3") &&
                                                       Catch::Contains("3 classes"));
  const std::vector<int64_t> negative = {0, -1};
  CHECK_THROWS_AS(cross_entropy(logits, negative), IndexError);
  const std::vector<int64_t> too_few = {0};
  CHECK_THROWS_AS(cross_entropy(logits, too_few), ShapeError);
  CHECK_THROWS_AS(cross_entropy(g.constant(Tensor<double>::zeros({3})), too_few), ShapeError);
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  auto b = g.constant(Tensor<double>::zeros({3, 2}));
  CHECK_THROWS_WITH(mse(a, b), Catch::Contains("mse") && Catch::Contains("[3, 2]"));
}

TEMPLATE_TEST_CASE("nll_loss and binary_cross_entropy_with_logits forward values", "[ops][loss]",
                   float, double) {
  using T = TestType;
  Graph<T> g;
  auto lp = g.constant(Tensor<T>::from({2, 3}, {-1, -2, -3, -4, -5, -6}));
  const std::vector<int64_t> targets = {2, 0};
  CHECK(nll_loss(lp, targets).item() == Approx(3.5));
  CHECK(nll_loss(lp, targets, {.weight = {1, 1, 3}}).item() == Approx((9.0 + 4.0) / 4));
  CHECK(nll_loss(lp, targets, {.ignore_index = 0}).item() == Approx(3.0));
  auto rows = nll_loss(lp, targets, {.reduction = Reduction::kNone});
  REQUIRE(rows.shape() == Shape{2});
  CHECK(rows.value()[1] == Approx(4.0));
  auto x = g.constant(Tensor<T>::from({2}, {0, 2}));
  auto t = g.constant(Tensor<T>::from({2}, {1, 0}));
  // log 2, and softplus(2) = log(1 + e^2)
  auto bce = binary_cross_entropy_with_logits(x, t, {.reduction = Reduction::kNone});
  CHECK(bce.value()[0] == Approx(std::log(2.0)));
  CHECK(bce.value()[1] == Approx(std::log1p(std::exp(2.0))));
  CHECK(binary_cross_entropy_with_logits(x, t, {.pos_weight = {3, 1}, .reduction = Reduction::kSum})
            .item() == Approx(3 * std::log(2.0) + std::log1p(std::exp(2.0))));
}

TEST_CASE("binary_cross_entropy_with_logits is finite for extreme logits in float", "[ops][loss]") {
  Graph<float> g;
  auto x = g.input(Tensor<float>::from({2}, {1e4f, -1e4f}), true);
  auto t = g.constant(Tensor<float>::from({2}, {0, 1}));
  auto loss = binary_cross_entropy_with_logits(x, t, {.reduction = Reduction::kSum});
  CHECK(loss.item() == Approx(2e4));
  g.backward(loss);
  CHECK(x.grad()[0] == Approx(1.0));
  CHECK(x.grad()[1] == Approx(-1.0));
}

TEST_CASE("a mean over only ignored rows is NaN with a zero gradient, as PyTorch's",
          "[ops][loss]") {
  Graph<double> g;
  auto x = g.input(randn({2, 3}, 103), true);
  const std::vector<int64_t> ignored = {-100, -100};
  auto loss = cross_entropy(x, ignored, {.label_smoothing = 0.1});
  CHECK(std::isnan(loss.item()));
  CHECK(std::isnan(nll_loss(x, ignored).item()));
  g.backward(loss + nll_loss(x, ignored, {.reduction = Reduction::kSum}));
  for (int64_t i = 0; i < 6; ++i) CHECK(x.grad()[i] == 0);
}

// tests/data/ops/loss.safetensors was written by make_ops_reference.py with Debian's
// python3-torch in float64: every combination of class weights, ignore_index, label smoothing
// and reduction for cross_entropy (and the same without smoothing for nll_loss), pos_weight and
// reduction for binary_cross_entropy_with_logits.
TEST_CASE("losses match PyTorch for every option combination", "[ops][loss][pytorch]") {
  const rwd::test::PytorchReference ref("loss.safetensors");
  const auto reduction_of = [&](const std::string& c) {
    const std::string& r = ref.arg(c, "reduction");
    return r == "none" ? Reduction::kNone : r == "sum" ? Reduction::kSum : Reduction::kMean;
  };
  for (const std::string& c : ref.cases("")) {
    DYNAMIC_SECTION(c) {
      const Reduction reduction = reduction_of(c);
      if (c.rfind("bce.", 0) == 0) {
        BceWithLogitsOptions opt{.reduction = reduction};
        if (ref.has(c, "pos_weight")) opt.pos_weight = ref.doubles(c, "pos_weight");
        ref.check(c, {"x", "t"},
                  [&](auto x) { return binary_cross_entropy_with_logits(x[0], x[1], opt); });
        continue;
      }
      const Indices targets = ref.indices(c, "targets");
      const std::vector<double> weight =
          ref.has(c, "weight") ? ref.doubles(c, "weight") : std::vector<double>{};
      const int64_t ignore = ref.int_arg(c, "ignore_index");
      if (c.rfind("ce.", 0) == 0) {
        const CrossEntropyOptions opt{weight, ignore, reduction,
                                      ref.double_arg(c, "label_smoothing")};
        ref.check(c, {"x"}, [&](auto x) { return cross_entropy(x[0], targets.values(), opt); });
      } else {
        const NllLossOptions opt{weight, ignore, reduction};
        ref.check(c, {"x"}, [&](auto x) { return nll_loss(x[0], targets.values(), opt); });
      }
    }
  }
}

TEST_CASE("loss option errors name the op and the bad value", "[ops][loss][errors]") {
  Graph<double> g;
  auto logits = g.constant(Tensor<double>::zeros({2, 3}));
  const size_t before = g.size();
  const std::vector<int64_t> targets = {0, 2};
  CHECK_THROWS_WITH(cross_entropy(logits, targets, {.weight = {1, 2}}),
                    Catch::Contains("cross_entropy") && Catch::Contains("2 class weights") &&
                        Catch::Contains("3 classes"));
  CHECK_THROWS_AS(cross_entropy(logits, targets, {.label_smoothing = 1.5}), ValueError);
  CHECK_THROWS_WITH(cross_entropy(logits, targets, {.label_smoothing = -0.1}),
                    Catch::Contains("label_smoothing") && Catch::Contains("-0.1"));
  const std::vector<int64_t> minus_one = {0, -1};
  CHECK_THROWS_AS(cross_entropy(logits, minus_one), IndexError);
  CHECK_NOTHROW(cross_entropy(logits, minus_one, {.ignore_index = -1}));
  const size_t after_ok = g.size();
  CHECK_THROWS_WITH(nll_loss(logits, minus_one), Catch::Contains("nll_loss") &&
                                                     Catch::Contains("target -1") &&
                                                     Catch::Contains("batch row 1"));
  CHECK_THROWS_AS(nll_loss(g.constant(Tensor<double>::zeros({3})), targets), ShapeError);
  auto a = g.constant(Tensor<double>::zeros({2, 3}));
  auto b = g.constant(Tensor<double>::zeros({3, 2}));
  const size_t before_bce = g.size();
  CHECK_THROWS_WITH(binary_cross_entropy_with_logits(a, b),
                    Catch::Contains("binary_cross_entropy_with_logits") &&
                        Catch::Contains("[2, 3]") && Catch::Contains("[3, 2]"));
  CHECK_THROWS_WITH(binary_cross_entropy_with_logits(a, a, {.pos_weight = {1, 2}}),
                    Catch::Contains("2 positive weights") && Catch::Contains("[2, 3]"));
  auto empty = g.constant(Tensor<double>::zeros({0, 3}));
  CHECK_THROWS_AS(binary_cross_entropy_with_logits(empty, empty), ShapeError);
  CHECK(after_ok == before + 1);
  CHECK(g.size() == before_bce + 1);  // only `empty`
}
