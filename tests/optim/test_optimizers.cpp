// SGD, Adam, AdamW, RMSprop, Adagrad against PyTorch (reference JSON) and against values
// worked out by hand; the Optimizer base: frozen parameters, the state dict, errors.
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "reference.hpp"

using namespace rwd;
using nlohmann::json;
using rwd::test::ParamSet;

namespace {

// The option structs from a reference case's PyTorch keyword arguments. Fails the test on a
// keyword it does not know, so the script cannot add an option this test silently ignores.
template <Scalar T>
std::unique_ptr<Optimizer<T>> make_optimizer(const json& c, std::vector<NamedParameter<T>> ps) {
  const std::string name = c["optimizer"];
  const double lr = c["lr"];
  const json& o = c["options"];
  auto unknown = [&](const std::string& key) { FAIL("option " << key << " for " << name); };
  if (name == "SGD") {
    SgdOptions s;
    for (const auto& [k, v] : o.items()) {
      if (k == "momentum")
        s.momentum = v;
      else if (k == "dampening")
        s.dampening = v;
      else if (k == "nesterov")
        s.nesterov = v;
      else if (k == "weight_decay")
        s.weight_decay = v;
      else
        unknown(k);
    }
    return std::make_unique<SGD<T>>(std::move(ps), lr, s);
  }
  if (name == "Adam" || name == "AdamW") {
    AdamOptions a;
    AdamWOptions w;
    for (const auto& [k, v] : o.items()) {
      if (k == "betas") {
        a.beta1 = w.beta1 = v[0];
        a.beta2 = w.beta2 = v[1];
      } else if (k == "eps") {
        a.eps = w.eps = v;
      } else if (k == "weight_decay") {
        a.weight_decay = w.weight_decay = v;
      } else if (k == "amsgrad") {
        a.amsgrad = w.amsgrad = v;
      } else {
        unknown(k);
      }
    }
    if (name == "Adam") return std::make_unique<Adam<T>>(std::move(ps), lr, a);
    return std::make_unique<AdamW<T>>(std::move(ps), lr, w);
  }
  if (name == "RMSprop") {
    RmspropOptions r;
    for (const auto& [k, v] : o.items()) {
      if (k == "alpha")
        r.alpha = v;
      else if (k == "eps")
        r.eps = v;
      else if (k == "momentum")
        r.momentum = v;
      else if (k == "centered")
        r.centered = v;
      else if (k == "weight_decay")
        r.weight_decay = v;
      else
        unknown(k);
    }
    return std::make_unique<RMSprop<T>>(std::move(ps), lr, r);
  }
  if (name == "Adagrad") {
    AdagradOptions a;
    for (const auto& [k, v] : o.items()) {
      if (k == "lr_decay")
        a.lr_decay = v;
      else if (k == "weight_decay")
        a.weight_decay = v;
      else if (k == "initial_accumulator_value")
        a.initial_accumulator_value = v;
      else if (k == "eps")
        a.eps = v;
      else
        unknown(k);
    }
    return std::make_unique<Adagrad<T>>(std::move(ps), lr, a);
  }
  FAIL("unknown optimizer " << name);
  return nullptr;
}

// Tolerance relative to max(1, |value|): PyTorch's float64 against ours.
template <Scalar T>
constexpr double kTol = std::is_same_v<T, double> ? 1e-12 : 2e-5;

template <Scalar T>
void check_tensor(const std::string& what, const Tensor<T>& got, const json& want) {
  REQUIRE(int64_t(want.size()) == got.numel());
  for (int64_t i = 0; i < got.numel(); ++i) {
    INFO(what << " element " << i << ": got " << got[i] << ", PyTorch " << want[size_t(i)]);
    CHECK(rwd::test::matches(double(got[i]), want[size_t(i)], kTol<T>));
  }
}

const std::vector<std::string> kNames = {"w", "b"};

}  // namespace

