// The tape. A Graph records one node per op call, in execution order, so the node array is
// itself a topological order; backward() plays it once in reverse, without recursion.
//
// Note [Gradient accumulation]: every backward adds into its inputs' gradients (+=), never
// assigns, so a value used by several ops receives the sum of its uses. Gradient buffers
// start at zero when first touched in a backward pass. Parameter gradients live in the
// Parameter and keep accumulating across backward calls until zero_grad(); the gradients of
// graph-owned values are reset at the start of each backward().
//
// Note [Deferred weight gradients]: a product whose right operand B is a leaf (a parameter
// or an input; nothing reads a leaf's gradient during the reverse walk) and whose left
// operand has few rows (a recurrent step: B rows of a batch) does not update dB right away.
// It records where its rows of A and dC are; at the end of backward all rows recorded for
// one leaf are gathered into two contiguous blocks and dB gets one product over all of them
// ([G·H, T·B] × [T·B, H] for a recurrent weight) instead of T thin ones.
//
// Note [Aliases]: reshape, detach and slices along the leading axis do not copy. Their value
// points into their input's value, and (except detach) their gradient points into their
// input's gradient, so their backward has nothing to do. Values on the tape are never written
// after their op returns, which is what makes sharing safe.
//
// Note [Anomaly mode]: with set_anomaly_detection(true), every value an op produces and every
// gradient its backward adds into is checked for NaN and Inf, and the first bad one throws
// AnomalyError naming the op, its scope and its inputs' shapes. Ops write their output after
// record() returns, so a node's value is checked when the next node is recorded (or when
// backward starts, or at check_anomalies()); an op must therefore fill its value before it
// records another node. Off, the whole mode costs one predictable branch per record().
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "rewind/core/arena.hpp"
#include "rewind/core/error.hpp"
#include "rewind/core/parameter.hpp"
#include "rewind/core/scope.hpp"
#include "rewind/core/shape.hpp"
#include "rewind/core/tensor.hpp"
#include "rewind/core/threads.hpp"

namespace rwd {

using NodeId = uint32_t;

template <Scalar T>
class Graph;
template <Scalar T>
class Backward;

/// Small per-node op data: axes, bounds, scalars, and a pointer to arena-held extra data
/// (ids, masks, saved statistics) made with Graph::allocate().
struct OpAttrs {
  int64_t i[4] = {0, 0, 0, 0};
  double f[2] = {0.0, 0.0};
  const void* ptr = nullptr;
};

/// What an op is: a name (shown in errors, statistics and DOT) and its backward.
/// backward == nullptr means no gradient flows through the op (leaves, detach).
template <Scalar T>
struct OpDef {
  const char* name;
  void (*backward)(const Backward<T>&);
};

/// One recorded op call.
template <Scalar T>
struct Node {
  enum Flags : uint8_t {
    kNeedsGrad = 1,   // some input (or the leaf itself) wants a gradient
    kParam = 2,       // value and gradient belong to a Parameter
    kGradAlias = 4,   // gradient is a window into input 0's gradient (Note [Aliases])
    kValueAlias = 8,  // value is a window into input 0's value (Note [Aliases])
  };
  const OpDef<T>* op = nullptr;
  T* value = nullptr;
  T* grad = nullptr;  // nullptr until a gradient reaches this node in the current backward
  Shape shape;
  OpAttrs attrs;
  uint32_t inputs_begin = 0;
  uint32_t num_inputs = 0;
  int64_t grad_offset = 0;  // kGradAlias: offset into input 0's gradient
  uint8_t flags = 0;
  ScopeId scope = ScopeTable::kRoot;  // the name scope it was recorded in (core/scope.hpp)

  [[nodiscard]] bool needs_grad() const { return (flags & kNeedsGrad) != 0; }
  [[nodiscard]] bool is_param() const { return (flags & kParam) != 0; }
  [[nodiscard]] bool is_alias() const { return (flags & kValueAlias) != 0; }
};

/// A value the sequence driver marked as a time step's state (Graph::mark_step_output).
struct StepOutput {
  NodeId node;
  ScopeId scope;   // the scope current when it was marked: the time step's
  uint32_t state;  // which state element: 0 is the output h (1 is c, for an LSTM)
};

/// A handle to a value recorded on a graph: the graph, the node id and the graph's round
/// (renewed by clear(), so stale handles are caught). Copying is free. A Var must not be
/// used after its graph is destroyed.
template <Scalar T>
class Var {
 public:
  Var() = default;

