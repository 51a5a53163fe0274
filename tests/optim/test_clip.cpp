// clip_grad_norm, clip_grad_value, the non-finite policies and the statistics, as free
// functions and as optimizer options.
#include <cmath>
#include <limits>
#include <string>

#include "reference.hpp"

using namespace rwd;
using nlohmann::json;
using rwd::test::ParamSet;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const std::vector<std::string> kNames = {"w", "b"};

// Parameters "w" [2, 3] and "b" [3] with the reference's gradient set `which`.
template <Scalar T>
void load_clip_grads(ParamSet<T>& set, const std::string& which) {
  for (const std::string& n : kNames) set.add(n, Tensor<T>::zeros(rwd::test::ref_shape(n)));
  rwd::test::set_grads(set, kNames, rwd::test::optim_reference()["clip"]["inputs"][which]);
}

template <Scalar T>
double run_clip(const json& c, ParamSet<T>& set, NonFinitePolicy policy) {
  if (c["kind"] == "norm")
    return clip_grad_norm(set.named(), c["arg"].get<double>(),
                          rwd::test::ref_number(c["norm_type"]), policy);
  return clip_grad_value(set.named(), c["arg"].get<double>(), policy);
}

template <Scalar T>
void check_clipped(const json& c, ParamSet<T>& set, double tol) {
  for (size_t i = 0; i < kNames.size(); ++i)
    for (int64_t k = 0; k < set[i].numel(); ++k) {
      const json& want = c["clipped"][kNames[i]][size_t(k)];
      INFO(kNames[i] << "[" << k << "]: got " << set[i].grad()[k] << ", PyTorch " << want);
      CHECK(rwd::test::matches(double(set[i].grad()[k]), want, tol));
    }
}

// Two parameters with gradients w = (3, 0), b = (4): global 2-norm 5, max-norm 4.
struct ThreeFour {
  ParamSet<double> set;
  ThreeFour() {
    set.add("w", Tensor<double>::zeros({2})).grad() = Tensor<double>::from({2}, {3, 0});
    set.add("b", Tensor<double>::zeros({1})).grad() = Tensor<double>::from({1}, {4});
  }
  double g(size_t param, int64_t i) { return set[param].grad()[i]; }
};

}  // namespace

TEMPLATE_TEST_CASE("clipping matches PyTorch on finite gradients", "[optim][clip][reference]",
                   float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, double> ? 1e-12 : 1e-6;
  int checked = 0;
  for (const json& c : rwd::test::optim_reference()["clip"]["cases"]) {
    if (c["grads"] != "finite") continue;
    INFO(c["kind"] << " " << c["arg"] << " " << c.value("norm_type", json()));
    ParamSet<T> set;
    load_clip_grads(set, "finite");
    const double total = run_clip(c, set, NonFinitePolicy::kThrow);
    if (c["kind"] == "norm") CHECK(rwd::test::matches(total, c["total_norm"], tol));
    check_clipped(c, set, tol);
    ++checked;
  }
  CHECK(checked == 5);
}

TEST_CASE("with kProceed non-finite gradients go through clipping as in PyTorch",
          "[optim][clip][reference][nonfinite]") {
  int checked = 0;
  for (const json& c : rwd::test::optim_reference()["clip"]["cases"]) {
    if (c["grads"] == "finite") continue;
    INFO(c["grads"] << " " << c["kind"] << " " << c["arg"] << " " << c.value("norm_type", json()));
    ParamSet<double> set;
    load_clip_grads(set, c["grads"].get<std::string>());
    const double total = run_clip(c, set, NonFinitePolicy::kProceed);
    if (c["kind"] == "norm") CHECK(rwd::test::matches(total, c["total_norm"], 1e-12));
    check_clipped(c, set, 1e-12);
    ++checked;
  }
  CHECK(checked == 10);
}