TEMPLATE_TEST_CASE("optimizers match PyTorch over six steps on fixed gradients",
                   "[optim][reference]", float, double) {
  using T = TestType;
  const json& ref = rwd::test::optim_reference();
  const json& cases = ref["optimizers"];
  REQUIRE(cases.size() >= 20);
  for (const json& c : cases) {
    SECTION(c["optimizer"].get<std::string>() + " " + c["options"].dump()) {
      ParamSet<T> set;
      rwd::test::add_reference_params(set);
      auto opt = make_optimizer<T>(c, set.named());
      REQUIRE(ref["grads"].size() == c["steps"].size());
      for (size_t s = 0; s < c["steps"].size(); ++s) {
        rwd::test::set_grads(set, kNames, ref["grads"][s]);
        REQUIRE(opt->step());
        for (size_t i = 0; i < kNames.size(); ++i)
          check_tensor("step " + std::to_string(s + 1) + " " + kNames[i], set[i].value(),
                       c["steps"][s][kNames[i]]);
      }
      // The state: every buffer PyTorch keeps, under the same name, with the same values.
      const StateDict<T> state = opt->state_dict();
      const json& want = c["state"];
      for (const auto& [key, value] : want.items()) {
        INFO("state key " << key);
        REQUIRE(state.contains(key));
        if (value.is_array())
          check_tensor(key, state.at(key), value);
        else
          CHECK(double(state.at(key).item()) == value.template get<double>());
      }
      for (const auto& [key, tensor] : state) {
        INFO("our state key " << key);
        if (key.starts_with("step."))
          CHECK(tensor.item() == T(6));  // SGD keeps a count PyTorch does not
        else
          CHECK(want.contains(key));
      }
      CHECK(opt->steps_taken() == 6);
    }
  }
}

// ---- Values worked out by hand ----

TEST_CASE("SGD with momentum and weight decay, two steps by hand", "[optim][sgd]") {
  ParamSet<double> set;
  Parameter<double>& p = set.add("p", Tensor<double>::from({2}, {1.0, -2.0}));
  SGD<double> opt(set.named(), 0.1, {.momentum = 0.5, .dampening = 0.2, .weight_decay = 0.1});
  // Step 1: g = grad + 0.1 p = (0.5 + 0.1, 1 - 0.2) = (0.6, 0.8); b = g (first step);
  //         p = p - 0.1 b = (0.94, -2.08).
  p.grad() = Tensor<double>::from({2}, {0.5, 1.0});
  opt.step();
  CHECK(p.value()[0] == Approx(0.94).epsilon(1e-14));
  CHECK(p.value()[1] == Approx(-2.08).epsilon(1e-14));
  // Step 2: g = (-1 + 0.094, 2 - 0.208) = (-0.906, 1.792);
  //         b = 0.5 b + 0.8 g = (0.3 - 0.7248, 0.4 + 1.4336) = (-0.4248, 1.8336);
  //         p = (0.94 + 0.04248, -2.08 - 0.18336) = (0.98248, -2.26336).
  p.grad() = Tensor<double>::from({2}, {-1.0, 2.0});
  opt.step();
  CHECK(p.value()[0] == Approx(0.98248).epsilon(1e-14));
  CHECK(p.value()[1] == Approx(-2.26336).epsilon(1e-14));
  CHECK(opt.state_dict().at("momentum_buffer.p")[0] == Approx(-0.4248).epsilon(1e-14));
}

TEMPLATE_TEST_CASE("Adam's first step moves each weight by lr against its gradient's sign",
                   "[optim][adam]", float, double) {
  using T = TestType;
  // After one step m_hat = g and v_hat = g^2, so p -= lr * g / (|g| + eps).
  ParamSet<T> set;
  Parameter<T>& p = set.add("p", Tensor<T>::from({3}, {1, 1, 1}));
  Adam<T> opt(set.named(), 0.01);
  p.grad() = Tensor<T>::from({3}, {4, -0.5, 0});
  opt.step();
  CHECK(p.value()[0] == Approx(1 - 0.01 * 4 / (4 + 1e-8)));
  CHECK(p.value()[1] == Approx(1 + 0.01 * 0.5 / (0.5 + 1e-8)));
  CHECK(p.value()[2] == T(1));
}

TEST_CASE("AdamW decays the weights apart from the gradient, by hand", "[optim][adamw]") {
  // With a zero gradient, m = v = 0, so the Adam part adds nothing and only
  // p *= (1 - lr * weight_decay) remains: 2 * (1 - 0.1 * 0.5) = 1.9, then 1.805.
  ParamSet<double> set;
  Parameter<double>& p = set.add("p", Tensor<double>::from({1}, {2.0}));
  AdamW<double> opt(set.named(), 0.1, {.weight_decay = 0.5});
  opt.step();
  CHECK(p.value()[0] == Approx(1.9).epsilon(1e-15));
  opt.step();
  CHECK(p.value()[0] == Approx(1.805).epsilon(1e-15));
  CHECK(opt.decoupled_weight_decay());
  CHECK(opt.name() == "AdamW");
  // Adam with the same weight_decay adds 0.5 p to the gradient instead: its first step moves
  // by lr * sign(g) = 0.1 whatever the decay's size.
  ParamSet<double> set2;
  Parameter<double>& q = set2.add("q", Tensor<double>::from({1}, {2.0}));
  Adam<double> adam(set2.named(), 0.1, {.weight_decay = 0.5});
  adam.step();
  CHECK(q.value()[0] == Approx(1.9).epsilon(1e-7));
  CHECK_FALSE(adam.decoupled_weight_decay());
}