  /// True for a default-constructed handle (no graph at all).
  [[nodiscard]] bool empty() const { return graph_ == nullptr; }
  /// True when this handle refers to a node of its graph's current round.
  [[nodiscard]] bool valid() const;
  /// Throws GraphError when the handle is default-constructed or stale.
  [[nodiscard]] Graph<T>& graph() const;
  [[nodiscard]] NodeId id() const { return id_; }

  [[nodiscard]] const Shape& shape() const;
  [[nodiscard]] int rank() const { return shape().rank(); }
  [[nodiscard]] int64_t numel() const { return shape().numel(); }
  [[nodiscard]] int64_t size(int axis) const { return shape().dim(axis); }
  [[nodiscard]] TensorView<const T> value() const;
  [[nodiscard]] const T* data() const { return value().data(); }
  /// The value of a one-element Var.
  [[nodiscard]] T item() const { return value().item(); }
  /// Whether gradients flow to this value.
  [[nodiscard]] bool requires_grad() const;
  /// Whether the last backward() reached this value.
  [[nodiscard]] bool has_grad() const;
  /// The gradient from the last backward(); throws GraphError when none reached this value.
  [[nodiscard]] TensorView<const T> grad() const;
  [[nodiscard]] const char* op_name() const;

 private:
  friend class Graph<T>;
  Var(Graph<T>* g, NodeId id, uint64_t round) : graph_(g), id_(id), round_(round) {}
  Graph<T>* graph_ = nullptr;
  NodeId id_ = 0;
  uint64_t round_ = 0;
};

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
  /// round, asking again for the same parameter returns the same node (so a cell calling
  /// param() at every time step records it once).
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
    const Node<T>& n = nodes_[id];
    return {input_ids_.data() + n.inputs_begin, n.num_inputs};
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

  // ---- Name scopes (core/scope.hpp) and marks for the gradient-flow report ----

  /// Names everything recorded while the returned object lives: `auto s = g.scope("encoder");`.
  /// Scopes nest; the sequence layers open "<layer>.l<l>.<fwd|rev>" and inside it "t=<t>".
  /// Throws ValueError when the name is empty or contains '/'.
  NameScope scope(std::string_view name) { return scopes_.open(name); }
  /// A scope named `prefix` + `index` ("t=", 3 -> "t=3"), formatted only when read: cheap
  /// enough to open at every time step.
  NameScope scope(std::string_view prefix, int64_t index) { return scopes_.open(prefix, index); }
  [[nodiscard]] const ScopeTable& scopes() const { return scopes_; }
  /// The path of the scope node `id` was recorded in ("lstm.l0.fwd/t=3"; "" at the root).
  [[nodiscard]] std::string scope_path(NodeId id) const { return scopes_.path(nodes_[id].scope); }

  /// Marks `h` as state element `state` of the current time step (the sequence driver calls
  /// this with each step's new state: h as 0, an LSTM's c as 1), so gradient_flow() can
  /// report the norm of its gradient.
  void mark_step_output(Var<T> h, uint32_t state = 0) {
    check(h, "mark_step_output");
    step_outputs_.push_back({h.id_, scopes_.current(), state});
  }
  [[nodiscard]] std::span<const StepOutput> step_outputs() const { return step_outputs_; }

  /// A graph recorded beside this one and joined into it (ops/side_graph.hpp; with two
  /// threads, a bidirectional layer's reverse direction), with the scope it was joined in.
  struct Linked {
    const Graph* graph;
    ScopeId scope;
    uint64_t round;  // the side graph's round when linked: it must not have been cleared since
  };
  /// Called by side_exit; gradient_flow() reads the step marks of linked graphs too, and
  /// backward() refuses to start when one of them has been cleared (re-recorded) since.
  void link_side_graph(const Graph& side) {
    linked_.push_back({&side, scopes_.current(), side.round()});
  }
  [[nodiscard]] std::span<const Linked> linked_graphs() const { return linked_; }

  // ---- Anomaly mode (Note [Anomaly mode]) ----

  /// Off by default. On, the first op whose forward or backward produces a NaN or Inf throws
  /// AnomalyError naming the op, its scope and its inputs' shapes. Values recorded before
  /// it is switched on are not checked.
  void set_anomaly_detection(bool on);
  [[nodiscard]] bool anomaly_detection() const { return anomaly_detection_; }
  /// In anomaly mode, checks the values recorded since the last check now (the last op's
  /// value is otherwise checked when the next op records or backward starts). Does nothing
  /// when anomaly mode is off.
  void check_anomalies();

  // ---- For op authors (built-in ops use exactly this) ----