TEST_CASE("clip_grad_norm: one norm over all parameters together, by hand", "[optim][clip]") {
  SECTION("2-norm 5 clipped to 1: every gradient times 1 / (5 + 1e-6)") {
    ThreeFour t;
    CHECK(clip_grad_norm(t.set.named(), 1.0) == 5.0);
    const double f = 1.0 / (5.0 + 1e-6);
    CHECK(t.g(0, 0) == Approx(3 * f).epsilon(1e-15));
    CHECK(t.g(0, 1) == 0.0);
    CHECK(t.g(1, 0) == Approx(4 * f).epsilon(1e-15));
  }
  SECTION("infinity norm 4 clipped to 2") {
    ThreeFour t;
    CHECK(clip_grad_norm(t.set.named(), 2.0, kInf) == 4.0);
    CHECK(t.g(0, 0) == Approx(3 * 2 / (4 + 1e-6)).epsilon(1e-15));
    CHECK(t.g(1, 0) == Approx(2 / (1 + 0.25e-6)).epsilon(1e-15));
  }
  SECTION("no scaling unless the factor is below 1") {
    ThreeFour t;
    // max_norm 5: factor 5 / (5 + 1e-6) < 1, so it scales (by a hair).
    clip_grad_norm(t.set.named(), 5.0);
    CHECK(t.g(1, 0) < 4.0);
    ThreeFour u;
    // max_norm 5 + 1e-6: factor exactly 1, no scaling: the gradients keep their bits.
    clip_grad_norm(u.set.named(), 5.0 + 1e-6);
    CHECK(u.g(0, 0) == 3.0);
    CHECK(u.g(1, 0) == 4.0);
  }
  SECTION("frozen parameters are left out of the norm and untouched") {
    ThreeFour t;
    Parameter<double>& frozen = t.set.add("frozen", Tensor<double>::zeros({1}), false);
    frozen.grad()[0] = 100;
    CHECK(clip_grad_norm(t.set.named(), 1.0) == 5.0);
    CHECK(frozen.grad()[0] == 100.0);
  }
  SECTION("an empty list has norm 0") {
    CHECK(clip_grad_norm(std::vector<NamedParameter<double>>{}, 1.0) == 0.0);
  }
}

TEST_CASE("clip_grad_norm does not overflow or underflow on extreme finite gradients",
          "[optim][clip]") {
  for (double scale : {1e200, 1e-200}) {
    INFO("scale " << scale);
    ThreeFour t;
    for (size_t p = 0; p < 2; ++p)
      for (double& g : t.set[p].grad().span()) g *= scale;
    const double total = clip_grad_norm(t.set.named(), 1e300);
    CHECK(total == Approx(5 * scale).epsilon(1e-15));
    CHECK(t.g(1, 0) == 4 * scale);  // max_norm 1e300: no clipping
  }
  SECTION("and clips a 1e200-sized gradient to max_norm") {
    ThreeFour t;
    for (size_t p = 0; p < 2; ++p)
      for (double& g : t.set[p].grad().span()) g *= 1e200;
    clip_grad_norm(t.set.named(), 1.0);
    CHECK(t.g(0, 0) == Approx(0.6).epsilon(1e-12));
    CHECK(t.g(1, 0) == Approx(0.8).epsilon(1e-12));
  }
}

TEST_CASE("clip_grad_value clamps each element and returns the 2-norm before", "[optim][clip]") {
  ThreeFour t;
  t.set[0].grad()[1] = -3.5;
  GradStats stats;
  const double total = clip_grad_value(t.set.named(), 3.2, NonFinitePolicy::kThrow, &stats);
  CHECK(total == Approx(std::sqrt(9 + 12.25 + 16)).epsilon(1e-15));
  CHECK(t.g(0, 0) == 3.0);
  CHECK(t.g(0, 1) == -3.2);
  CHECK(t.g(1, 0) == 3.2);
  CHECK(stats.value_clips == 1);
  clip_grad_value(t.set.named(), 10.0, NonFinitePolicy::kThrow, &stats);
  CHECK(stats.value_clips == 1);  // nothing changed the second time
  CHECK(stats.calls == 2);
}

