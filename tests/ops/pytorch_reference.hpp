// PyTorch's results for ops, read from tests/data/ops/*.safetensors (written by
// tests/data/make_ops_reference.py), and one check that runs a case against them.
#pragma once

#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

namespace rwd::test {

/// One reference file: its cases, their tensors and their arguments.
class PytorchReference {
 public:
  explicit PytorchReference(const std::string& file)
      : path_(std::string(REWIND_TEST_DATA_DIR) + "/ops/" + file),
        tensors_(load_safetensors<double>(path_, &meta_)) {}

  /// The names of the cases that start with `prefix` ("var.", "ce."), in file order.
  [[nodiscard]] std::vector<std::string> cases(const std::string& prefix) const {
    std::vector<std::string> out;
    std::stringstream all(meta_.at("cases"));
    for (std::string name; std::getline(all, name, ',');)
      if (name.rfind(prefix, 0) == 0) out.push_back(name);
    return out;
  }
  [[nodiscard]] bool has(const std::string& c, const std::string& name) const {
    return tensors_.count(c + "." + name) == 1;
  }
  [[nodiscard]] const Tensor<double>& tensor(const std::string& name) const {
    INFO("tensor " << name << " of " << path_);
    REQUIRE(tensors_.count(name) == 1);
    return tensors_.at(name);
  }
  /// Case c's input, output or data tensor `name`.
  [[nodiscard]] const Tensor<double>& at(const std::string& c, const std::string& name) const {
    return tensor(c + "." + name);
  }
  /// Case c's integer tensor `name` (indices, targets), stored as float64.
  [[nodiscard]] Indices indices(const std::string& c, const std::string& name) const {
    const Tensor<double>& t = at(c, name);
    std::vector<int64_t> values(size_t(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) values[size_t(i)] = int64_t(t[i]);
    return {t.shape(), std::move(values)};
  }
  [[nodiscard]] std::vector<double> doubles(const std::string& c, const std::string& name) const {
    const Tensor<double>& t = at(c, name);
    return {t.data(), t.data() + t.numel()};
  }
  /// Case c's argument `name`, as written in the metadata.
  [[nodiscard]] const std::string& arg(const std::string& c, const std::string& name) const {
    return meta_.at(c + "." + name);
  }
  [[nodiscard]] int int_arg(const std::string& c, const std::string& name) const {
    return std::stoi(arg(c, name));
  }
  [[nodiscard]] double double_arg(const std::string& c, const std::string& name) const {
    return std::stod(arg(c, name));
  }

  /// Runs case c: `f` builds y from the case's `inputs` (leaves needing a gradient, in that
  /// order); y and the gradients of sum(y * w_out) must equal PyTorch's within `tolerance`.
  void check(const std::string& c, const std::vector<std::string>& inputs,
             const std::function<Var<double>(std::span<const Var<double>>)>& f,
             double tolerance = 1e-12) const {
    INFO("case " << c);
    Graph<double> g;
    std::vector<Var<double>> xs;
    for (const std::string& name : inputs) xs.push_back(g.input(at(c, name), true));
    const Var<double> y = f(xs);
    g.backward(sum(y * g.constant(at(c, "w_out"))));
    require_close("y", y.value(), at(c, "y"), tolerance);
    for (size_t k = 0; k < inputs.size(); ++k)
      require_close("grad " + inputs[k], xs[k].grad(), tensor("grad." + c + "." + inputs[k]),
                    tolerance);
  }

  static void require_close(const std::string& what, TensorView<const double> got,
                            const Tensor<double>& want, double tolerance) {
    INFO(what << ": got shape " << got.shape().str() << ", want " << want.shape().str());
    REQUIRE(got.shape() == want.shape());
    const double diff = max_abs_diff(got, want.view());
    INFO(what << ": max abs diff " << diff);
    CHECK(diff < tolerance);
  }

 private:
  std::string path_;
  std::map<std::string, std::string> meta_;
  std::map<std::string, Tensor<double>> tensors_;
};

}  // namespace rwd::test
