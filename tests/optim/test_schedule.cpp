// Learning-rate schedules against torch.optim.lr_scheduler (reference JSON) and by hand,
// warmup composed with each, and their errors.
#include <cmath>
#include <functional>
#include <memory>
#include <numbers>
#include <string>

#include "reference.hpp"

using namespace rwd;
using nlohmann::json;
using rwd::test::ParamSet;

namespace {

Warmup warmup_of(const json& c) {
  if (!c.contains("warmup")) return {};
  return {c["warmup"]["steps"].get<int64_t>(), c["warmup"]["start_factor"].get<double>()};
}

PlateauOptions plateau_of(const json& a) {
  PlateauOptions o;
  o.mode = a["mode"] == "min" ? PlateauOptions::Mode::kMin : PlateauOptions::Mode::kMax;
  o.factor = a["factor"];
  o.patience = a["patience"];
  o.threshold = a["threshold"];
  o.threshold_mode = a["threshold_mode"] == "rel" ? PlateauOptions::ThresholdMode::kRel
                                                  : PlateauOptions::ThresholdMode::kAbs;
  o.cooldown = a["cooldown"];
  o.min_lr = a["min_lr"];
  o.eps = a["eps"];
  REQUIRE(a.size() == 8);  // every setting the script passes is mapped above
  return o;
}

// |got - want| within 1e-12 relative (the schedules' lrs go down to 1e-5).
bool close(double got, double want) {
  return std::fabs(got - want) <= 1e-12 * std::fabs(want) + 1e-18;
}

template <Scalar T>
struct OneParam {
  ParamSet<T> set;
  std::unique_ptr<SGD<T>> opt;
  explicit OneParam(double lr) {
    set.add("p", Tensor<T>::zeros({1}));
    opt = std::make_unique<SGD<T>>(set.named(), lr);
  }
};

}  // namespace

TEMPLATE_TEST_CASE("schedules match torch.optim.lr_scheduler step by step",
                   "[optim][schedule][reference]", float, double) {
  using T = TestType;
  const json& ref = rwd::test::optim_reference()["schedules"];
  REQUIRE(ref["cases"].size() == 11);
  for (const json& c : ref["cases"]) {
    const std::string name = c["schedule"];
    SECTION(name + " " + c["args"].dump() + " warmup " + c.value("warmup", json()).dump()) {
      OneParam<T> p(ref["base_lr"].get<double>());
      Optimizer<T>& opt = *p.opt;
      const json& a = c["args"];
      const Warmup warmup = warmup_of(c);
      std::function<void(size_t)> step;
      std::unique_ptr<LrScheduler<T>> sched;
      if (name == "StepLR") {
        auto s = std::make_unique<StepLR<T>>(opt, a["step_size"].get<int64_t>(),
                                             a["gamma"].get<double>(), warmup);
        step = [raw = s.get()](size_t) { raw->step(); };
        sched = std::move(s);
      } else if (name == "ExponentialLR") {
        auto s = std::make_unique<ExponentialLR<T>>(opt, a["gamma"].get<double>(), warmup);
        step = [raw = s.get()](size_t) { raw->step(); };
        sched = std::move(s);
      } else if (name == "CosineAnnealingLR") {
        auto s = std::make_unique<CosineAnnealingLR<T>>(opt, a["t_max"].get<int64_t>(),
                                                        a["eta_min"].get<double>(), warmup);
        step = [raw = s.get()](size_t) { raw->step(); };
        sched = std::move(s);
      } else if (name == "ReduceLROnPlateau") {
        auto s = std::make_unique<ReduceLROnPlateau<T>>(opt, plateau_of(a), warmup);
        step = [raw = s.get(), &c](size_t t) { raw->step(c["metrics"][t].get<double>()); };
        sched = std::move(s);
      } else {
        FAIL("unknown schedule " << name);
      }
      const json& lrs = c["lrs"];
      CHECK(close(opt.lr(), lrs[0].get<double>()));
      for (size_t t = 1; t < lrs.size(); ++t) {
        step(t - 1);
        INFO("step " << t << ": got " << opt.lr() << ", PyTorch " << lrs[t]);
        CHECK(close(opt.lr(), lrs[t].get<double>()));
        CHECK(sched->last_step() == int64_t(t));
        CHECK(sched->lr() == opt.lr());
      }
    }
  }
}

TEST_CASE("schedules by hand", "[optim][schedule]") {
  OneParam<double> p(1.0);
  SECTION("StepLR halves every 2 steps; lr_at gives any step") {
    StepLR<double> s(*p.opt, 2, 0.5);
    CHECK(p.opt->lr() == 1.0);
    const double want[] = {1.0, 0.5, 0.5, 0.25, 0.25};
    for (double w : want) {
      s.step();
      CHECK(p.opt->lr() == w);
    }
    CHECK(s.lr_at(10) == 1.0 / 32);
  }
  SECTION("CosineAnnealingLR reaches eta_min at t_max, halfway at t_max / 2") {
    CosineAnnealingLR<double> s(*p.opt, 4, 0.2);
    CHECK(s.lr_at(2) == Approx(0.6).epsilon(1e-15));
    CHECK(s.lr_at(4) == Approx(0.2).epsilon(1e-15));
    CHECK(s.lr_at(1) == Approx(0.2 + 0.8 * (1 + std::cos(std::numbers::pi / 4)) / 2));
  }
  SECTION("a hand-set lr lasts until the schedule's next step") {
    ExponentialLR<double> s(*p.opt, 0.5);
    p.opt->set_lr(3.0);
    CHECK(p.opt->lr() == 3.0);
    s.step();
    CHECK(p.opt->lr() == 0.5);
  }
  SECTION("the schedule drives the updates") {
    StepLR<double> s(*p.opt, 1, 0.5);
    Parameter<double>& w = p.set[0];
    for (int i = 0; i < 3; ++i) {
      w.grad()[0] = 1;
      p.opt->step();
      s.step();
    }
    CHECK(w.value()[0] == -(1.0 + 0.5 + 0.25));
  }
}