TEMPLATE_TEST_CASE("kThrow (the default) names the first non-finite parameter and its count",
                   "[optim][clip][nonfinite][errors]", float, double) {
  using T = TestType;
  constexpr T kNan = std::numeric_limits<T>::quiet_NaN();
  constexpr T kInfT = std::numeric_limits<T>::infinity();
  ParamSet<T> set;
  set.add("rnn.weight_ih", Tensor<T>::zeros({4})).grad().fill(T(1));
  Parameter<T>& hh = set.add("rnn.weight_hh", Tensor<T>::zeros({2, 3}));
  Parameter<T>& bias = set.add("rnn.bias", Tensor<T>::zeros({2}));
  hh.grad()[0] = kNan;
  hh.grad()[2] = kInfT;
  hh.grad()[5] = -kInfT;
  GradStats stats;

  SECTION("clip_grad_norm") {
    CHECK_THROWS_AS(clip_grad_norm(set.named(), 1.0), ValueError);
    CHECK_THROWS_WITH(clip_grad_norm(set.named(), 1.0, 2.0, NonFinitePolicy::kThrow, &stats),
                      "clip_grad_norm: parameter 'rnn.weight_hh' holds 3 non-finite gradient "
                      "elements (NaN or Inf) out of 6; nothing was changed "
                      "(NonFinitePolicy::kThrow)");
  }
  SECTION("clip_grad_value, with a second parameter holding one") {
    bias.grad()[1] = kNan;
    CHECK_THROWS_WITH(clip_grad_value(set.named(), 0.5, NonFinitePolicy::kThrow, &stats),
                      Catch::Contains("clip_grad_value: parameter 'rnn.weight_hh' holds 3 ") &&
                          Catch::Contains("1 other parameter holds non-finite gradients too"));
  }
  SECTION("an optimizer's step, singular count") {
    hh.grad().fill(T(0));
    hh.grad()[4] = kInfT;
    SGD<T> opt(set.named(), 0.1, {}, {.max_norm = 1.0, .clip_value = 0.5});
    CHECK_THROWS_WITH(opt.step(), Catch::Contains("SGD.step: parameter 'rnn.weight_hh' holds 1 "
                                                  "non-finite gradient element (NaN"));
    CHECK(opt.steps_taken() == 0);
    CHECK(opt.stats().calls == 0);
    CHECK(opt.state_dict().at("step.rnn.weight_ih").item() == T(0));
    CHECK(set[0].value()[0] == T(0));
  }
  // Nothing was modified: not the gradients, not the statistics.
  CHECK(set[0].grad()[0] == T(1));
  CHECK(hh.grad()[1] == T(0));
  CHECK(stats.calls == 0);
}

TEMPLATE_TEST_CASE("kSkip zeroes the gradients and counts the skip, and the optimizer skips",
                   "[optim][clip][nonfinite]", float, double) {
  using T = TestType;
  ParamSet<T> set;
  Parameter<T>& w = set.add("w", Tensor<T>::from({2}, {1, 1}));
  SECTION("free functions") {
    GradStats stats;
    w.grad()[0] = std::numeric_limits<T>::quiet_NaN();
    w.grad()[1] = 5;
    const double total = clip_grad_norm(set.named(), 1.0, 2.0, NonFinitePolicy::kSkip, &stats);
    CHECK(std::isnan(total));
    CHECK(w.grad()[0] == T(0));
    CHECK(w.grad()[1] == T(0));
    CHECK(stats.skipped == 1);
    CHECK(stats.calls == 1);
    CHECK(std::isnan(stats.last_norm));
    CHECK(stats.finite_norms == 0);
    w.grad()[1] = std::numeric_limits<T>::infinity();
    CHECK(std::isinf(clip_grad_value(set.named(), 1.0, NonFinitePolicy::kSkip, &stats)));
    CHECK(w.grad()[1] == T(0));
    CHECK(stats.skipped == 2);
  }
  SECTION("an optimizer: no update, no state change, the skip counted") {
    Adam<T> opt(set.named(), 0.1, {}, {.non_finite = NonFinitePolicy::kSkip});
    w.grad().fill(T(1));
    CHECK(opt.step());
    const T after_one = w.value()[0];
    const StateDict<T> state = opt.state_dict();
    w.grad()[1] = -std::numeric_limits<T>::infinity();
    CHECK_FALSE(opt.step());
    CHECK(w.value()[0] == after_one);
    CHECK(w.grad()[0] == T(0));
    CHECK(w.grad()[1] == T(0));
    for (const auto& [key, t] : opt.state_dict()) CHECK(max_abs_diff(t, state.at(key)) == 0.0);
    CHECK(opt.steps_taken() == 1);
    CHECK(opt.steps_skipped() == 1);
    w.grad().fill(T(1));
    CHECK(opt.step());
    CHECK(opt.steps_taken() == 2);
    CHECK(opt.state_dict().at("step.w").item() == T(2));
  }
}

TEST_CASE("kProceed in an optimizer lets NaN reach the weights, as PyTorch does",
          "[optim][clip][nonfinite]") {
  ParamSet<double> set;
  Parameter<double>& w = set.add("w", Tensor<double>::from({2}, {1, 1}));
  SGD<double> opt(set.named(), 0.1, {}, {.non_finite = NonFinitePolicy::kProceed, .max_norm = 1.0});
  w.grad()[0] = std::nan("");
  CHECK(opt.step());
  // The NaN norm makes the clip factor NaN, which PyTorch applies to every gradient.
  CHECK(std::isnan(w.value()[0]));
  CHECK(std::isnan(w.value()[1]));
  CHECK(opt.stats().norm_clips == 1);
  CHECK(std::isnan(opt.stats().last_norm));
}

