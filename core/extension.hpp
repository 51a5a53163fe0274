// Graph extensions: how machinery that is not the tape (speed-ups, threading) keeps state
// per graph and takes part in backward and clear() without the tape knowing what it is.
//
// Note [Extension points]: an extension is a class derived from GraphExtension<T>, made the
// first time code asks a graph for it (Graph::extension<E>()) and owned by that graph from
// then on. The graph calls it at four points:
//   before_backward  before any gradient flows; throwing refuses the backward, unchanged;
//   after_backward   after the reverse walk, to finish work deferred during it (ops/linalg's
//                    batched weight-gradient products add into gradients here);
//   quiesce          when an error leaves backward, before clear() and in the destructor:
//                    stop anything (a worker thread) still reading the graph's memory;
//   clear            clear() forgets the round; keep memory for the next one.
// One extension may also run backward groups (Note [Backward groups] below):
//   backward_group   the reverse walk reached a node of a group this extension made.
// Extensions are called in the order they were first made. Each graph has its own, so two
// graphs on two threads never share one.
//
// Note [Backward groups]: an extension may gather consecutive nodes into a group whose backward
// it runs as one (ops/fusion.cpp fuses chains of elementwise ops this way). Every node keeps
// its op, inputs, value and scope, so inspection and anomaly mode still see each op; only
// the reverse walk differs: when it reaches a node of a group it calls the extension once
// for the group's members up to that node, and goes on below the group's first node. The
// gradients the group passes between its own members need never be stored; a member whose
// gradient is read afterwards says so with kRetainGrad (Graph::retain_grad, step outputs).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "rewind/core/node.hpp"
#include "rewind/core/tensor.hpp"

namespace rwd {

template <Scalar T>
class Graph;

template <Scalar T>
class GraphExtension {
 public:
  GraphExtension() = default;
  GraphExtension(const GraphExtension&) = delete;
  GraphExtension& operator=(const GraphExtension&) = delete;
  virtual ~GraphExtension() = default;

  virtual void before_backward(Graph<T>& /*g*/) {}
  virtual void after_backward(Graph<T>& /*g*/) {}
  virtual void quiesce() noexcept {}
  virtual void clear() noexcept {}
  /// Runs the backward of the group that node `id` belongs to, for its members up to `id`,
  /// and returns the group's first node (the walk goes on below it). Only called on the
  /// extension that made the group (Graph::set_group).
  virtual NodeId backward_group(Graph<T>& g, NodeId id);
  /// Whether the last backward gave node `id` of group `group` a gradient, kept or not
  /// (inspection counts it as reached).
  [[nodiscard]] virtual bool group_reached(NodeId /*id*/, uint32_t /*group*/) const {
    return false;
  }
};

namespace detail {
size_t next_extension_slot();
/// A small index per extension type, the same in every graph (assigned on first use).
template <class E>
size_t extension_slot() {
  static const size_t slot = next_extension_slot();
  return slot;
}

/// A graph's E: slots[extension_slot<E>()], made and appended to `owned` on first use.
template <class E, class Base>
E& find_or_make(std::vector<Base*>& slots, std::vector<std::unique_ptr<Base>>& owned) {
  const size_t slot = extension_slot<E>();
  if (slot >= slots.size()) slots.resize(slot + 1, nullptr);
  if (slots[slot] == nullptr) {
    owned.push_back(std::make_unique<E>());
    slots[slot] = owned.back().get();
  }
  return static_cast<E&>(*slots[slot]);
}
}  // namespace detail

}  // namespace rwd
