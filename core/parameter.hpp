// Parameter: a trainable tensor that lives outside any graph, with its gradient beside it.
// A graph's param node points at this storage (no copy) and backward adds into grad(), so
// gradients accumulate across backward calls until zero_grad(). Optimizers follow a parameter
// through moves (Note [Tracking moves] in core/trackable.hpp), so a model can move while an
// optimizer trains it.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>

#include "rewind/core/error.hpp"
#include "rewind/core/tensor.hpp"
#include "rewind/core/trackable.hpp"

namespace rwd {

template <Scalar T>
class Graph;

template <Scalar T>
class Parameter : public Trackable<Parameter<T>> {
 public:
  Parameter() = default;
  explicit Parameter(Tensor<T> value, bool requires_grad = true)
      : value_(std::move(value)), grad_(value_.shape()), requires_grad_(requires_grad) {}

  [[nodiscard]] const Shape& shape() const { return value_.shape(); }
  [[nodiscard]] int64_t numel() const { return value_.numel(); }

  /// The values. Writing elements is fine (optimizers do); to change the shape use assign().
  [[nodiscard]] Tensor<T>& value() { return value_; }
  [[nodiscard]] const Tensor<T>& value() const { return value_; }
  [[nodiscard]] Tensor<T>& grad() { return grad_; }
  [[nodiscard]] const Tensor<T>& grad() const { return grad_; }

  [[nodiscard]] bool requires_grad() const { return requires_grad_; }
  void set_requires_grad(bool on) { requires_grad_ = on; }

  void zero_grad() { grad_.fill(T(0)); }

  /// Copies `v` into the parameter. Throws ShapeError when the shapes differ (so a gradient
  /// buffer never goes out of step with its value).
  void assign(TensorView<const T> v) {
    if (!(v.shape() == value_.shape()))
      throw ShapeError(
          fmt::format("Parameter::assign: new value has shape {} but the parameter has "
                      "shape {}",
                      v.shape().str(), value_.shape().str()));
    std::copy(v.data(), v.data() + v.numel(), value_.data());
  }

 private:
  friend class Graph<T>;
  // Graph::param's cache: the node this parameter has in a graph's current round.
  struct NodeCache {
    const void* graph = nullptr;
    uint64_t round = 0;
    uint32_t node = 0;
  };

  Tensor<T> value_;
  Tensor<T> grad_;
  bool requires_grad_ = true;
  NodeCache node_cache_;
};

/// A parameter with its dotted name (as in a state_dict: "encoder.weight_ih_l0").
template <Scalar T>
struct NamedParameter {
  std::string name;
  Parameter<T>* param;
};

}  // namespace rwd
