// Recording nodes and the reverse walk.
#include "rewind/core/graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "rewind/ops/blas.hpp"

namespace rwd {
namespace {

template <Scalar T>
const OpDef<T> kInputOp{"input", nullptr};
template <Scalar T>
const OpDef<T> kParamOp{"param", nullptr};

// The index of the first NaN or Inf among n values, or -1.
template <Scalar T>
int64_t first_non_finite(const T* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return i;
  return -1;
}

template <Scalar T>
const char* non_finite_name(T v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

// Round ids are unique across all graphs of the process (see Graph::round()).
uint64_t next_round() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace

template <Scalar T>
Graph<T>::Graph() : round_(next_round()) {}

template <Scalar T>
Graph<T>::~Graph() {
  wait_pending();
}

template <Scalar T>
void Graph<T>::throw_bad_var(const Graph* expected, Var<T> v, const char* op) {
  if (v.graph_ == nullptr)
    throw GraphError(fmt::format("{}: the Var is empty (default-constructed, never recorded)", op));
  if (expected != nullptr && v.graph_ != expected)
    throw GraphError(fmt::format("{}: the Var belongs to a different graph", op));
  if (v.round_ != v.graph_->round_)
    throw GraphError(fmt::format(
        "{}: the Var (node {}) was recorded before the graph was cleared; it is stale", op, v.id_));
  throw GraphError(fmt::format("{}: node id {} is not on the graph ({} nodes)", op, v.id_,
                               v.graph_->nodes_.size()));
}

template <Scalar T>
Var<T> Graph<T>::var(NodeId id) {
  if (id >= nodes_.size())
    throw GraphError(
        fmt::format("Graph::var: node {} does not exist ({} nodes)", id, nodes_.size()));
  return Var<T>(this, id, round_);
}

template <Scalar T>
void Graph<T>::check(Var<T> v, const char* op) const {
  if (v.graph_ != this || v.round_ != round_ || v.id_ >= nodes_.size()) throw_bad_var(this, v, op);
}

template <Scalar T>
Graph<T>& graph_of(const char* op, std::span<const Var<T>> vars) {
  if (vars.empty()) throw GraphError(fmt::format("{}: no inputs given", op));
  Graph<T>& g = vars[0].graph();  // throws for an empty or stale handle
  for (size_t k = 0; k < vars.size(); ++k) {
    if (vars[k].valid() && &vars[k].graph() != &g)
      throw GraphError(fmt::format(
          "{}: input {} (shape {}) belongs to a different graph than input 0 (shape {}); values "
          "of two graphs cannot be mixed",
          op, k, vars[k].shape().str(), vars[0].shape().str()));
    g.check(vars[k], op);
  }
  return g;
}

template <Scalar T>
typename Graph<T>::Recorded Graph<T>::record(const OpDef<T>& op, std::span<const Var<T>> inputs,
                                             const Shape& shape, const OpAttrs& attrs) {
  for (const Var<T>& v : inputs) check(v, op.name);
  if (anomaly_detection_) [[unlikely]]
    check_forward_anomalies();  // the previous ops have filled their values by now
  if (nodes_.size() >= std::numeric_limits<NodeId>::max())
    throw GraphError(fmt::format("{}: the graph is full ({} nodes)", op.name, nodes_.size()));
  Node<T> n;
  n.op = &op;
  n.shape = shape;
  n.attrs = attrs;
  n.scope = scopes_.current();
  n.inputs_begin = uint32_t(input_ids_.size());
  n.num_inputs = uint32_t(inputs.size());
  for (const Var<T>& v : inputs) {
    input_ids_.push_back(v.id_);
    if (op.backward != nullptr && nodes_[v.id_].needs_grad()) n.flags |= Node<T>::kNeedsGrad;
  }
  n.value = static_cast<T*>(arena_.allocate(size_t(shape.numel()) * sizeof(T)));
  nodes_.push_back(n);
  return {Var<T>(this, NodeId(nodes_.size() - 1), round_), n.value};
}

template <Scalar T>
Var<T> Graph<T>::record_alias(const OpDef<T>& op, Var<T> input, const Shape& shape, int64_t offset,
                              bool share_grad, const OpAttrs& attrs) {
  check(input, op.name);
  const Node<T>& src = nodes_[input.id_];
  if (offset < 0 || offset + shape.numel() > src.shape.numel())
    throw IndexError(fmt::format("{}: alias of {} elements at offset {} exceeds the input's {}",
                                 op.name, shape.numel(), offset, src.shape.numel()));
  Node<T> n;
  n.op = &op;
  n.shape = shape;
  n.attrs = attrs;
  n.inputs_begin = uint32_t(input_ids_.size());
  n.num_inputs = 1;
  n.value = src.value + offset;
  n.grad_offset = offset;
  n.scope = scopes_.current();
  n.flags = Node<T>::kValueAlias;
  if (share_grad && src.needs_grad()) n.flags |= Node<T>::kNeedsGrad | Node<T>::kGradAlias;
  input_ids_.push_back(input.id_);
  nodes_.push_back(n);
  return Var<T>(this, NodeId(nodes_.size() - 1), round_);
}

template <Scalar T>
Var<T> Graph<T>::input(TensorView<const T> value, bool requires_grad) {
  auto r = record(kInputOp<T>, {}, value.shape());
  if (value.numel() > 0) std::memcpy(r.out, value.data(), size_t(value.numel()) * sizeof(T));
  if (requires_grad) nodes_.back().flags |= Node<T>::kNeedsGrad;
  return r.var;
}

template <Scalar T>
Var<T> Graph<T>::input_view(TensorView<const T> value, bool requires_grad) {
  if (value.empty() && value.numel() > 0)
    throw ValueError(
        fmt::format("input_view: a view of shape {} has no data", value.shape().str()));
  if (nodes_.size() >= std::numeric_limits<NodeId>::max())
    throw GraphError(fmt::format("input_view: the graph is full ({} nodes)", nodes_.size()));
  Node<T> n;
  n.op = &kInputOp<T>;
  n.shape = value.shape();
  n.inputs_begin = uint32_t(input_ids_.size());
  n.value = const_cast<T*>(value.data());  // never written: values are read-only on the tape
  if (requires_grad) n.flags = Node<T>::kNeedsGrad;
  nodes_.push_back(n);
  return Var<T>(this, NodeId(nodes_.size() - 1), round_);
}

template <Scalar T>
Var<T> Graph<T>::scalar(T value) {
  auto r = record(kInputOp<T>, {}, Shape{});
  r.out[0] = value;
  return r.var;
}

template <Scalar T>
typename Graph<T>::Recorded Graph<T>::new_constant(const Shape& shape) {
  return record(kInputOp<T>, {}, shape);
}

template <Scalar T>
Var<T> Graph<T>::zeros(const Shape& shape) {
  auto r = record(kInputOp<T>, {}, shape);
  std::memset(r.out, 0, size_t(shape.numel()) * sizeof(T));
  return r.var;
}

template <Scalar T>
Var<T> Graph<T>::param(Parameter<T>& p) {
  // Note: the cache is only trusted when graph, round, storage and requires_grad all match.
  auto& cache = p.node_cache_;
  if (cache.graph == this && cache.round == round_ && cache.node < nodes_.size()) {
    const Node<T>& cached = nodes_[cache.node];
    if (cached.is_param() && cached.value == p.value().data() &&
        cached.needs_grad() == p.requires_grad())
      return Var<T>(this, cache.node, round_);
  }
  if (p.value().empty())
    throw ValueError(fmt::format(
        "param: the parameter has no storage (default-constructed; shape {})", p.shape().str()));
  if (!(p.grad().shape() == p.shape()))
    throw ShapeError(
        fmt::format("param: the parameter's gradient has shape {} but its value has shape {}",
                    p.grad().shape().str(), p.shape().str()));
  Node<T> n;
  n.op = &kParamOp<T>;
  n.shape = p.shape();
  n.inputs_begin = uint32_t(input_ids_.size());
  n.value = p.value().data();
  n.scope = scopes_.current();
  n.flags = Node<T>::kParam;
  if (p.requires_grad()) {
    n.flags |= Node<T>::kNeedsGrad;
    n.grad = p.grad().data();
  }
  nodes_.push_back(n);
  cache = {this, round_, NodeId(nodes_.size() - 1)};
  return Var<T>(this, NodeId(nodes_.size() - 1), round_);
}

template <Scalar T>
T* Graph<T>::grad_buffer(NodeId id) {
  Node<T>& n = nodes_[id];
  if (!n.needs_grad()) return nullptr;
  if (n.grad == nullptr) {
    if ((n.flags & Node<T>::kGradAlias) != 0) {
      T* base = grad_buffer(input_ids_[n.inputs_begin]);
      n.grad = base + n.grad_offset;
    } else {
      const size_t bytes = size_t(n.shape.numel()) * sizeof(T);
      n.grad = static_cast<T*>(arena_.allocate(bytes));
      std::memset(n.grad, 0, bytes);
    }
    grad_nodes_.push_back(id);
  }
  return n.grad;
}

template <Scalar T>
T* Graph<T>::grad_buffer_for_write(NodeId id, bool& fresh) {
  Node<T>& n = nodes_[id];
  fresh = false;
  if (!n.needs_grad()) return nullptr;
  if (n.grad == nullptr && (n.flags & Node<T>::kGradAlias) == 0) {
    n.grad = static_cast<T*>(arena_.allocate(size_t(n.shape.numel()) * sizeof(T)));
    grad_nodes_.push_back(id);
    fresh = true;
    return n.grad;
  }
  return grad_buffer(id);
}

template <Scalar T>
const T* Graph<T>::transposed_leaf(NodeId id) {
  std::pair<NodeId, const T*>* seen = nullptr;
  for (auto& entry : transposed_)
    if (entry.first == id) seen = &entry;
  if (seen == nullptr) {  // first request this round: not worth a transpose yet
    transposed_.push_back({id, nullptr});
    return nullptr;
  }
  if (seen->second != nullptr) return seen->second;
  const Node<T>& n = nodes_[id];
  const int64_t rows = n.shape[0];
  const int64_t cols = n.shape[1];
  T* out = static_cast<T*>(arena_.allocate(size_t(rows * cols) * sizeof(T)));
  constexpr int64_t kBlock = 32;  // blocked, so both sides stay in cache lines
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock)
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock)
      for (int64_t r = r0; r < std::min(rows, r0 + kBlock); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + kBlock); ++c)
          out[c * rows + r] = n.value[r * cols + c];
  seen->second = out;
  return out;
}

