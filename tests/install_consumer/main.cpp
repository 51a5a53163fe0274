// Uses the installed umbrella header and library: one gradient, checked against its formula,
// and the version macros checked against the package version and the installed library.
#include <cmath>
#include <cstdio>
#include <string_view>

#include <rewind/rewind.hpp>

int main() {
  rwd::Graph<double> g;
  auto x = g.input(rwd::Tensor<double>::from({2}, {0.5, -1.0}), true);
  g.backward(rwd::sum(rwd::tanh(x)));
  const double expected = 1 - std::tanh(0.5) * std::tanh(0.5);
  const bool grad_ok = std::abs(x.grad()[0] - expected) < 1e-12;
  const bool version_ok = std::string_view(REWIND_VERSION_STRING) == CONSUMER_PACKAGE_VERSION &&
                          rwd::library_version() == REWIND_VERSION_STRING;
  const bool ok = grad_ok && version_ok;
  std::printf("consumer: kernels %s\n", rwd::isa_name(rwd::active_isa()));
  std::printf("consumer: rewind %s (package %s, library %.*s), d tanh(0.5) = %.12f (%s)\n",
              REWIND_VERSION_STRING, CONSUMER_PACKAGE_VERSION, int(rwd::library_version().size()),
              rwd::library_version().data(), x.grad()[0], ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
