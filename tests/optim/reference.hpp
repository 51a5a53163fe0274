// Helpers for the optimizer tests: the PyTorch reference data (tests/data/optim_reference.json,
// written by tests/data/make_optim_reference.py) and a small owner of named parameters.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <deque>
#include <string>
#include <vector>

#include "support.hpp"

namespace rwd::test {

/// The parsed reference file (read once).
const nlohmann::json& optim_reference();

/// A number from the reference file, where "nan", "inf" and "-inf" stand for themselves.
double ref_number(const nlohmann::json& j);

/// Whether `got` matches the reference value `want`: both NaN, equal infinities, or within
/// tol * max(1, |want|).
bool matches(double got, const nlohmann::json& want, double tol);

/// Parameters owned by the test, handed to optimizers as NamedParameters.
template <Scalar T>
class ParamSet {
 public:
  Parameter<T>& add(std::string name, Tensor<T> value, bool requires_grad = true) {
    names_.push_back(std::move(name));
    params_.emplace_back(std::move(value), requires_grad);
    return params_.back();
  }
  [[nodiscard]] std::vector<NamedParameter<T>> named() {
    std::vector<NamedParameter<T>> out;
    for (size_t i = 0; i < params_.size(); ++i) out.push_back({names_[i], &params_[i]});
    return out;
  }
  Parameter<T>& operator[](size_t i) { return params_[i]; }
  [[nodiscard]] size_t size() const { return params_.size(); }

 private:
  std::deque<std::string> names_;
  std::deque<Parameter<T>> params_;  // a deque never moves its elements
};

/// A tensor of `shape` filled from the reference's flat list of numbers.
template <Scalar T>
Tensor<T> ref_tensor(const Shape& shape, const nlohmann::json& values) {
  Tensor<T> t(shape);
  REQUIRE(int64_t(values.size()) == t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = T(ref_number(values[size_t(i)]));
  return t;
}

/// The reference's parameter shape by name ("w" or "b").
Shape ref_shape(const std::string& name);

/// The reference's parameters "w" and "b" at their initial values.
template <Scalar T>
void add_reference_params(ParamSet<T>& set) {
  for (const char* name : {"w", "b"})
    set.add(name, ref_tensor<T>(ref_shape(name), optim_reference()["params"][name]));
}

/// Sets each parameter's gradient from a reference map name -> values.
template <Scalar T>
void set_grads(ParamSet<T>& set, const std::vector<std::string>& names,
               const nlohmann::json& grads) {
  for (size_t i = 0; i < names.size(); ++i)
    set[i].grad() = ref_tensor<T>(set[i].shape(), grads[names[i]]);
}

}  // namespace rwd::test