TEST_CASE("warmup multiplies any schedule, ReduceLROnPlateau included", "[optim][schedule]") {
  OneParam<double> p(0.8);
  const Warmup warm{.steps = 4, .start_factor = 0.5};  // factors 0.5, 0.625, 0.75, 0.875, 1
  SECTION("the factor by hand") {
    ExponentialLR<double> s(*p.opt, 1.0, warm);
    const double factors[] = {0.5, 0.625, 0.75, 0.875, 1.0, 1.0};
    for (int t = 0; t < 6; ++t) {
      CHECK(s.warmup_factor(t) == factors[t]);
      CHECK(p.opt->lr() == Approx(0.8 * factors[t]).epsilon(1e-15));
      s.step();
    }
  }
  SECTION("with cosine and eta_min: the whole schedule lr, eta_min included, is scaled") {
    CosineAnnealingLR<double> s(*p.opt, 2, 0.2, warm);
    s.step();
    s.step();  // t = 2: cosine at eta_min = 0.2, factor 0.75
    CHECK(p.opt->lr() == Approx(0.2 * 0.75).epsilon(1e-15));
    CHECK(s.schedule_lr() == Approx(0.2).epsilon(1e-15));
  }
  SECTION("with ReduceLROnPlateau (patience 1): a reduction during warmup stays reduced") {
    ReduceLROnPlateau<double> s(*p.opt, {.factor = 0.5, .patience = 1}, warm);
    CHECK(p.opt->lr() == Approx(0.4));
    s.step(1.0);  // t = 1: improves (best 1.0); 0.8 * 0.625
    CHECK(p.opt->lr() == Approx(0.5));
    s.step(1.0);  // t = 2: 1 bad step, within patience; 0.8 * 0.75
    CHECK(p.opt->lr() == Approx(0.6));
    s.step(1.0);  // t = 3: 2 bad steps > patience: schedule lr 0.4; 0.4 * 0.875
    CHECK(s.schedule_lr() == Approx(0.4));
    CHECK(p.opt->lr() == Approx(0.35));
    CHECK(s.reductions() == 1);
    CHECK(s.bad_steps() == 0);
    s.step(0.5);  // t = 4: improves, warmup done
    CHECK(p.opt->lr() == Approx(0.4));
    CHECK(s.best() == 0.5);
  }
  SECTION("a NaN metric never counts as an improvement") {
    ReduceLROnPlateau<double> s(*p.opt, {.patience = 0});
    s.step(std::nan(""));
    CHECK(s.reductions() == 1);
    CHECK(std::isinf(s.best()));
  }
}

TEST_CASE("schedule settings are checked", "[optim][schedule][errors]") {
  OneParam<double> p(0.1);
  Optimizer<double>& o = *p.opt;
  struct Case {
    const char* message;
    std::function<void()> make;
  };
  const std::vector<Case> cases = {
      {"StepLR: warmup.steps must be >= 0, got -1",
       [&] { StepLR<double>(o, 1, 0.1, {.steps = -1}); }},
      {"ExponentialLR: warmup.start_factor must be in (0, 1], got 0",
       [&] { ExponentialLR<double>(o, 0.9, {.steps = 3, .start_factor = 0}); }},
      {"CosineAnnealingLR: warmup.start_factor must be in (0, 1], got 1.5",
       [&] { CosineAnnealingLR<double>(o, 5, 0, {.steps = 3, .start_factor = 1.5}); }},
      {"StepLR: step_size must be >= 1, got 0", [&] { StepLR<double>(o, 0); }},
      {"StepLR: gamma must be finite and > 0, got 0", [&] { StepLR<double>(o, 1, 0.0); }},
      {"ExponentialLR: gamma must be finite and > 0, got -0.5",
       [&] { ExponentialLR<double>(o, -0.5); }},
      {"CosineAnnealingLR: t_max must be >= 1, got 0", [&] { CosineAnnealingLR<double>(o, 0); }},
      {"CosineAnnealingLR: eta_min must be finite and >= 0, got -1",
       [&] { CosineAnnealingLR<double>(o, 5, -1); }},
      {"ReduceLROnPlateau: factor must be in [0, 1), got 1",
       [&] { ReduceLROnPlateau<double>(o, {.factor = 1}); }},
      {"ReduceLROnPlateau: patience must be >= 0, got -1",
       [&] { ReduceLROnPlateau<double>(o, {.patience = -1}); }},
      {"ReduceLROnPlateau: threshold must be finite and >= 0, got -0.1",
       [&] { ReduceLROnPlateau<double>(o, {.threshold = -0.1}); }},
      {"ReduceLROnPlateau: cooldown must be >= 0, got -2",
       [&] { ReduceLROnPlateau<double>(o, {.cooldown = -2}); }},
      {"ReduceLROnPlateau: min_lr must be finite and >= 0, got -1",
       [&] { ReduceLROnPlateau<double>(o, {.min_lr = -1}); }},
      {"ReduceLROnPlateau: eps must be finite and >= 0, got -1",
       [&] { ReduceLROnPlateau<double>(o, {.eps = -1}); }},
  };
  for (const Case& c : cases) {
    INFO(c.message);
    CHECK_THROWS_AS(c.make(), ValueError);
    CHECK_THROWS_WITH(c.make(), Catch::Contains(c.message));
  }
  CHECK(o.lr() == 0.1);  // no failed schedule touched the optimizer
}