TEST_CASE("Adagrad and RMSprop, two steps by hand", "[optim][adagrad][rmsprop]") {
  SECTION("Adagrad with lr_decay") {
    // s = 0 + 9 = 9; p = 1 - 0.5 * 3 / 3 = 0.5.
    // Step 2: lr_t = 0.5 / (1 + 1 * 1) = 0.25; s = 9 + 16 = 25; p = 0.5 - 0.25 * 4 / 5 = 0.3.
    ParamSet<double> set;
    Parameter<double>& p = set.add("p", Tensor<double>::from({1}, {1.0}));
    Adagrad<double> opt(set.named(), 0.5, {.lr_decay = 1.0, .eps = 0});
    p.grad()[0] = 3;
    opt.step();
    CHECK(p.value()[0] == Approx(0.5).epsilon(1e-15));
    p.grad()[0] = 4;
    opt.step();
    CHECK(p.value()[0] == Approx(0.3).epsilon(1e-15));
  }
  SECTION("RMSprop, alpha 0.5, no eps") {
    // v = 0.5 * 4 = 2; p = 1 - 0.1 * 2 / sqrt(2) = 1 - 0.1 sqrt(2).
    // Step 2 (g = 0): v = 1; p unchanged.
    ParamSet<double> set;
    Parameter<double>& p = set.add("p", Tensor<double>::from({1}, {1.0}));
    RMSprop<double> opt(set.named(), 0.1, {.alpha = 0.5, .eps = 0});
    p.grad()[0] = 2;
    opt.step();
    CHECK(p.value()[0] == Approx(1 - 0.1 * std::sqrt(2.0)).epsilon(1e-15));
    p.grad()[0] = 0;
    opt.step();
    CHECK(p.value()[0] == Approx(1 - 0.1 * std::sqrt(2.0)).epsilon(1e-15));
    CHECK(opt.state_dict().at("square_avg.p")[0] == Approx(1.0));
  }
}

// ---- The base: parameters, lr, state ----

TEMPLATE_TEST_CASE("step() leaves frozen parameters and their state alone", "[optim]", float,
                   double) {
  using T = TestType;
  ParamSet<T> set;
  Parameter<T>& live = set.add("live", Tensor<T>::from({2}, {1, 1}));
  Parameter<T>& frozen = set.add("frozen", Tensor<T>::from({2}, {1, 1}), false);
  Adam<T> opt(set.named(), 0.1);
  live.grad().fill(T(1));
  frozen.grad().fill(T(1));
  CHECK(opt.step());
  CHECK(live.value()[0] < T(1));
  CHECK(frozen.value()[0] == T(1));
  const StateDict<T> s = opt.state_dict();
  CHECK(s.at("step.live").item() == T(1));
  CHECK(s.at("step.frozen").item() == T(0));
  CHECK(s.at("exp_avg.frozen")[0] == T(0));
  // A frozen parameter's gradient takes no part in the non-finite check either.
  frozen.grad()[0] = std::numeric_limits<T>::quiet_NaN();
  CHECK_NOTHROW(opt.step());
  // zero_grad() clears every gradient, frozen ones too.
  opt.zero_grad();
  CHECK(live.grad()[0] == T(0));
  CHECK(frozen.grad()[0] == T(0));
}

TEST_CASE("the learning rate is readable and settable, and step() uses the new one", "[optim]") {
  ParamSet<double> set;
  Parameter<double>& p = set.add("p", Tensor<double>::from({1}, {0.0}));
  SGD<double> opt(set.named(), 0.5);
  CHECK(opt.lr() == 0.5);
  opt.set_lr(0.25);
  CHECK(opt.lr() == 0.25);
  p.grad()[0] = 1;
  opt.step();
  CHECK(p.value()[0] == -0.25);
  CHECK_THROWS_WITH(opt.set_lr(-1),
                    Catch::Contains("SGD") && Catch::Contains("lr") && Catch::Contains("-1"));
  CHECK_THROWS_AS(opt.set_lr(std::nan("")), ValueError);
  CHECK(opt.lr() == 0.25);
}