template <Scalar T>
void Graph<T>::start_backward(Var<T> output) {
  check(output, "backward");
  const Node<T>& l = nodes_[output.id_];
  if (!l.needs_grad())
    throw GraphError(fmt::format(
        "backward: the output ('{}', shape {}) depends on no parameter or input that requires "
        "a gradient",
        l.op->name, l.shape.str()));
  if (anomaly_detection_) check_forward_anomalies();
  // Before any gradient flows: a side graph recorded again since would get half the way.
  for (size_t k = 0; k < linked_.size(); ++k)
    if (linked_[k].graph->round() != linked_[k].round)
      throw GraphError(fmt::format(
          "backward: side graph {} of this graph (a bidirectional layer's reverse direction, "
          "recorded on two threads) has been recorded again since, for another graph; nothing "
          "was changed. A layer keeps the side graphs of its 4 most recently used graphs: run "
          "backward sooner, or with one thread",
          k));
  backward_root_ = output.id_;
  // Gradients of graph-owned values start afresh in every pass (Note [Gradient accumulation]).
  for (NodeId id : grad_nodes_) nodes_[id].grad = nullptr;
  grad_nodes_.clear();
  deferred_.clear();
}

template <Scalar T>
bool Graph<T>::defer_product_grad(NodeId b, bool trans_b, const T* a, const T* dc, int64_t rows,
                                  int64_t k, int64_t n) {
  DeferredGroup* group = nullptr;
  for (DeferredGroup& d : deferred_)
    if (d.leaf == b && d.trans_b == trans_b && d.k == k && d.n == n) group = &d;
  if (group == nullptr) {  // first product for this leaf: the caller does it now
    deferred_.push_back(DeferredGroup{b, trans_b, k, n, running_});
    return false;
  }
  group->user = running_;
  if (group->a == nullptr) {  // a second one: from now on, stage and batch
    group->a = static_cast<T*>(arena_.allocate(size_t(kDeferredRows * k) * sizeof(T)));
    group->dc = static_cast<T*>(arena_.allocate(size_t(kDeferredRows * n) * sizeof(T)));
  }
  while (rows > 0) {
    const int64_t take = std::min(rows, kDeferredRows - group->rows);
    std::memcpy(group->a + group->rows * k, a, size_t(take * k) * sizeof(T));
    std::memcpy(group->dc + group->rows * n, dc, size_t(take * n) * sizeof(T));
    group->rows += take;
    a += take * k;
    dc += take * n;
    rows -= take;
    if (group->rows == kDeferredRows) flush_group(*group);
  }
  return true;
}

