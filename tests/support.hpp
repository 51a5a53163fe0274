// Shared test helpers: seeded random tensors, and the registry of gradient-check cases that
// lets a test insist every built-in op has one (see test_op_coverage.cpp).
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

namespace rwd::test {

/// Normal(0, 1) values, seeded.
Tensor<double> randn(Shape shape, uint64_t seed);
/// Uniform in [lo, hi), seeded.
Tensor<double> uniform(Shape shape, double lo, double hi, uint64_t seed);

/// Options of a sequence layer with the given sizes (other options at their defaults).
RecurrentOptions rnn_options(int64_t input, int64_t hidden, int64_t layers = 1,
                             bool bidirectional = false);

/// Sets rwd::set_num_threads for one scope and puts one thread back after it, also when the
/// scope throws.
class ScopedThreads {
 public:
  explicit ScopedThreads(int n) { set_num_threads(n); }
  ~ScopedThreads() { set_num_threads(1); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;
};

/// A fresh directory under the system's temporary directory, named for the test and the
/// process ("rewind_<name>_<pid>").
std::string temp_dir(const std::string& name);

/// A registered gradient check: which op it covers, and how to run it.
struct GradCase {
  std::string op;
  std::string name;
  std::function<GradcheckReport()> run;
};
std::vector<GradCase>& grad_cases();

struct GradCaseRegistrar {
  GradCaseRegistrar(const char* op, const char* name, GradcheckReport (*fn)());
};

/// Runs a report through Catch: prints its summary and requires it to pass and to have
/// recorded `op`.
void require_passed(const GradcheckReport& report, const std::string& op);

/// gradcheck over `inputs` for a function of the input Vars.
GradcheckReport check(std::vector<Tensor<double>> inputs,
                      const std::function<Var<double>(std::span<const Var<double>>)>& f,
                      std::span<const NamedParameter<double>> params = {});

}  // namespace rwd::test

#define REWIND_CAT_INNER(a, b) a##b
#define REWIND_CAT(a, b) REWIND_CAT_INNER(a, b)

/// Defines a gradient check of built-in op `op` (a string literal): a Catch test case tagged
/// [grad] that runs it, and an entry in the registry the coverage test reads. The body
/// returns a GradcheckReport.
#define GRAD_CASE(op, name) GRAD_CASE_IMPL(op, name, REWIND_CAT(grad_case_fn_, __LINE__))
#define GRAD_CASE_IMPL(op, name, fn)                                                     \
  static ::rwd::GradcheckReport fn();                                                    \
  static const ::rwd::test::GradCaseRegistrar REWIND_CAT(fn, _registrar){op, name, &fn}; \
  TEST_CASE("gradcheck " op ": " name, "[grad][" op "]") {                               \
    ::rwd::test::require_passed(fn(), op);                                               \
  }                                                                                      \
  static ::rwd::GradcheckReport fn()