TEST_CASE("optimizer clipping options: norm clip, then value clip, then the update",
          "[optim][clip]") {
  // Gradients (3, 0 | 4): norm 5. max_norm 2.5 halves them (to a hair under 1.5, 0, 2);
  // clip_value 1.8 then clamps 2 to 1.8. SGD with lr 1 moves the weights by exactly that.
  ThreeFour t;
  SGD<double> opt(t.set.named(), 1.0, {}, {.max_norm = 2.5, .clip_value = 1.8});
  CHECK(opt.step());
  const double f = 2.5 / (5 + 1e-6);
  CHECK(t.set[0].value()[0] == Approx(-3 * f).epsilon(1e-15));
  CHECK(t.set[0].value()[1] == 0.0);
  CHECK(t.set[1].value()[0] == Approx(-1.8).epsilon(1e-15));
  // Same result as calling the free functions in that order before a plain step.
  ThreeFour u;
  SGD<double> plain(u.set.named(), 1.0);
  clip_grad_norm(u.set.named(), 2.5);
  clip_grad_value(u.set.named(), 1.8);
  plain.step();
  for (size_t p = 0; p < 2; ++p) CHECK(max_abs_diff(u.set[p].value(), t.set[p].value()) == 0.0);
  CHECK(opt.stats().norm_clips == 1);
  CHECK(opt.stats().value_clips == 1);
  CHECK(opt.stats().last_norm == 5.0);
}

TEST_CASE("statistics: how often clipping fired, last, mean and max norm", "[optim][clip]") {
  ParamSet<double> set;
  Parameter<double>& w = set.add("w", Tensor<double>::zeros({1}));
  SGD<double> opt(set.named(), 0.0, {}, {.max_norm = 2.0});
  for (double g : {1.0, 3.0, 0.5, 6.0}) {
    w.grad()[0] = g;
    opt.step();
  }
  const GradStats& s = opt.stats();
  CHECK(s.calls == 4);
  CHECK(s.norm_clips == 2);  // 3 and 6 exceed 2
  CHECK(s.value_clips == 0);
  CHECK(s.last_norm == 6.0);
  CHECK(s.finite_norms == 4);
  CHECK(s.mean_norm == Approx(2.625).epsilon(1e-15));
  CHECK(s.max_norm == 6.0);
  CHECK(opt.steps_taken() == 4);
  CHECK(opt.steps_skipped() == 0);
  // The statistics' norm follows norm_type.
  opt.set_gradient_options({.max_norm = 2.0, .norm_type = kInf});
  w.grad()[0] = -7.0;
  opt.step();
  CHECK(s.last_norm == 7.0);
}

TEST_CASE("clipping arguments and options are checked", "[optim][clip][errors]") {
  ThreeFour t;
  const auto ps = t.set.named();
  CHECK_THROWS_WITH(clip_grad_norm(ps, -1.0),
                    Catch::Contains("clip_grad_norm: max_norm must be >= 0, got -1"));
  CHECK_THROWS_AS(clip_grad_norm(ps, std::nan("")), ValueError);
  for (double bad : {1.0, 3.0, 0.0, -kInf}) {
    INFO("norm_type " << bad);
    CHECK_THROWS_AS(clip_grad_norm(ps, 1.0, bad), ValueError);
    CHECK_THROWS_WITH(clip_grad_norm(ps, 1.0, bad),
                      Catch::Contains("clip_grad_norm: norm_type must be 2 or infinity"));
  }
  CHECK_THROWS_WITH(clip_grad_value(ps, -0.5),
                    Catch::Contains("clip_grad_value: clip_value must be >= 0, got -0.5"));
  CHECK_THROWS_AS(clip_grad_value(ps, std::nan("")), ValueError);
  // The gradients were not touched by any of these.
  CHECK(t.g(0, 0) == 3.0);
  CHECK(t.g(1, 0) == 4.0);

  SGD<double> opt(ps, 0.1);
  CHECK_THROWS_WITH(opt.set_gradient_options({.norm_type = 1.0}),
                    Catch::Contains("SGD: norm_type must be 2 or infinity, got 1"));
  CHECK_THROWS_WITH(opt.set_gradient_options({.clip_value = -1.0}),
                    Catch::Contains("SGD: clip_value must be >= 0"));
  CHECK_FALSE(opt.gradient_options().clip_value.has_value());
  CHECK_THROWS_AS(Adam<double>(ps, 0.1, {}, {.norm_type = 0.5}), ValueError);
}