template <Scalar T>
void Graph<T>::flush_group(DeferredGroup& d) {
  if (d.rows == 0) return;
  T* db = grad_buffer(d.leaf);
  if (d.trans_b)  // dB [n, k] += dCᵀ [n, rows] · A [rows, k]
    detail::gemm<T>(true, false, d.n, d.k, d.rows, T(1), d.dc, d.n, d.a, d.k, T(1), db, d.k);
  else  // dB [k, n] += Aᵀ [k, rows] · dC [rows, n]
    detail::gemm<T>(true, false, d.k, d.n, d.rows, T(1), d.a, d.k, d.dc, d.n, T(1), db, d.n);
  d.rows = 0;
}

// Two instances, so that the loop without anomaly checks has no trace of them.
template <Scalar T>
template <bool kCheckAnomalies>
void Graph<T>::run_backward(NodeId from) {
  try {
    for (int64_t id = from; id >= 0; --id) {
      const Node<T>& n = nodes_[size_t(id)];
      // Skip: no gradient reached it, or none flows through it (leaves, detach, aliases).
      if (n.grad == nullptr || n.op->backward == nullptr || !n.needs_grad()) continue;
      running_ = NodeId(id);
      n.op->backward(Backward<T>(*this, NodeId(id)));
      if constexpr (kCheckAnomalies) check_backward_anomalies(NodeId(id));
    }
    for (DeferredGroup& d : deferred_) flush_group(d);
    if constexpr (kCheckAnomalies) check_deferred_anomalies();
  } catch (...) {
    wait_pending();  // no worker may keep reading this graph after the error leaves
    throw;
  }
  deferred_.clear();
}

