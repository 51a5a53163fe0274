// A small model trained with the engine: a two-layer network learns to tell apart two
// interleaved spirals, with plain gradient descent written out by hand. Prints the loss
// going down and the final accuracy.
//
//   train_spirals [--steps N] [--hidden H] [--points N] [--lr X] [--seed S]
//
// Exit status 0 when the loss dropped at least fourfold; 2 on a bad option or an error.
#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <numbers>
#include <vector>

#include <rewind/rewind.hpp>

#include "cli.hpp"

using namespace rwd;

int main(int argc, char** argv) try {
  examples::Args args(argc, argv,
                      "Two interleaved spirals told apart by a two-layer network, trained with "
                      "gradient descent written out by hand.");
  using examples::at_least;
  const int64_t steps = args.integer("steps", 2000, "gradient-descent steps", at_least(1));
  const int64_t hidden = args.integer("hidden", 64, "hidden units", at_least(1));
  const int64_t per_class = args.integer("points", 100, "points per spiral", at_least(1));
  const auto learning_rate = float(args.real("lr", 0.5, "learning rate", examples::positive()));
  const auto seed = uint64_t(args.integer("seed", 2026, "random seed", at_least(0)));
  args.done();

  // Data: two spirals, 2-D points, class 0 or 1.
  Generator gen(seed);
  Tensor<float> x({2 * per_class, 2});
  std::vector<int64_t> labels(size_t(2 * per_class));
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < per_class; ++i) {
      const double r = double(i) / double(per_class);
      const double angle = 3.0 * r * std::numbers::pi + double(c) * std::numbers::pi;
      const int64_t row = c * per_class + i;
      x.at({row, 0}) = float(r * std::cos(angle) + 0.02 * gen.normal());
      x.at({row, 1}) = float(r * std::sin(angle) + 0.02 * gen.normal());
      labels[size_t(row)] = c;
    }

  // Parameters, PyTorch Linear layout: weight [out, in], bias [out].
  Parameter<float> w1(Tensor<float>::uniform({hidden, 2}, -4.0, 4.0, gen));
  Parameter<float> b1(Tensor<float>::uniform({hidden}, -2.0, 2.0, gen));
  Parameter<float> w2(Tensor<float>::uniform({2, hidden}, -0.2, 0.2, gen));
  Parameter<float> b2(Tensor<float>::zeros({2}));
  Parameter<float>* params[] = {&w1, &b1, &w2, &b2};

  Graph<float> g;  // one graph, cleared and reused every step
  float first_loss = 0;
  float last_loss = 0;
  for (int64_t step = 0; step <= steps; ++step) {
    g.clear();
    Var<float> h = tanh(linear(g.input(x), g.param(w1), g.param(b1)));
    Var<float> logits = linear(h, g.param(w2), g.param(b2));
    Var<float> loss = cross_entropy(logits, labels);
    g.backward(loss);
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
    for (Parameter<float>* p : params) {  // gradient descent: w -= lr * dw
      for (int64_t i = 0; i < p->numel(); ++i) p->value()[i] -= learning_rate * p->grad()[i];
      p->zero_grad();
    }
    if (step % 250 == 0 || step == steps) {
      int64_t correct = 0;
      for (int64_t row = 0; row < 2 * per_class; ++row) {
        const int64_t guess = logits.value().at({row, 1}) > logits.value().at({row, 0}) ? 1 : 0;
        correct += guess == labels[size_t(row)];
      }
      fmt::print("step {:5d}  loss {:.4f}  accuracy {:5.1f}%\n", step, loss.item(),
                 100.0 * double(correct) / double(2 * per_class));
    }
  }
  // Exit status for the smoke test: the loss must have dropped at least fourfold.
  if (!(last_loss < 0.25f * first_loss)) {
    fmt::print("loss did not go down enough: {:.4f} -> {:.4f}\n", first_loss, last_loss);
    return 1;
  }
  return 0;
} catch (const std::exception& e) {  // e.g. no memory for the sizes asked for
  fmt::print(stderr, "train_spirals: {}\n", e.what());
  return 2;
}
