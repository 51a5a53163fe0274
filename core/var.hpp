// Var: a handle to a value recorded on a graph. Include core/graph.hpp, which includes this
// before it defines Graph (the bodies below are compiled once Graph is complete).
#pragma once

#include <fmt/format.h>

#include <cstdint>

#include "rewind/core/error.hpp"
#include "rewind/core/node.hpp"

namespace rwd {

template <Scalar T>
class Graph;

/// A handle to a value recorded on a graph: the graph, the node id and the graph's round
/// (renewed by clear(), so stale handles are caught). Copying is free. A Var must not be
/// used after its graph is destroyed. Operators on Vars are in ops/elementwise.hpp.
template <Scalar T>
class Var {
 public:
  Var() = default;

  /// True for a default-constructed handle (no graph at all).
  [[nodiscard]] bool empty() const { return graph_ == nullptr; }
  /// True when this handle refers to a node of its graph's current round.
  [[nodiscard]] bool valid() const {
    return graph_ != nullptr && round_ == graph_->round_ && id_ < graph_->nodes_.size();
  }
  /// Throws GraphError when the handle is default-constructed or stale.
  [[nodiscard]] Graph<T>& graph() const {
    if (!valid()) throw_invalid(nullptr, "Var");
    return *graph_;
  }
  [[nodiscard]] NodeId id() const { return id_; }

  [[nodiscard]] const Shape& shape() const { return node().shape; }
  [[nodiscard]] int rank() const { return shape().rank(); }
  [[nodiscard]] int64_t numel() const { return shape().numel(); }
  [[nodiscard]] int64_t size(int axis) const { return shape().dim(axis); }
  [[nodiscard]] TensorView<const T> value() const { return {node().value, node().shape}; }
  [[nodiscard]] const T* data() const { return value().data(); }
  /// The value of a one-element Var.
  [[nodiscard]] T item() const { return value().item(); }
  /// Whether gradients flow to this value.
  [[nodiscard]] bool requires_grad() const { return node().needs_grad(); }
  /// Whether the last backward() reached this value.
  [[nodiscard]] bool has_grad() const { return node().grad != nullptr; }
  /// The gradient from the last backward(); throws GraphError when none reached this value.
  [[nodiscard]] TensorView<const T> grad() const {
    const Node<T>& n = node();
    if (n.grad == nullptr && n.group != 0)
      throw GraphError(fmt::format(
          "Var::grad: no gradient kept for this '{}' value of shape {}: it is inside fused "
          "region {}, whose backward keeps only the gradients it hands on (if one reached it, "
          "call Graph::retain_grad(v) before backward to keep it, or turn fusion off: "
          "docs/fusion.md)",
          n.op->name, n.shape.str(), n.group));
    if (n.grad == nullptr)
      throw GraphError(fmt::format(
          "Var::grad: no gradient reached this '{}' value of shape {} (it needs none, or "
          "backward() has not run since it was recorded)",
          n.op->name, n.shape.str()));
    return {n.grad, n.shape};
  }
  [[nodiscard]] const char* op_name() const { return node().op->name; }

 private:
  friend class Graph<T>;
  Var(Graph<T>* g, NodeId id, uint64_t round) : graph_(g), id_(id), round_(round) {}
  [[nodiscard]] const Node<T>& node() const { return graph().nodes_[id_]; }
  // Throws GraphError naming `op`: the handle is empty, stale, or (with `expected`) of
  // another graph.
  [[noreturn]] void throw_invalid(const Graph<T>* expected, const char* op) const;
  Graph<T>* graph_ = nullptr;
  NodeId id_ = 0;
  uint64_t round_ = 0;
};

}  // namespace rwd