template <Scalar T>
void Graph<T>::remove_pending(Worker* worker) {
  auto it = std::find(pending_.begin(), pending_.end(), worker);
  if (it != pending_.end()) pending_.erase(it);
}

template <Scalar T>
void Graph<T>::wait_pending() noexcept {
  for (Worker* w : pending_) {
    try {
      w->wait();
    } catch (...) {  // the first error is already on its way out; this one is moot
    }
  }
  pending_.clear();
}

template <Scalar T>
void Graph<T>::backward(Var<T> loss) {
  check(loss, "backward");
  const Node<T>& l = nodes_[loss.id_];
  if (l.shape.numel() != 1)
    throw GraphError(fmt::format(
        "backward: the loss must have one element, but '{}' produced shape {} ({} elements); "
        "reduce it first (sum, mean) or pass an output gradient",
        l.op->name, l.shape.str(), l.shape.numel()));
  start_backward(loss);
  grad_buffer(loss.id_)[0] += T(1);
  if (anomaly_detection_)
    run_backward<true>(loss.id_);
  else
    run_backward<false>(loss.id_);
}

template <Scalar T>
void Graph<T>::backward(Var<T> output, TensorView<const T> output_grad) {
  check(output, "backward");
  const Node<T>& l = nodes_[output.id_];
  if (!(output_grad.shape() == l.shape))
    throw ShapeError(
        fmt::format("backward: the output gradient has shape {} but the output ('{}') has shape {}",
                    output_grad.shape().str(), l.op->name, l.shape.str()));
  if (anomaly_detection_) {
    const int64_t bad = first_non_finite(output_grad.data(), output_grad.numel());
    if (bad >= 0)
      throw AnomalyError(
          fmt::format("anomaly: the output gradient passed to backward holds {} at element {} "
                      "(shape {}; output '{}')",
                      non_finite_name(output_grad[bad]), bad, l.shape.str(), l.op->name),
          "backward", scope_path(output.id_), true);
  }
  start_backward(output);
  T* g = grad_buffer(output.id_);
  for (int64_t i = 0; i < l.shape.numel(); ++i) g[i] += output_grad[i];
  if (anomaly_detection_)
    run_backward<true>(output.id_);
  else
    run_backward<false>(output.id_);
}

template <Scalar T>
void Graph<T>::clear() {
  nodes_.clear();
  input_ids_.clear();
  wait_pending();
  grad_nodes_.clear();
  deferred_.clear();
  transposed_.clear();
  arena_.reset();
  round_ = next_round();
  scopes_.clear();
  step_outputs_.clear();
  linked_.clear();
  backward_root_ = kNoNode;
  anomaly_checked_ = 0;
}

