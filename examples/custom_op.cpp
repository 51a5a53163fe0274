// Adding an op in user code, with the same interface the built-in ops use: softplus,
// y = log(1 + exp(x)), with dy/dx = sigmoid(x). It is gradient-checked, then used in a model.
// docs/adding-an-op.md walks through this file.
//
//   custom_op [--steps N] [--lr X] [--seed S]
//
// Exit status 0 when the gradient check passes and the fit finds the target (a = 1.5,
// b = -0.5); 2 on a bad option or an error.
#include <fmt/format.h>

#include <cmath>
#include <exception>

#include <rewind/rewind.hpp>

#include "cli.hpp"

namespace {

using rwd::Backward;
using rwd::OpDef;
using rwd::Var;

// Backward: y = softplus(x);  dx += dy * sigmoid(x)
template <rwd::Scalar T>
void softplus_backward(const Backward<T>& b) {
  T* dx = b.dx(0);  // nullptr when x needs no gradient
  if (dx == nullptr) return;
  const T* x = b.x(0);
  const T* dy = b.dy();
  for (int64_t i = 0; i < b.numel(); ++i) dx[i] += dy[i] / (T(1) + std::exp(-x[i]));
}

template <rwd::Scalar T>
const OpDef<T> kSoftplus{"softplus", &softplus_backward<T>};

// Forward: records the node and fills its value. Stable for large |x|:
// softplus(x) = max(x, 0) + log1p(exp(-|x|)).
template <rwd::Scalar T>
Var<T> softplus(Var<T> x) {
  return rwd::record_unary(
      kSoftplus<T>, x, [](T v) { return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); });
}

}  // namespace

int main(int argc, char** argv) try {
  examples::Args args(argc, argv,
                      "A user op, softplus: gradient-checked, then fitted with gradient descent.");
  const int64_t steps =
      args.integer("steps", 300, "gradient-descent steps of the fit", examples::at_least(1));
  const double lr = args.real("lr", 0.5, "learning rate", examples::positive());
  const auto seed =
      uint64_t(args.integer("seed", 1, "random seed (data and check)", examples::at_least(0)));
  args.done();

  // 1. Check the gradient numerically, in double.
  rwd::Generator gen(seed);
  const rwd::Tensor<double> x = rwd::Tensor<double>::normal({3, 4}, 0, 2, gen);
  const rwd::GradcheckReport report = rwd::gradcheck(
      [](rwd::Graph<double>&, std::span<const Var<double>> in) { return softplus(in[0]); },
      {&x, 1});
  fmt::print("{}\n", report.summary());
  if (!report.passed) return 1;

  // 2. Use it in float like any built-in op: fit y = softplus(a * x + b) to a target.
  rwd::Parameter<float> a(rwd::Tensor<float>::from({1}, {0.1f}));
  rwd::Parameter<float> b(rwd::Tensor<float>::from({1}, {0.0f}));
  const rwd::Tensor<float> inputs = rwd::Tensor<float>::uniform({64, 1}, -2, 2, gen);
  rwd::Tensor<float> targets({64, 1});
  for (int64_t i = 0; i < 64; ++i) targets[i] = std::log1p(std::exp(1.5f * inputs[i] - 0.5f));
  rwd::Graph<float> g;
  for (int64_t step = 0; step <= steps; ++step) {
    g.clear();
    auto pred = softplus(g.input(inputs) * g.param(a) + g.param(b));
    auto loss = rwd::mse(pred, g.constant(targets));
    g.backward(loss);
    for (auto* p : {&a, &b}) {
      p->value()[0] -= float(lr) * p->grad()[0];
      p->zero_grad();
    }
    if (step % 100 == 0 || step == steps)
      fmt::print("step {:3d}  loss {:.6f}\n", step, loss.item());
  }
  fmt::print("learned a = {:.3f} (target 1.5), b = {:.3f} (target -0.5)\n", a.value()[0],
             b.value()[0]);
  // Exit status for the smoke test: the fit must have found the target.
  return std::abs(a.value()[0] - 1.5f) < 1e-2f && std::abs(b.value()[0] + 0.5f) < 1e-2f ? 0 : 1;
} catch (const std::exception& e) {  // a message instead of an abort
  fmt::print(stderr, "custom_op: {}\n", e.what());
  return 2;
}
