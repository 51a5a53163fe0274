// Step marks: which values on a tape are a time step's state, for the gradient-flow report
// (core/inspect.hpp). The sequence driver marks each step's new state; a graph recorded
// beside this one (a bidirectional layer's reverse direction on another thread) is linked,
// so the report reads its marks too.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "rewind/core/node.hpp"

namespace rwd {

template <Scalar T>
class Graph;

/// A value the sequence driver marked as a time step's state (Graph::mark_step_output).
struct StepOutput {
  NodeId node;
  ScopeId scope;   // the scope current when it was marked: the time step's
  uint32_t state;  // which state element: 0 is the output h (1 is c, for an LSTM)
};

template <Scalar T>
class StepMarks {
 public:
  /// A graph recorded beside the marked one and joined into it: the node that carries its
  /// result on the marked graph, the scope it was joined in and its round then (a graph
  /// cleared since no longer holds those marks).
  struct Linked {
    const Graph<T>* graph;
    NodeId exit;
    ScopeId scope;
    uint64_t round;
  };

  void mark(NodeId node, ScopeId scope, uint32_t state) {
    outputs_.push_back({node, scope, state});
  }
  void link(const Graph<T>& side, NodeId exit, ScopeId scope, uint64_t side_round) {
    linked_.push_back({&side, exit, scope, side_round});
  }
  [[nodiscard]] std::span<const StepOutput> outputs() const { return outputs_; }
  [[nodiscard]] std::span<const Linked> linked() const { return linked_; }
  /// Forgets the marks, keeping the memory.
  void clear() {
    outputs_.clear();
    linked_.clear();
  }

 private:
  std::vector<StepOutput> outputs_;
  std::vector<Linked> linked_;
};

}  // namespace rwd