  /// Appends a node computed by `op` from `inputs`, with a fresh value buffer of `shape`.
  /// Checks that every input is a live Var of this graph (GraphError otherwise).
  Recorded record(const OpDef<T>& op, std::span<const Var<T>> inputs, const Shape& shape,
                  const OpAttrs& attrs = {});
  Recorded record(const OpDef<T>& op, std::initializer_list<Var<T>> inputs, const Shape& shape,
                  const OpAttrs& attrs = {}) {
    return record(op, std::span<const Var<T>>(inputs.begin(), inputs.size()), shape, attrs);
  }

  /// Appends a node whose value is `numel(shape)` elements of `input`'s value starting at
  /// `offset` (no copy). With share_grad, its gradient is the same window of the input's
  /// gradient, so the op needs no backward (Note [Aliases]).
  Var<T> record_alias(const OpDef<T>& op, Var<T> input, const Shape& shape, int64_t offset,
                      bool share_grad, const OpAttrs& attrs = {});

  /// Uninitialised arena memory for `n` objects of a trivially destructible type, valid
  /// until clear(): where an op keeps what its backward needs beyond its inputs and output.
  template <class U>
  U* allocate(size_t n) {
    static_assert(std::is_trivially_destructible_v<U>);
    return static_cast<U*>(arena_.allocate(n * sizeof(U)));
  }

  /// Throws GraphError naming `op` unless v is a live Var of this graph.
  void check(Var<T> v, const char* op) const;

  /// The gradient buffer of node `id` in the current backward: zero-filled on first use;
  /// nullptr when the node needs no gradient.
  T* grad_buffer(NodeId id);

  /// Like grad_buffer(), but when the buffer does not exist yet it is handed out without
  /// zero-filling and `fresh` is set: the caller must then write every element (=, not +=).
  /// Saves a memset and a read for the first gradient a node receives.
  T* grad_buffer_for_write(NodeId id, bool& fresh);

  /// The transpose of a leaf's value ([cols, rows] row-major), made once per round and then
  /// reused: products with a recurrent weight read it every time step. The first request of
  /// a round returns nullptr (one use is not worth a transpose; the caller uses BLAS flags).
  const T* transposed_leaf(NodeId id);

  /// A worker thread running work that reads this graph's memory (a side graph's backward
  /// started from this graph's backward: ops/side_graph.hpp). If an error leaves backward(),
  /// and in clear(), the graph waits for pending workers first, so none outlives the memory
  /// it reads. remove_pending() once joined.
  void add_pending(Worker* worker) { pending_.push_back(worker); }
  void remove_pending(Worker* worker);

  /// True for nodes without a backward whose gradient is their own (parameters, inputs).
  [[nodiscard]] bool is_leaf(NodeId id) const {
    const Node<T>& n = nodes_[id];
    return n.op->backward == nullptr && (n.flags & Node<T>::kGradAlias) == 0;
  }
  /// During backward: adds to leaf `b`'s gradient, later in this backward pass, the product
  /// that C = A · op(B) contributes: A is [rows, k] row-major at `a`, dC is [rows, n] at
  /// `dc`, B is [k, n] (or [n, k] with trans_b). The rows are copied right away; the product
  /// runs once 256 rows are staged and at the end. Note [Deferred weight gradients].
  /// Returns false for the first such product of a leaf in a backward pass, which the
  /// caller then computes itself (a single product gains nothing from staging).
  bool defer_product_grad(NodeId b, bool trans_b, const T* a, const T* dc, int64_t rows, int64_t k,
                          int64_t n);

 private:
  friend class Var<T>;
  [[noreturn]] static void throw_bad_var(const Graph* expected, Var<T> v, const char* op);
  void start_backward(Var<T> output);
  template <bool kCheckAnomalies>
  void run_backward(NodeId from);
  void check_forward_anomalies();
  void check_backward_anomalies(NodeId id) const;

  std::vector<Node<T>> nodes_;
  std::vector<NodeId> input_ids_;
  std::vector<NodeId> grad_nodes_;  // nodes given a graph-owned gradient in this backward
  // Rows staged for one leaf's deferred gradient product (Note [Deferred weight gradients]).
  struct DeferredGroup {
    NodeId leaf;
    bool trans_b;
    int64_t k, n;
    NodeId user = 0;  // the last node whose backward staged rows here (for anomaly reports)
    int64_t rows = 0;
    T* a = nullptr;   // [kDeferredRows, k]
    T* dc = nullptr;  // [kDeferredRows, n]
  };
  static constexpr int64_t kDeferredRows = 256;  // a flush multiplies this many rows at once
  std::vector<DeferredGroup> deferred_;
  void flush_group(DeferredGroup& group);
  void check_deferred_anomalies() const;
  NodeId running_ = 0;                                   // the node whose backward is running
  std::vector<std::pair<NodeId, const T*>> transposed_;  // transposed_leaf() cache, per round
  std::vector<Worker*> pending_;                         // see add_pending()
  void wait_pending() noexcept;
  Arena arena_;
  uint64_t round_;
  ScopeTable scopes_;                     // reset by clear(), keeping its memory
  std::vector<StepOutput> step_outputs_;  // likewise
  std::vector<Linked> linked_;            // likewise
  NodeId backward_root_ = kNoNode;
  bool anomaly_detection_ = false;
  NodeId anomaly_checked_ = 0;  // values of nodes below this id have been checked
};

