// gradcheck: one backward for the analytic gradient, two forwards per element for the
// numeric one, f(x + eps) and f(x - eps), compared element by element.
#include "rewind/core/gradcheck.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace rwd {
namespace {

std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(size_t(shape.rank()));
  for (int d = shape.rank() - 1; d >= 0; --d) {
    idx[size_t(d)] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return idx;
}

class Evaluator {
 public:
  Evaluator(const GradcheckFn& f, std::vector<Tensor<double>>& inputs, uint64_t seed)
      : f_(f), inputs_(inputs), seed_(seed) {}

  // Records f on a fresh round of the graph; returns the output.
  Var<double> record() {
    g_.clear();
    vars_.clear();
    for (const Tensor<double>& t : inputs_) vars_.push_back(g_.input(t, true));
    Var<double> out = f_(g_, vars_);
    g_.check(out, "gradcheck");
    if (weights_.empty()) {
      Generator gen(seed_);
      // A one-element output is the loss itself (weight 1); larger ones get random weights.
      weights_ = out.numel() == 1 ? Tensor<double>::ones(out.shape())
                                  : Tensor<double>::uniform(out.shape(), 0.5, 1.5, gen);
    } else if (!(weights_.shape() == out.shape())) {
      throw ShapeError(
          fmt::format("gradcheck: the function's output changed shape between calls ({} then {})",
                      weights_.shape().str(), out.shape().str()));
    }
    return out;
  }

  // sum(out * w), in the same order every time.
  double value() {
    Var<double> out = record();
    double total = 0;
    for (int64_t i = 0; i < out.numel(); ++i) total += out.data()[i] * weights_[i];
    return total;
  }

  Graph<double>& graph() { return g_; }
  [[nodiscard]] std::span<const Var<double>> vars() const { return vars_; }
  [[nodiscard]] const Tensor<double>& weights() const { return weights_; }

 private:
  const GradcheckFn& f_;
  std::vector<Tensor<double>>& inputs_;
  uint64_t seed_;
  Graph<double> g_;
  std::vector<Var<double>> vars_;
  Tensor<double> weights_;
};

struct Compare {
  const GradcheckOptions& opt;
  GradcheckReport& report;
  double worst_score = -1;

  void element(const std::string& where, const Shape& shape, int64_t flat, double analytic,
               double numeric) {
    const double abs_err = std::abs(analytic - numeric);
    const double scale = std::max(std::abs(analytic), std::abs(numeric));
    const double rel_err = scale > 0 ? abs_err / scale : 0.0;
    // How far outside the tolerance: <= 1 passes. Non-finite values always fail.
    double score = std::min(abs_err / opt.atol, rel_err / opt.rtol);
    if (!std::isfinite(analytic) || !std::isfinite(numeric))
      score = std::numeric_limits<double>::infinity();
    ++report.elements_checked;
    if (score > 1.0) report.passed = false;
    if (score > worst_score) {
      worst_score = score;
      report.where = where;
      report.index = unravel(flat, shape);
      report.analytic = analytic;
      report.numeric = numeric;
      report.abs_error = abs_err;
      report.rel_error = rel_err;
    }
  }
};

}  // namespace

std::string GradcheckReport::summary() const {
  return fmt::format(
      "gradcheck {} over {} elements (ops: {}); worst: {} at [{}]: analytic {:.12g}, numeric "
      "{:.12g}, abs error {:.3g}, rel error {:.3g}",
      passed ? "PASSED" : "FAILED", elements_checked, fmt::join(ops, ", "), where,
      fmt::join(index, ", "), analytic, numeric, abs_error, rel_error);
}

GradcheckReport gradcheck(const GradcheckFn& f, std::span<const Tensor<double>> inputs,
                          std::span<const NamedParameter<double>> params,
                          const GradcheckOptions& options) {
  GradcheckReport report;
  std::vector<Tensor<double>> xs(inputs.begin(), inputs.end());
  Evaluator eval(f, xs, options.seed);

  // Parameter gradients are the caller's: save them, work from zero, restore at the end
  // (also when f throws).
  struct RestoreGrads {
    std::span<const NamedParameter<double>> params;
    std::vector<Tensor<double>> saved;
    ~RestoreGrads() {
      for (size_t k = 0; k < saved.size(); ++k) params[k].param->grad() = std::move(saved[k]);
    }
  } restore_grads{params, {}};
  for (const auto& p : params) {
    restore_grads.saved.push_back(p.param->grad());
    p.param->zero_grad();
  }

  // Analytic gradients.
  Var<double> out = eval.record();
  for (size_t id = 0; id < eval.graph().size(); ++id) {
    const std::string name = eval.graph().node(NodeId(id)).op->name;
    if (name != "input" && name != "param" &&
        std::find(report.ops.begin(), report.ops.end(), name) == report.ops.end())
      report.ops.push_back(name);
  }
  // In anomaly mode, so that an op breaking Note [Gradient accumulation] (adding into a
  // buffer it was handed for writing) fails the check, naming the op.
  eval.graph().set_anomaly_detection(options.check_accumulation);
  eval.graph().backward(out, eval.weights().view());
  eval.graph().set_anomaly_detection(false);
  std::vector<Tensor<double>> analytic_inputs;
  for (const Var<double>& v : eval.vars())
    analytic_inputs.push_back(v.has_grad() ? Tensor<double>(v.grad()) : Tensor<double>(v.shape()));
  std::vector<Tensor<double>> analytic_params;
  for (const auto& p : params) analytic_params.push_back(p.param->grad());

  // Numeric gradients, element by element.
  Compare cmp{options, report};
  const double eps = options.eps;
  auto central = [&](double& slot) {
    const double original = slot;
    struct Restore {  // puts the element back even when f throws
      double& slot;
      double value;
      ~Restore() { slot = value; }
    } restore{slot, original};
    slot = original + eps;
    const double up = eval.value();
    slot = original - eps;
    const double down = eval.value();
    return (up - down) / (2 * eps);
  };
  for (size_t k = 0; k < xs.size(); ++k) {
    const std::string where = fmt::format("input {}", k);
    for (int64_t i = 0; i < xs[k].numel(); ++i)
      cmp.element(where, xs[k].shape(), i, analytic_inputs[k][i], central(xs[k][i]));
  }
  for (size_t k = 0; k < params.size(); ++k) {
    const std::string where = fmt::format("parameter '{}'", params[k].name);
    Tensor<double>& value = params[k].param->value();
    for (int64_t i = 0; i < value.numel(); ++i)
      cmp.element(where, value.shape(), i, analytic_params[k][i], central(value[i]));
  }

  return report;
}

}  // namespace rwd
