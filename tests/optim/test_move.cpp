// Moving models and optimizers (Note [Tracking moves], docs/optim.md): an optimizer follows
// its parameters when the model moves, optimizers and schedules move themselves, and a
// parameter that is gone is an error naming it instead of a write through a dangling pointer.
#include <filesystem>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support.hpp"

using namespace rwd;

static_assert(std::is_nothrow_move_constructible_v<Parameter<float>>);
static_assert(std::is_nothrow_move_constructible_v<Linear<double>>);
static_assert(std::is_nothrow_move_constructible_v<LSTM<float>>);
static_assert(std::is_nothrow_move_constructible_v<SGD<double>>);
static_assert(std::is_nothrow_move_assignable_v<Adam<double>>);
static_assert(std::is_nothrow_move_constructible_v<AdamW<float>>);
static_assert(std::is_nothrow_move_constructible_v<RMSprop<float>>);
static_assert(std::is_nothrow_move_constructible_v<Adagrad<double>>);
static_assert(std::is_nothrow_move_constructible_v<StepLR<double>>);
static_assert(!std::is_copy_constructible_v<Adam<double>>);
// Through the base, a move would slice: only the concrete types move.
static_assert(!std::is_move_constructible_v<Optimizer<double>>);
static_assert(!std::is_move_assignable_v<Optimizer<double>>);

namespace {

// Linear(3 -> 2) on a fixed batch with a fixed target; returns the loss.
double train_step(Linear<double>& model, Optimizer<double>& opt) {
  Graph<double> g;
  const Var<double> x = g.input(test::randn({4, 3}, 21));
  const Var<double> target = g.input(test::randn({4, 2}, 22));
  const Var<double> loss = mse(model.forward(x), target);
  g.backward(loss);
  opt.step();
  opt.zero_grad();
  return loss.item();
}

Linear<double> make_model() {
  Generator gen(3);
  return Linear<double>(3, 2, gen);
}

// True when both models hold bit-identical weights.
bool same_weights(Linear<double>& a, Linear<double>& b) {
  const auto sa = a.state_dict();
  const auto sb = b.state_dict();
  for (const auto& [name, t] : sa)
    if (max_abs_diff(t.view(), sb.at(name).view()) != 0.0) return false;
  return true;
}

}  // namespace

TEST_CASE("a model moved under a live optimizer keeps training", "[optim][move]") {
  // Reference: four steps without any move.
  Linear<double> reference = make_model();
  Adam<double> reference_opt(reference.named_parameters(), 0.1);
  for (int s = 0; s < 4; ++s) train_step(reference, reference_opt);

  Linear<double> model = make_model();
  Adam<double> opt(model.named_parameters(), 0.1);
  train_step(model, opt);
  train_step(model, opt);

  SECTION("move-constructed into a new variable") {
    Linear<double> moved = std::move(model);
    CHECK(opt.parameters()[0].param == &moved.weight());
    train_step(moved, opt);
    train_step(moved, opt);
    CHECK(same_weights(moved, reference));
  }
  SECTION("moved into a vector that then reallocates") {
    std::vector<Linear<double>> models;
    models.push_back(std::move(model));
    for (int i = 0; i < 8; ++i) models.push_back(make_model());  // reallocates several times
    train_step(models[0], opt);
    train_step(models[0], opt);
    CHECK(same_weights(models[0], reference));
    // The models added later were not trained.
    Linear<double> fresh = make_model();
    CHECK(same_weights(models[1], fresh));
  }
  SECTION("move-assigned onto another model") {
    Linear<double> other = make_model();
    other = std::move(model);
    train_step(other, opt);
    train_step(other, opt);
    CHECK(same_weights(other, reference));
  }
}

