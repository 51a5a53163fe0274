// Recording nodes and the reverse walk.
#include "rewind/core/graph.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstring>
#include <limits>

namespace rwd {
namespace {

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
  quiesce();
}

template <Scalar T>
void Graph<T>::quiesce() noexcept {
  for (auto& e : extensions_) e->quiesce();
}

template <Scalar T>
Var<T> Graph<T>::push(const Node<T>& n) {
  if (nodes_.size() >= std::numeric_limits<NodeId>::max())
    throw GraphError(fmt::format("{}: the graph is full ({} nodes)", n.op->name, nodes_.size()));
  nodes_.push_back(n);
  return Var<T>(this, NodeId(nodes_.size() - 1), round_);
}

template <Scalar T>
typename Graph<T>::Recorded Graph<T>::record(const OpDef<T>& op, std::span<const Var<T>> inputs,
                                             const Shape& shape) {
  for (const Var<T>& v : inputs) check(v, op.name);
  if (anomaly_.on()) [[unlikely]]
    anomaly_.check_forward(*this);  // the previous ops have filled their values by now
  Node<T> n;
  n.op = &op;
  n.shape = shape;
  n.scope = scopes_.current();
  n.inputs_begin = uint32_t(input_ids_.size());
  n.num_inputs = uint32_t(inputs.size());
  for (const Var<T>& v : inputs)
    if (op.backward != nullptr && nodes_[v.id_].needs_grad()) n.flags |= Node<T>::kNeedsGrad;
  n.value = static_cast<T*>(arena_.allocate(size_t(shape.numel()) * sizeof(T)));
  Var<T> var = push(n);
  for (const Var<T>& v : inputs) input_ids_.push_back(v.id_);
  return {var, n.value};
}

template <Scalar T>
Var<T> Graph<T>::record_alias(const OpDef<T>& op, Var<T> input, const Shape& shape, int64_t offset,
                              bool share_grad) {
  check(input, op.name);
  const Node<T>& src = nodes_[input.id_];
  if (offset < 0 || offset + shape.numel() > src.shape.numel())
    throw IndexError(fmt::format("{}: alias of {} elements at offset {} exceeds the input's {}",
                                 op.name, shape.numel(), offset, src.shape.numel()));
  Node<T> n;
  n.op = &op;
  n.shape = shape;
  n.inputs_begin = uint32_t(input_ids_.size());
  n.num_inputs = 1;
  n.value = src.value + offset;
  n.grad_offset = offset;
  n.scope = scopes_.current();
  n.flags = Node<T>::kValueAlias;
  if (share_grad && src.needs_grad()) n.flags |= Node<T>::kNeedsGrad | Node<T>::kGradAlias;
  Var<T> var = push(n);
  input_ids_.push_back(input.id_);
  return var;
}

template <Scalar T>
void Graph<T>::mark_step_output(Var<T> h, uint32_t state) {
  check(h, "mark_step_output");
  nodes_[h.id_].flags |= Node<T>::kRetainGrad;  // the gradient-flow report reads it
  marks_.mark(h.id_, scopes_.current(), state);
}

template <Scalar T>
void Graph<T>::set_group(NodeId id, uint32_t group, GraphExtension<T>& runner) {
  if (id >= nodes_.size() || group == 0)
    throw GraphError(fmt::format("set_group: no node {} or group 0 ({} nodes)", id, nodes_.size()));
  if (group_runner_ != nullptr && group_runner_ != &runner)
    throw GraphError("set_group: another extension already runs this graph's backward groups");
  group_runner_ = &runner;
  nodes_[id].group = group;
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
    const int64_t count = n.shape.numel();
    n.grad = static_cast<T*>(arena_.allocate(size_t(count) * sizeof(T)));
    if (anomaly_.on())  // an op that adds instead of writing is caught: Note [Anomaly mode]
      std::fill(n.grad, n.grad + count, std::numeric_limits<T>::quiet_NaN());
    grad_nodes_.push_back(id);
    fresh = true;
    return n.grad;
  }
  return grad_buffer(id);
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
  if (anomaly_.on()) anomaly_.check_forward(*this);
  for (auto& e : extensions_) e->before_backward(*this);  // may refuse, before any change
  backward_root_ = output.id_;
  // Gradients of graph-owned values start afresh in every pass (Note [Gradient accumulation]).
  for (NodeId id : grad_nodes_) nodes_[id].grad = nullptr;
  grad_nodes_.clear();
}

// Two instances, so that the loop without anomaly checks has no trace of them.
template <Scalar T>
template <bool kCheckAnomalies>
void Graph<T>::run_backward(NodeId from) {
  try {
    for (int64_t id = from; id >= 0; --id) {
      const Node<T>& n = nodes_[size_t(id)];
      if (n.group != 0) {  // Note [Backward groups]; the runner checks anomalies itself
        id = group_runner_->backward_group(*this, NodeId(id));
        continue;
      }
      // Skip: no gradient reached it, or none flows through it (leaves, detach, aliases).
      if (n.grad == nullptr || n.op->backward == nullptr || !n.needs_grad()) continue;
      n.op->backward(Backward<T>(*this, NodeId(id)));
      if constexpr (kCheckAnomalies) anomaly_.check_backward(*this, NodeId(id));
    }
    for (auto& e : extensions_) e->after_backward(*this);
  } catch (...) {
    quiesce();  // no worker may keep reading this graph after the error leaves
    throw;
  }
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
  if (anomaly_.on())
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
  if (anomaly_.on()) AnomalyMonitor<T>::check_output_grad(*this, output.id_, output_grad.data());
  start_backward(output);
  T* g = grad_buffer(output.id_);
  for (int64_t i = 0; i < l.shape.numel(); ++i) g[i] += output_grad[i];
  if (anomaly_.on())
    run_backward<true>(output.id_);
  else
    run_backward<false>(output.id_);
}

template <Scalar T>
void Graph<T>::clear() {
  quiesce();
  for (auto& e : extensions_) e->clear();
  nodes_.clear();
  input_ids_.clear();
  grad_nodes_.clear();
  arena_.reset();
  round_ = next_round();
  scopes_.clear();
  marks_.clear();
  anomaly_.clear();
  backward_root_ = kNoNode;
}

template class Graph<float>;
template class Graph<double>;

}  // namespace rwd
