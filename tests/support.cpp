// Test helpers.
#include "support.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace rwd::test {

Tensor<double> randn(Shape shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor<double>::normal(shape, 0.0, 1.0, gen);
}

Tensor<double> uniform(Shape shape, double lo, double hi, uint64_t seed) {
  Generator gen(seed);
  return Tensor<double>::uniform(shape, lo, hi, gen);
}

RecurrentOptions rnn_options(int64_t input, int64_t hidden, int64_t layers, bool bidirectional) {
  RecurrentOptions o;
  o.input_size = input;
  o.hidden_size = hidden;
  o.num_layers = layers;
  o.bidirectional = bidirectional;
  return o;
}

std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("rewind_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::vector<GradCase>& grad_cases() {
  static std::vector<GradCase> cases;
  return cases;
}

GradCaseRegistrar::GradCaseRegistrar(const char* op, const char* name, GradcheckReport (*fn)()) {
  grad_cases().push_back(GradCase{op, name, fn});
}

void require_passed(const GradcheckReport& report, const std::string& op) {
  INFO(report.summary());
  CHECK(report.elements_checked > 0);
  CHECK(std::find(report.ops.begin(), report.ops.end(), op) != report.ops.end());
  REQUIRE(report.passed);
}

GradcheckReport check(std::vector<Tensor<double>> inputs,
                      const std::function<Var<double>(std::span<const Var<double>>)>& f,
                      std::span<const NamedParameter<double>> params) {
  return gradcheck([&](Graph<double>&, std::span<const Var<double>> xs) { return f(xs); }, inputs,
                   params);
}

}  // namespace rwd::test
