// Numerical gradient checking: compares the gradients backward() computes with central
// differences, in double, over every element of every input and parameter of a function.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "rewind/core/graph.hpp"
#include "rewind/core/parameter.hpp"

namespace rwd {

struct GradcheckOptions {
  double eps = 1e-6;     // step of the central difference
  double rtol = 1e-6;    // an element passes when rel error <= rtol ...
  double atol = 1e-8;    // ... or abs error <= atol
  uint64_t seed = 1234;  // weights that turn a non-scalar output into a scalar
  /// Run the analytic backward in anomaly mode, which also catches an op that adds into a
  /// gradient buffer it was handed for writing (Note [Gradient accumulation]).
  bool check_accumulation = true;
};

struct GradcheckReport {
  bool passed = true;
  int64_t elements_checked = 0;
  /// The worst element, by how far it is outside the tolerance.
  std::string where;           // "input 1" or "parameter 'weight_ih_l0'"
  std::vector<int64_t> index;  // its multi-index
  double analytic = 0.0;
  double numeric = 0.0;
  double abs_error = 0.0;
  double rel_error = 0.0;
  /// Distinct op names the function recorded (leaves excluded), in first-use order.
  std::vector<std::string> ops;

  /// One line: PASSED or FAILED, and the worst element with both values and errors.
  [[nodiscard]] std::string summary() const;
};

/// The function under test: builds a value on `g` from `inputs` (one Var per input tensor,
/// in order, each requiring a gradient) and any parameters it uses. A non-scalar result is
/// reduced to sum(result * w) with fixed random weights w, so every element counts.
/// It must be deterministic (re-seed any Generator inside it).
using GradcheckFn =
    std::function<Var<double>(Graph<double>& g, std::span<const Var<double>> inputs)>;

/// Checks d(f)/d(input) for every input element and d(f)/d(param) for every element of the
/// given parameters (their gradients are restored afterwards).
GradcheckReport gradcheck(const GradcheckFn& f, std::span<const Tensor<double>> inputs,
                          std::span<const NamedParameter<double>> params = {},
                          const GradcheckOptions& options = {});

}  // namespace rwd