TEST_CASE("state_dict round trip: a restored optimizer continues exactly", "[optim][state]") {
  const json& ref = rwd::test::optim_reference();
  auto run = [&](Optimizer<double>& opt, ParamSet<double>& set, size_t from, size_t to) {
    for (size_t s = from; s < to; ++s) {
      rwd::test::set_grads(set, kNames, ref["grads"][s]);
      opt.step();
    }
  };
  // One optimizer runs six steps straight; a second runs three, its state and weights are
  // saved and loaded into a third, fresh one, which runs the last three.
  ParamSet<double> a;
  rwd::test::add_reference_params(a);
  Adam<double> straight(a.named(), 0.01, {.amsgrad = true});
  run(straight, a, 0, 6);

  ParamSet<double> b;
  rwd::test::add_reference_params(b);
  Adam<double> first(b.named(), 0.01, {.amsgrad = true});
  run(first, b, 0, 3);
  const StateDict<double> saved = first.state_dict();
  CHECK(saved.size() == 8);  // exp_avg, exp_avg_sq, max_exp_avg_sq, step for w and b
  CHECK(saved.at("step.w").shape() == Shape{});
  CHECK(saved.at("exp_avg_sq.w").shape() == Shape{2, 3});

  ParamSet<double> c;
  c.add("w", b[0].value());
  c.add("b", b[1].value());
  Adam<double> resumed(c.named(), 0.01, {.amsgrad = true});
  resumed.load_state_dict(saved);
  CHECK(resumed.state_dict().at("step.b").item() == 3.0);
  run(resumed, c, 3, 6);
  for (size_t i = 0; i < 2; ++i) CHECK(max_abs_diff(c[i].value(), a[i].value()) == 0.0);
}

TEST_CASE("load_state_dict checks every key first and changes nothing on error",
          "[optim][state][errors]") {
  ParamSet<double> set;
  Parameter<double>& w = set.add("enc.weight", Tensor<double>::from({2}, {1, 2}));
  set.add("enc.bias", Tensor<double>::from({1}, {0}));
  SGD<double> opt(set.named(), 0.1, {.momentum = 0.9});
  w.grad().fill(1);
  opt.step();
  const StateDict<double> before = opt.state_dict();
  REQUIRE(before.size() == 4);
  auto unchanged = [&] {
    const StateDict<double> now = opt.state_dict();
    for (const auto& [k, t] : before) CHECK(max_abs_diff(now.at(k), t) == 0.0);
  };
  StateDict<double> good = before;
  good.at("momentum_buffer.enc.weight").fill(7);  // a valid change, to see it is not applied

  SECTION("a missing key") {
    StateDict<double> s = good;
    s.erase("momentum_buffer.enc.bias");
    CHECK_THROWS_AS(opt.load_state_dict(s), ValueError);
    CHECK_THROWS_WITH(opt.load_state_dict(s),
                      Catch::Contains("SGD.load_state_dict") &&
                          Catch::Contains("missing key 'momentum_buffer.enc.bias'") &&
                          Catch::Contains("1 of the 4"));
  }
  SECTION("an unexpected key") {
    StateDict<double> s = good;
    s.emplace("exp_avg.enc.weight", Tensor<double>::zeros({2}));
    CHECK_THROWS_AS(opt.load_state_dict(s), ValueError);
    CHECK_THROWS_WITH(opt.load_state_dict(s),
                      Catch::Contains("unexpected key 'exp_avg.enc.weight'"));
  }
  SECTION("a buffer of the wrong shape") {
    StateDict<double> s = good;
    s.at("momentum_buffer.enc.bias") = Tensor<double>::zeros({3});
    CHECK_THROWS_AS(opt.load_state_dict(s), ShapeError);
    CHECK_THROWS_WITH(opt.load_state_dict(s),
                      Catch::Contains("'momentum_buffer.enc.bias' has shape [3]") &&
                          Catch::Contains("parameter 'enc.bias' needs [1]"));
  }
  SECTION("a step count that is not rank 0, or has no storage") {
    StateDict<double> s = good;
    s.at("step.enc.bias") = Tensor<double>::zeros({1});
    CHECK_THROWS_WITH(opt.load_state_dict(s), Catch::Contains("'step.enc.bias' has shape [1]") &&
                                                  Catch::Contains("a step count needs []"));
    s.at("step.enc.bias") = Tensor<double>();
    CHECK_THROWS_AS(opt.load_state_dict(s), ShapeError);
    CHECK_THROWS_WITH(opt.load_state_dict(s), Catch::Contains("no storage"));
  }
  SECTION("a step count that is not a whole number >= 0") {
    for (double bad : {-1.0, 2.5, std::nan(""), 1e300}) {
      StateDict<double> s = good;
      s.at("step.enc.weight") = Tensor<double>::full(Shape{}, bad);
      CHECK_THROWS_AS(opt.load_state_dict(s), ValueError);
      CHECK_THROWS_WITH(opt.load_state_dict(s), Catch::Contains("'step.enc.weight'") &&
                                                    Catch::Contains("not a step count"));
    }
  }
  unchanged();
  // And the valid dict does load.
  opt.load_state_dict(good);
  CHECK(opt.state_dict().at("momentum_buffer.enc.weight")[0] == 7.0);
}

