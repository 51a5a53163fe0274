// Checking Var handles: the errors that name the op a bad handle was passed to.
#include <fmt/format.h>

#include "rewind/core/graph.hpp"

namespace rwd {

template <Scalar T>
void Var<T>::throw_invalid(const Graph<T>* expected, const char* op) const {
  if (graph_ == nullptr)
    throw GraphError(fmt::format("{}: the Var is empty (default-constructed, never recorded)", op));
  if (expected != nullptr && graph_ != expected)
    throw GraphError(fmt::format("{}: the Var belongs to a different graph", op));
  if (round_ != graph_->round())
    throw GraphError(fmt::format(
        "{}: the Var (node {}) was recorded before the graph was cleared; it is stale", op, id_));
  throw GraphError(
      fmt::format("{}: node id {} is not on the graph ({} nodes)", op, id_, graph_->size()));
}

template <Scalar T>
void Graph<T>::check_live(Var<T> v, const char* op) {
  if (!v.valid()) v.throw_invalid(nullptr, op);
}

template <Scalar T>
Graph<T>& graph_of(const char* op, std::span<const Var<T>> vars) {
  if (vars.empty()) throw GraphError(fmt::format("{}: no inputs given", op));
  Graph<T>::check_live(vars[0], op);  // names `op`, not "Var"
  Graph<T>& g = vars[0].graph();
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
Var<T> Graph<T>::var(NodeId id) {
  if (id >= nodes_.size())
    throw GraphError(
        fmt::format("Graph::var: node {} does not exist ({} nodes)", id, nodes_.size()));
  return Var<T>(this, id, round_);
}

template <Scalar T>
void Graph<T>::check(Var<T> v, const char* op) const {
  if (v.graph_ != this || v.round_ != round_ || v.id_ >= nodes_.size()) v.throw_invalid(this, op);
}

template class Var<float>;
template class Var<double>;
template Graph<float>& graph_of<float>(const char*, std::span<const Var<float>>);
template Graph<double>& graph_of<double>(const char*, std::span<const Var<double>>);
template void Graph<float>::check_live(Var<float>, const char*);
template void Graph<float>::check(Var<float>, const char*) const;
template void Graph<double>::check(Var<double>, const char*) const;
template Var<float> Graph<float>::var(NodeId);
template Var<double> Graph<double>::var(NodeId);
template void Graph<double>::check_live(Var<double>, const char*);

}  // namespace rwd
