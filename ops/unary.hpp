// Helper for ops of one input whose output has the input's shape: checks the Var, records
// the node (with the op's attribute struct, if any) and fills the value with f applied to
// each element. Built-in and user ops use it.
#pragma once

#include <type_traits>

#include "rewind/core/graph.hpp"

namespace rwd {

/// No attributes (record_unary's default).
struct NoAttrs {};

template <Scalar T, class F, class A = NoAttrs>
Var<T> record_unary(const OpDef<T>& op, Var<T> x, F f, const A& attrs = {}) {
  Graph<T>& g = graph_of(op.name, {x});
  const Node<T>& nx = g.node(x.id());
  const T* xv = nx.value;
  const int64_t n = nx.shape.numel();
  const Shape shape = nx.shape;  // record() may move the node array
  typename Graph<T>::Recorded r;
  if constexpr (std::is_same_v<A, NoAttrs>)
    r = g.record(op, {x}, shape);
  else
    r = g.record(op, {x}, shape, attrs);
  for (int64_t i = 0; i < n; ++i) r.out[i] = f(xv[i]);
  return r.var;
}

}  // namespace rwd
