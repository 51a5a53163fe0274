// The tape. A Graph records one node per op call, in execution order, so the node array is
// itself a topological order; backward() plays it once in reverse, without recursion.
// Everything that is not the tape reaches it through the extension points of
// core/extension.hpp; docs/architecture.md draws the layers.
//
// Note [Gradient accumulation]: every backward adds into its inputs' gradients (+=), never
// assigns, so a value used by several ops receives the sum of its uses. Gradient buffers
// start at zero when first touched in a backward pass. Parameter gradients live in the
// Parameter and keep accumulating across backward calls until zero_grad(); the gradients of
// graph-owned values are reset at the start of each backward(). The one exception is opt-in:
// a buffer taken with Backward::dx_for_write() that comes back `fresh` must be written (=),
// every element; anomaly mode fills such buffers with NaN, so an op that breaks this is
// reported (Note [Anomaly mode]) and every gradient check runs in that mode.
//
// Backward groups: Note [Backward groups] in extension.hpp; views: Note [Aliases] in node.hpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "rewind/core/anomaly.hpp"
#include "rewind/core/arena.hpp"
#include "rewind/core/error.hpp"
#include "rewind/core/extension.hpp"
#include "rewind/core/node.hpp"
#include "rewind/core/parameter.hpp"
#include "rewind/core/scope.hpp"
#include "rewind/core/step_marks.hpp"
#include "rewind/core/var.hpp"

namespace rwd {

template <Scalar T>
class Graph {
 public:
  Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) = delete;  // Vars hold the graph's address
  Graph& operator=(Graph&&) = delete;
  ~Graph();

  // ---- Leaves ----

  /// A value copied onto the tape. With requires_grad, backward() gives it a gradient.
  Var<T> input(TensorView<const T> value, bool requires_grad = false);
  Var<T> input(const Tensor<T>& value, bool requires_grad = false) {
    return input(value.view(), requires_grad);
  }
  /// A value used where it is, without a copy: `value` must stay alive and unchanged until
  /// clear() (a dataset tensor, say). With requires_grad, backward() gives it a gradient.
  Var<T> input_view(TensorView<const T> value, bool requires_grad = false);
  /// A value that never gets a gradient.
  Var<T> constant(TensorView<const T> value) { return input(value, false); }
  Var<T> constant(const Tensor<T>& value) { return input(value.view(), false); }
  /// A rank-0 constant.
  Var<T> scalar(T value);
  /// A constant of zeros, made in the graph's memory (no heap allocation).
  Var<T> zeros(const Shape& shape);

  struct Recorded {
    Var<T> var;
    T* out;  // the new node's value, uninitialised: the op writes it
  };
  /// A constant whose values the caller writes through `out` right away (masks, ids made
  /// per step), in the graph's memory.
  Recorded new_constant(const Shape& shape);
  /// A node that refers to the parameter's storage; backward adds into p.grad(). Within one
  /// round, asking again for the same parameter returns the same node.
  Var<T> param(Parameter<T>& p);

  // ---- Running the tape ----

  /// Reverse-mode pass from a one-element value: fills the gradients of every value the
  /// loss depends on that requires a gradient. Throws GraphError for a non-scalar loss or a
  /// loss that depends on nothing requiring a gradient.
  void backward(Var<T> loss);
  /// Reverse-mode pass from any value, seeded with `output_grad` (same shape as `output`):
  /// the vector-Jacobian product, as PyTorch's tensor.backward(gradient).
  void backward(Var<T> output, TensorView<const T> output_grad);
  /// Forgets all nodes but keeps the memory, for the next step. Outstanding Vars become
  /// stale (using one throws GraphError).
  void clear();

  // ---- Inspection ----

  [[nodiscard]] size_t size() const { return nodes_.size(); }
  [[nodiscard]] const Node<T>& node(NodeId id) const { return nodes_[id]; }
  /// A handle to node `id` of the current round (GraphError when there is no such node).
  [[nodiscard]] Var<T> var(NodeId id);
  [[nodiscard]] std::span<const NodeId> inputs(NodeId id) const {
    return {input_ids_.data() + nodes_[id].inputs_begin, nodes_[id].num_inputs};
  }
  /// Bytes of values, gradients and scratch currently held on the tape.
  [[nodiscard]] size_t bytes_used() const { return arena_.bytes_used(); }
  /// The most bytes held in any round of this graph.
  [[nodiscard]] size_t peak_bytes() const { return arena_.peak_bytes(); }
  /// Identifies the graph's current round: unique across all graphs of the process, so a
  /// handle from another graph, a destroyed one or before clear() never matches.
  [[nodiscard]] uint64_t round() const { return round_; }
  /// The node the last backward() started from, or kNoNode when there was none this round.
  [[nodiscard]] NodeId backward_root() const { return backward_root_; }
  static constexpr NodeId kNoNode = ~NodeId(0);