TEST_CASE("optimizer construction errors name the optimizer and the value", "[optim][errors]") {
  ParamSet<double> set;
  set.add("a", Tensor<double>::zeros({2}));
  set.add("b", Tensor<double>::zeros({2}));
  auto ps = set.named();

  // The parameter list.
  CHECK_THROWS_WITH(SGD<double>({}, 0.1), Catch::Contains("SGD: empty parameter list"));
  CHECK_THROWS_WITH(SGD<double>({{"x", nullptr}}, 0.1),
                    Catch::Contains("parameter 'x' is a null pointer"));
  CHECK_THROWS_WITH(Adam<double>({ps[0], {"a", ps[1].param}}, 0.1),
                    Catch::Contains("Adam: two parameters are named 'a'"));
  CHECK_THROWS_WITH(Adam<double>({ps[0], {"again", ps[0].param}}, 0.1),
                    Catch::Contains("parameter 'again' is the same Parameter as 'a'"));
  CHECK_THROWS_WITH(RMSprop<double>(ps, -0.1), Catch::Contains("RMSprop: lr must be"));
  CHECK_THROWS_WITH(Adagrad<double>(ps, 0.1, {}, {.max_norm = -1.0}),
                    Catch::Contains("Adagrad: max_norm must be >= 0, got -1"));

  struct Case {
    const char* message;
    std::function<void()> make;
  };
  const std::vector<Case> cases = {
      {"SGD: momentum must be finite and >= 0, got -0.5",
       [&] { SGD<double>(ps, 0.1, {.momentum = -0.5}); }},
      {"SGD: dampening must be in [0, 1], got 1.5",
       [&] { SGD<double>(ps, 0.1, {.momentum = 0.9, .dampening = 1.5}); }},
      {"SGD: weight_decay must be finite and >= 0, got -1",
       [&] { SGD<double>(ps, 0.1, {.weight_decay = -1}); }},
      {"SGD: momentum (with nesterov) must be > 0, got 0",
       [&] { SGD<double>(ps, 0.1, {.nesterov = true}); }},
      {"SGD: dampening (with nesterov) must be 0, got 0.1",
       [&] { SGD<double>(ps, 0.1, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); }},
      {"Adam: beta1 must be in [0, 1), got 1", [&] { Adam<double>(ps, 0.1, {.beta1 = 1}); }},
      {"Adam: beta2 must be in [0, 1), got -0.1", [&] { Adam<double>(ps, 0.1, {.beta2 = -0.1}); }},
      {"Adam: eps must be finite and >= 0, got -1", [&] { Adam<double>(ps, 0.1, {.eps = -1}); }},
      {"AdamW: weight_decay must be finite and >= 0, got -0.01",
       [&] { AdamW<double>(ps, 0.1, {.weight_decay = -0.01}); }},
      {"RMSprop: alpha must be in [0, 1], got 2", [&] { RMSprop<double>(ps, 0.1, {.alpha = 2}); }},
      {"RMSprop: eps must be finite and >= 0, got -1",
       [&] { RMSprop<double>(ps, 0.1, {.eps = -1}); }},
      {"RMSprop: weight_decay must be finite and >= 0, got -1",
       [&] { RMSprop<double>(ps, 0.1, {.weight_decay = -1}); }},
      {"RMSprop: momentum must be finite and >= 0, got -1",
       [&] { RMSprop<double>(ps, 0.1, {.momentum = -1}); }},
      {"Adagrad: lr_decay must be finite and >= 0, got -1",
       [&] { Adagrad<double>(ps, 0.1, {.lr_decay = -1}); }},
      {"Adagrad: weight_decay must be finite and >= 0, got -1",
       [&] { Adagrad<double>(ps, 0.1, {.weight_decay = -1}); }},
      {"Adagrad: initial_accumulator_value must be finite and >= 0, got -1",
       [&] { Adagrad<double>(ps, 0.1, {.initial_accumulator_value = -1}); }},
      {"Adagrad: eps must be finite and >= 0, got -1",
       [&] { Adagrad<double>(ps, 0.1, {.eps = -1}); }},
  };
  for (const Case& c : cases) {
    INFO(c.message);
    CHECK_THROWS_AS(c.make(), ValueError);
    CHECK_THROWS_WITH(c.make(), Catch::Contains(c.message));
  }
}