// ---- Anomaly mode (Note [Anomaly mode]) ----

template <Scalar T>
void Graph<T>::set_anomaly_detection(bool on) {
  if (on && !anomaly_detection_) anomaly_checked_ = NodeId(nodes_.size());
  anomaly_detection_ = on;
}

template <Scalar T>
void Graph<T>::check_anomalies() {
  if (anomaly_detection_) check_forward_anomalies();
}

namespace {

// "'matmul' [2, 3], 'param' [3, 4]"
template <Scalar T>
std::string describe_inputs(const Graph<T>& g, NodeId id) {
  std::string out;
  for (NodeId in : g.inputs(id)) {
    if (!out.empty()) out += ", ";
    fmt::format_to(std::back_inserter(out), "'{}' {}", g.node(in).op->name, g.node(in).shape.str());
  }
  return out.empty() ? "none" : out;
}

template <Scalar T>
std::string describe_scope(const Graph<T>& g, NodeId id) {
  const std::string path = g.scope_path(id);
  return path.empty() ? "the root scope" : fmt::format("scope '{}'", path);
}

}  // namespace

template <Scalar T>
void Graph<T>::check_forward_anomalies() {
  const NodeId end = NodeId(nodes_.size());
  for (NodeId id = anomaly_checked_; id < end; ++id) {
    const Node<T>& n = nodes_[id];
    if (n.is_alias() || n.is_param()) continue;  // values that are not this op's result
    const int64_t bad = first_non_finite(n.value, n.shape.numel());
    if (bad < 0) continue;
    anomaly_checked_ = end;  // report it once; the graph stays usable
    throw AnomalyError(
        fmt::format("anomaly: forward of '{}' (node {}, {}) produced {} at element {} of its "
                    "output {}; its inputs: {}",
                    n.op->name, id, describe_scope(*this, id), non_finite_name(n.value[bad]), bad,
                    n.shape.str(), describe_inputs(*this, id)),
        n.op->name, scope_path(id), false);
  }
  anomaly_checked_ = end;
}

template <Scalar T>
void Graph<T>::check_backward_anomalies(NodeId id) const {
  const std::span<const NodeId> ins = inputs(id);
  for (size_t k = 0; k < ins.size(); ++k) {
    const Node<T>& in = nodes_[ins[k]];
    if (in.grad == nullptr) continue;
    const int64_t bad = first_non_finite(in.grad, in.shape.numel());
    if (bad < 0) continue;
    const Node<T>& n = nodes_[id];
    throw AnomalyError(
        fmt::format("anomaly: backward of '{}' (node {}, {}) produced {} at element {} of the "
                    "gradient of its input {} ('{}' {}); its inputs: {}",
                    n.op->name, id, describe_scope(*this, id), non_finite_name(in.grad[bad]), bad,
                    k, in.op->name, in.shape.str(), describe_inputs(*this, id)),
        n.op->name, scope_path(id), true);
  }
}

// The products staged by defer_product_grad are summed into their leaf's gradient after the
// loop of run_backward, where check_backward_anomalies does not look.
template <Scalar T>
void Graph<T>::check_deferred_anomalies() const {
  for (const DeferredGroup& d : deferred_) {
    const Node<T>& leaf = nodes_[d.leaf];
    if (leaf.grad == nullptr) continue;
    const int64_t bad = first_non_finite(leaf.grad, leaf.shape.numel());
    if (bad < 0) continue;
    const Node<T>& n = nodes_[d.user];
    throw AnomalyError(
        fmt::format("anomaly: backward of '{}' (node {}, {}) produced {} at element {} of the "
                    "gradient of its input '{}' {} (in the batched sum of that weight's "
                    "products over all steps); its inputs: {}",
                    n.op->name, d.user, describe_scope(*this, d.user),
                    non_finite_name(leaf.grad[bad]), bad, leaf.op->name, leaf.shape.str(),
                    describe_inputs(*this, d.user)),
        n.op->name, scope_path(d.user), true);
  }
}

template class Graph<float>;
template class Graph<double>;
template Graph<float>& graph_of<float>(const char*, std::span<const Var<float>>);
template Graph<double>& graph_of<double>(const char*, std::span<const Var<double>>);

}  // namespace rwd