  // ---- Name scopes (core/scope.hpp) and step marks (core/step_marks.hpp) ----

  /// Names everything recorded while the returned object lives: `auto s = g.scope("encoder");`.
  /// Scopes nest; the sequence layers open "<layer>.l<l>.<fwd|rev>" and inside it "t=<t>".
  /// Throws ValueError when the name is empty or contains '/'.
  NameScope scope(std::string_view name) { return scopes_.open(name); }
  /// A scope named `prefix` + `index` ("t=", 3 -> "t=3"), formatted only when read.
  NameScope scope(std::string_view prefix, int64_t index) { return scopes_.open(prefix, index); }
  [[nodiscard]] const ScopeTable& scopes() const { return scopes_; }
  /// The path of the scope node `id` was recorded in ("lstm.l0.fwd/t=3"; "" at the root).
  [[nodiscard]] std::string scope_path(NodeId id) const { return scopes_.path(nodes_[id].scope); }

  /// Marks `h` as state element `state` of the current time step (the sequence driver calls
  /// this with each step's new state: h as 0, an LSTM's c as 1) for the gradient-flow report.
  void mark_step_output(Var<T> h, uint32_t state = 0);
  [[nodiscard]] std::span<const StepOutput> step_outputs() const { return marks_.outputs(); }
  using Linked = typename StepMarks<T>::Linked;
  /// Joins the step marks of `side`, recorded beside this graph, into this graph's (at the
  /// current scope), for the gradient-flow report; `exit` carries the side graph's result
  /// here (its gradient is what the side graph's backward starts from).
  void link_side_graph(const Graph& side, Var<T> exit) {
    check(exit, "link_side_graph");
    marks_.link(side, exit.id(), scopes_.current(), side.round());
  }
  [[deprecated(
      "pass the node that carries the side graph's result: link_side_graph(side, "
      "exit)")]] void
  link_side_graph(const Graph& side) {
    marks_.link(side, NodeId(nodes_.size() - 1), scopes_.current(), side.round());
  }
  [[nodiscard]] std::span<const Linked> linked_graphs() const { return marks_.linked(); }

  // ---- Anomaly mode (core/anomaly.hpp) ----

  /// Off by default. On, the first op whose forward or backward produces a NaN or Inf throws
  /// AnomalyError naming the op, its scope and its inputs' shapes.
  void set_anomaly_detection(bool on) { anomaly_.set(on, NodeId(nodes_.size())); }
  [[nodiscard]] bool anomaly_detection() const { return anomaly_.on(); }
  /// In anomaly mode, checks the values recorded since the last check now.
  void check_anomalies() {
    if (anomaly_.on()) anomaly_.check_forward(*this);
  }

  // ---- For op authors (built-in ops use exactly this) ----

  /// Appends a node computed by `op` from `inputs`, with a fresh value buffer of `shape`.
  /// Checks that every input is a live Var of this graph (GraphError otherwise). `attrs`
  /// is the op's own attribute struct (Note [Op attributes] in core/node.hpp).
  Recorded record(const OpDef<T>& op, std::span<const Var<T>> inputs, const Shape& shape);
  template <class A>
  Recorded record(const OpDef<T>& op, std::span<const Var<T>> inputs, const Shape& shape,
                  const A& attrs) {
    Recorded r = record(op, inputs, shape);
    nodes_.back().attrs.set(attrs);
    return r;
  }
  template <class... A>  // no attributes, or one struct
  Recorded record(const OpDef<T>& op, std::initializer_list<Var<T>> inputs, const Shape& shape,
                  const A&... attrs) {
    return record(op, std::span<const Var<T>>(inputs.begin(), inputs.size()), shape, attrs...);
  }

