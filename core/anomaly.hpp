// Anomaly mode: NaN and Inf caught at the op that made them.
//
// Note [Anomaly mode]: with Graph::set_anomaly_detection(true), every value an op produces
// and every gradient its backward adds into is checked for NaN and Inf, and the first bad one
// throws AnomalyError naming the op, its scope and its inputs' shapes. Ops write their output
// after record() returns, so a node's value is checked when the next node is recorded (or
// when backward starts, or at check_anomalies()); an op must therefore fill its value before
// it records another node. The mode also holds ops to Note [Gradient accumulation]: a
// gradient buffer handed out for writing (Backward::dx_for_write) starts as NaN, so an op
// that adds into it instead of writing every element is reported. Off, the whole mode costs
// one predictable branch per record().
#pragma once

#include <string>

#include "rewind/core/node.hpp"

namespace rwd {

template <Scalar T>
class Graph;

template <Scalar T>
class AnomalyMonitor {
 public:
  /// Values of nodes recorded before switching on are not checked.
  void set(bool on, NodeId nodes_so_far) {
    if (on && !on_) checked_ = nodes_so_far;
    on_ = on;
  }
  [[nodiscard]] bool on() const { return on_; }
  void clear() { checked_ = 0; }

  /// Checks the values recorded since the last check (throws AnomalyError).
  void check_forward(const Graph<T>& g);
  /// Checks the gradients node `id`'s backward added into its inputs.
  void check_backward(const Graph<T>& g, NodeId id) const;
  /// Checks the gradient of `input`, which `user`'s backward added into by way of `how`
  /// (ops that defer part of their backward to the end of it report through this).
  static void check_gradient(const Graph<T>& g, NodeId user, NodeId input, const char* how);
  /// Checks `count` values of the gradient of `user`'s input k (held where the caller says:
  /// a fused region's scratch, or the input's gradient buffer); element numbers in the
  /// message count from `grad`.
  static void check_gradient_part(const Graph<T>& g, NodeId user, uint32_t k, const T* grad,
                                  int64_t count);
  /// Checks an output gradient passed to Graph::backward.
  static void check_output_grad(const Graph<T>& g, NodeId output, const T* grad);

 private:
  bool on_ = false;
  NodeId checked_ = 0;  // values of nodes below this id have been checked
};

extern template class AnomalyMonitor<float>;
extern template class AnomalyMonitor<double>;

}  // namespace rwd
