// Uses the installed umbrella header and library: one gradient, checked against its formula.
#include <cmath>
#include <cstdio>

#include <rewind/rewind.hpp>

int main() {
  rwd::Graph<double> g;
  auto x = g.input(rwd::Tensor<double>::from({2}, {0.5, -1.0}), true);
  g.backward(rwd::sum(rwd::tanh(x)));
  const double expected = 1 - std::tanh(0.5) * std::tanh(0.5);
  const bool ok = std::abs(x.grad()[0] - expected) < 1e-12;
  std::printf("consumer: kernels %s\n", rwd::isa_name(rwd::active_isa()));
  std::printf("consumer: d tanh(0.5) = %.12f (%s)\n", x.grad()[0], ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