  /// Appends a node whose value is `numel(shape)` elements of `input`'s value starting at
  /// `offset` (no copy). With share_grad, its gradient is the same window of the input's
  /// gradient, so the op needs no backward (Note [Aliases]).
  Var<T> record_alias(const OpDef<T>& op, Var<T> input, const Shape& shape, int64_t offset,
                      bool share_grad);
  template <class A>
  Var<T> record_alias(const OpDef<T>& op, Var<T> input, const Shape& shape, int64_t offset,
                      bool share_grad, const A& attrs) {
    Var<T> v = record_alias(op, input, shape, offset, share_grad);
    nodes_.back().attrs.set(attrs);
    return v;
  }

  /// Uninitialised arena memory for `n` objects of a trivially destructible type, valid
  /// until clear(): where an op keeps what its backward needs beyond its inputs and output.
  template <class U>
  U* allocate(size_t n) {
    static_assert(std::is_trivially_destructible_v<U>);
    return static_cast<U*>(arena_.allocate(n * sizeof(U)));
  }

  /// Throws GraphError naming `op` unless v is a live Var of this graph.
  void check(Var<T> v, const char* op) const;
  /// Throws GraphError naming `op` unless v is a live Var of some graph.
  static void check_live(Var<T> v, const char* op);

  /// The gradient buffer of node `id` in the current backward: zero-filled on first use;
  /// nullptr when the node needs no gradient.
  T* grad_buffer(NodeId id);
  /// Like grad_buffer(), but when the buffer does not exist yet it is handed out without
  /// zero-filling and `fresh` is set: the caller must then write every element (=, not +=).
  /// Note [Gradient accumulation].
  T* grad_buffer_for_write(NodeId id, bool& fresh);

  /// Makes node `id` a member of backward group `group` (1-based), whose backward `runner`
  /// runs (Note [Backward groups]). The members of one group are consecutive nodes; one
  /// extension per graph runs groups (GraphError otherwise).
  void set_group(NodeId id, uint32_t group, GraphExtension<T>& runner);
  /// Whether the last backward reached node `id`: it has a gradient, or (inside a backward
  /// group) its group's backward computed one without keeping it.
  [[nodiscard]] bool reached(NodeId id) const {
    const Node<T>& n = nodes_[id];
    return n.grad != nullptr ||
           (n.group != 0 && group_runner_ != nullptr && group_runner_->group_reached(id, n.group));
  }
  /// Keeps v's gradient after backward even when a backward group computes it internally
  /// (Var::grad() reads it); step outputs are kept this way already.
  void retain_grad(Var<T> v) {
    check(v, "retain_grad");
    nodes_[v.id_].flags |= Node<T>::kRetainGrad;
  }

  /// True for nodes without a backward whose gradient is their own (parameters, inputs).
  [[nodiscard]] bool is_leaf(NodeId id) const { return nodes_[id].is_leaf(); }

  /// This graph's instance of extension E (made on first use): Note [Extension points].
  template <class E>
  E& extension() {
    return detail::find_or_make<E>(slots_, extensions_);
  }

 private:
  friend class Var<T>;
  Var<T> push(const Node<T>& n);
  void start_backward(Var<T> output);
  template <bool kCheckAnomalies>
  void run_backward(NodeId from);
  void quiesce() noexcept;

  std::vector<Node<T>> nodes_;
  std::vector<NodeId> input_ids_;
  std::vector<NodeId> grad_nodes_;  // nodes given a graph-owned gradient in this backward
  Arena arena_;
  uint64_t round_;
  NodeId backward_root_ = kNoNode;
  ScopeTable scopes_;  // reset by clear(), keeping its memory
  StepMarks<T> marks_;
  AnomalyMonitor<T> anomaly_;
  std::vector<std::unique_ptr<GraphExtension<T>>> extensions_;  // in the order made
  std::vector<GraphExtension<T>*> slots_;                       // by detail::extension_slot<E>()
  GraphExtension<T>* group_runner_ = nullptr;                   // Note [Backward groups]
};

/// The graph shared by `vars`, after checking each is live and all share one graph
/// (GraphError naming `op` otherwise).
template <Scalar T>
Graph<T>& graph_of(const char* op, std::span<const Var<T>> vars);
template <Scalar T>
Graph<T>& graph_of(const char* op, std::initializer_list<Var<T>> vars) {
  return graph_of(op, std::span<const Var<T>>(vars.begin(), vars.size()));
}

extern template class Graph<float>;
extern template class Graph<double>;

}  // namespace rwd

#include "rewind/core/backward.hpp"