/// What a backward function sees: this node's value and incoming gradient, its inputs'
/// values, and (lazily zero-filled) gradient buffers to add into.
template <Scalar T>
class Backward {
 public:
  Backward(Graph<T>& g, NodeId id) : g_(g), id_(id), node_(g.node(id)) {}

  [[nodiscard]] const Node<T>& node() const { return node_; }
  [[nodiscard]] Graph<T>& graph() const { return g_; }
  [[nodiscard]] const OpAttrs& attrs() const { return node_.attrs; }
  [[nodiscard]] const Shape& shape() const { return node_.shape; }
  [[nodiscard]] int64_t numel() const { return node_.shape.numel(); }
  /// This node's value.
  [[nodiscard]] const T* y() const { return node_.value; }
  /// The gradient of the loss with respect to this node's value.
  [[nodiscard]] const T* dy() const { return node_.grad; }

  [[nodiscard]] uint32_t num_inputs() const { return node_.num_inputs; }
  [[nodiscard]] NodeId input_id(uint32_t k) const { return g_.inputs(id_)[k]; }
  [[nodiscard]] const T* x(uint32_t k) const { return g_.node(input_id(k)).value; }
  [[nodiscard]] const Shape& x_shape(uint32_t k) const { return g_.node(input_id(k)).shape; }
  /// Gradient buffer of input k to add into, or nullptr when input k needs no gradient.
  [[nodiscard]] T* dx(uint32_t k) const { return g_.grad_buffer(input_id(k)); }
  /// Like dx(), but a buffer made now is not zero-filled: when `fresh` comes back true the
  /// op must write (=) every element instead of adding.
  [[nodiscard]] T* dx_for_write(uint32_t k, bool& fresh) const {
    return g_.grad_buffer_for_write(input_id(k), fresh);
  }

 private:
  Graph<T>& g_;
  NodeId id_;
  const Node<T>& node_;
};

/// The graph shared by `vars`, after checking each is live and all share one graph
/// (GraphError naming `op` otherwise).
template <Scalar T>
Graph<T>& graph_of(const char* op, std::span<const Var<T>> vars);
template <Scalar T>
Graph<T>& graph_of(const char* op, std::initializer_list<Var<T>> vars) {
  return graph_of(op, std::span<const Var<T>>(vars.begin(), vars.size()));
}

// ---- Var, inline ----

template <Scalar T>
bool Var<T>::valid() const {
  return graph_ != nullptr && round_ == graph_->round_ && id_ < graph_->nodes_.size();
}

template <Scalar T>
Graph<T>& Var<T>::graph() const {
  if (!valid()) Graph<T>::throw_bad_var(nullptr, *this, "Var");
  return *graph_;
}

template <Scalar T>
const Shape& Var<T>::shape() const {
  return graph().nodes_[id_].shape;
}

template <Scalar T>
TensorView<const T> Var<T>::value() const {
  const Node<T>& n = graph().nodes_[id_];
  return {n.value, n.shape};
}

template <Scalar T>
bool Var<T>::requires_grad() const {
  return graph().nodes_[id_].needs_grad();
}

template <Scalar T>
bool Var<T>::has_grad() const {
  return graph().nodes_[id_].grad != nullptr;
}

template <Scalar T>
TensorView<const T> Var<T>::grad() const {
  const Node<T>& n = graph().nodes_[id_];
  if (n.grad == nullptr)
    throw GraphError(
        fmt::format("Var::grad: no gradient reached this '{}' value of shape {} (it needs none, or "
                    "backward() has not run since it was recorded)",
                    n.op->name, n.shape.str()));
  return {n.grad, n.shape};
}

template <Scalar T>
const char* Var<T>::op_name() const {
  return graph().nodes_[id_].op->name;
}

extern template class Graph<float>;
extern template class Graph<double>;

}  // namespace rwd