TEST_CASE("a moved optimizer carries its state, and its schedule follows it", "[optim][move]") {
  Linear<double> reference = make_model();
  Adam<double> reference_opt(reference.named_parameters(), 0.1);
  StepLR<double> reference_sched(reference_opt, 1, 0.5);
  for (int s = 0; s < 4; ++s) {
    train_step(reference, reference_opt);
    reference_sched.step();
  }

  Linear<double> model = make_model();
  Adam<double> opt(model.named_parameters(), 0.1);
  StepLR<double> sched(opt, 1, 0.5);
  for (int s = 0; s < 2; ++s) {
    train_step(model, opt);
    sched.step();
  }
  std::vector<Adam<double>> opts;
  opts.push_back(std::move(opt));
  StepLR<double> moved_sched = std::move(sched);
  CHECK(&moved_sched.optimizer() == &opts[0]);
  for (int s = 0; s < 2; ++s) {
    train_step(model, opts[0]);
    moved_sched.step();
  }
  CHECK(same_weights(model, reference));
  CHECK(opts[0].lr() == reference_opt.lr());
  CHECK(opts[0].steps_taken() == 4);
  CHECK(opts[0].state_dict().at("step.weight").item() == 4.0);

  // The moved-from optimizer and schedule refuse to work, with a clear message.
  CHECK_THROWS_AS(opt.step(), ValueError);
  CHECK_THROWS_WITH(opt.zero_grad(), Catch::Contains("moved from"));
  CHECK_THROWS_WITH(sched.step(), Catch::Contains("moved from"));

  // Move-assignment between optimizers of one type.
  Linear<double> second = make_model();
  Adam<double> assigned(second.named_parameters(), 0.5);
  assigned = std::move(opts[0]);
  CHECK(assigned.steps_taken() == 4);
  CHECK(assigned.parameters()[0].param == &model.weight());
  CHECK(&moved_sched.optimizer() == &assigned);

  // A checkpoint through the moved optimizer restores into a fresh one.
  const std::string dir = test::temp_dir("optim_move");
  save_checkpoint(dir + "/m.safetensors", model, &assigned);
  Linear<double> restored = make_model();
  Adam<double> restored_opt(restored.named_parameters(), 0.5);
  load_checkpoint(dir + "/m.safetensors", restored, &restored_opt);
  CHECK(restored_opt.state_dict().at("step.weight").item() == 4.0);
  CHECK(same_weights(restored, model));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a parameter that is gone is an error naming it, not a dangling write",
          "[optim][move][errors]") {
  SECTION("the model was destroyed") {
    auto model = std::make_unique<Linear<double>>(make_model());
    SGD<double> opt(model->named_parameters(), 0.1);
    model.reset();
    CHECK_THROWS_AS(opt.step(), ValueError);
    CHECK_THROWS_WITH(opt.step(), Catch::Contains("SGD") && Catch::Contains("'weight'") &&
                                      Catch::Contains("no longer exists"));
    CHECK_THROWS_AS(opt.zero_grad(), ValueError);
    CHECK_THROWS_AS(opt.parameters(), ValueError);
  }
  SECTION("another model was move-assigned over it") {
    Linear<double> model = make_model();
    SGD<double> opt(model.named_parameters(), 0.1);
    Linear<double> other = make_model();
    model = std::move(other);  // model's old parameters are gone; other's are now in model
    CHECK_THROWS_WITH(opt.step(), Catch::Contains("no longer exists"));
  }
  SECTION("a parameter was assigned a value of another shape") {
    Linear<double> model = make_model();
    SGD<double> opt(model.named_parameters(), 0.1);
    const Parameter<double> wide(Tensor<double>::zeros({5, 3}));
    model.weight() = wide;  // a copy-assignment: still the optimizer's parameter
    CHECK_THROWS_AS(opt.step(), ShapeError);
    CHECK_THROWS_WITH(opt.step(), Catch::Contains("'weight'") && Catch::Contains("[5, 3]") &&
                                      Catch::Contains("[2, 3]"));
  }
  SECTION("the optimizer of a schedule was destroyed") {
    Linear<double> model = make_model();
    auto opt = std::make_unique<SGD<double>>(model.named_parameters(), 0.1);
    ExponentialLR<double> sched(*opt, 0.9);
    opt.reset();
    CHECK_THROWS_WITH(sched.step(), Catch::Contains("ExponentialLR") &&
                                        Catch::Contains("optimizer no longer exists"));
    CHECK(sched.last_step() == 0);
  }
}

TEST_CASE("a copy of a model is a new model: the optimizer stays with the original",
          "[optim][move]") {
  Linear<double> model = make_model();
  SGD<double> opt(model.named_parameters(), 0.1);
  Linear<double> copy = model;
  train_step(model, opt);
  Linear<double> untouched = make_model();
  CHECK(same_weights(copy, untouched));
  CHECK_FALSE(same_weights(model, untouched));
  // Copy-assigning values onto the trained model keeps it the optimizer's.
  model = copy;
  train_step(model, opt);
  CHECK_FALSE(same_weights(model, copy));
}
