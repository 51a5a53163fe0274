// Anomaly mode's checks and messages (Note [Anomaly mode] in anomaly.hpp).
#include "rewind/core/anomaly.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

#include "rewind/core/graph.hpp"

namespace rwd {
namespace {

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

// "scope 'lstm.l0.fwd/t=2'", and ", in fused region 3" for a member of a backward group
// (Note [Backward groups] in extension.hpp).
template <Scalar T>
std::string describe_scope(const Graph<T>& g, NodeId id) {
  const std::string path = g.scope_path(id);
  std::string out = path.empty() ? "the root scope" : fmt::format("scope '{}'", path);
  if (g.node(id).group != 0)
    fmt::format_to(std::back_inserter(out), ", in fused region {}", g.node(id).group);
  return out;
}

// Throws when input k of node `user` has a non-finite gradient; `how` is added to the message.
template <Scalar T>
void check_input_grad(const Graph<T>& g, NodeId user, size_t k, NodeId input, const char* how,
                      const T* grad, int64_t count) {
  const Node<T>& in = g.node(input);
  if (grad == nullptr) return;
  const int64_t bad = first_non_finite(grad, count);
  if (bad < 0) return;
  const Node<T>& n = g.node(user);
  const std::string which =
      k == size_t(-1) ? std::string("its input") : fmt::format("its input {}", k);
  throw AnomalyError(
      fmt::format("anomaly: backward of '{}' (node {}, {}) produced {} at element {} of the "
                  "gradient of {} ('{}' {}){}; its inputs: {}",
                  n.op->name, user, describe_scope(g, user), non_finite_name(grad[bad]), bad, which,
                  in.op->name, in.shape.str(), how, describe_inputs(g, user)),
      n.op->name, g.scope_path(user), true);
}

template <Scalar T>
void check_input_grad(const Graph<T>& g, NodeId user, size_t k, NodeId input, const char* how) {
  const Node<T>& in = g.node(input);
  check_input_grad(g, user, k, input, how, in.grad, in.shape.numel());
}

}  // namespace

template <Scalar T>
void AnomalyMonitor<T>::check_forward(const Graph<T>& g) {
  const auto end = NodeId(g.size());
  for (NodeId id = checked_; id < end; ++id) {
    const Node<T>& n = g.node(id);
    if (n.is_alias() || n.is_param()) continue;  // values that are not this op's result
    const int64_t bad = first_non_finite(n.value, n.shape.numel());
    if (bad < 0) continue;
    checked_ = end;  // report it once; the graph stays usable
    throw AnomalyError(
        fmt::format("anomaly: forward of '{}' (node {}, {}) produced {} at element {} of its "
                    "output {}; its inputs: {}",
                    n.op->name, id, describe_scope(g, id), non_finite_name(n.value[bad]), bad,
                    n.shape.str(), describe_inputs(g, id)),
        n.op->name, g.scope_path(id), false);
  }
  checked_ = end;
}

template <Scalar T>
void AnomalyMonitor<T>::check_backward(const Graph<T>& g, NodeId id) const {
  const auto ins = g.inputs(id);
  for (size_t k = 0; k < ins.size(); ++k) check_input_grad(g, id, k, ins[k], "");
}

template <Scalar T>
void AnomalyMonitor<T>::check_gradient(const Graph<T>& g, NodeId user, NodeId input,
                                       const char* how) {
  check_input_grad(g, user, size_t(-1), input, how);
}

template <Scalar T>
void AnomalyMonitor<T>::check_gradient_part(const Graph<T>& g, NodeId user, uint32_t k,
                                            const T* grad, int64_t count) {
  check_input_grad(g, user, k, g.inputs(user)[k], "", grad, count);
}

template <Scalar T>
void AnomalyMonitor<T>::check_output_grad(const Graph<T>& g, NodeId output, const T* grad) {
  const Node<T>& l = g.node(output);
  const int64_t bad = first_non_finite(grad, l.shape.numel());
  if (bad < 0) return;
  throw AnomalyError(
      fmt::format("anomaly: the output gradient passed to backward holds {} at element {} "
                  "(shape {}; output '{}')",
                  non_finite_name(grad[bad]), bad, l.shape.str(), l.op->name),
      "backward", g.scope_path(output), true);
}

template class AnomalyMonitor<float>;
template class AnomalyMonitor<double>;

}  // namespace rwd
