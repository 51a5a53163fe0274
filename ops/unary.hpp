// Helper for ops of one input whose output has the input's shape: checks the Var, records
// the node and fills the value with f applied to each element. Built-in and user ops use it.
#pragma once

#include "rewind/core/graph.hpp"

namespace rwd {

template <Scalar T, class F>
Var<T> record_unary(const OpDef<T>& op, Var<T> x, F f, const OpAttrs& attrs = {}) {
  Graph<T>& g = x.graph();
  const Node<T>& nx = g.node(x.id());
  const T* xv = nx.value;
  const int64_t n = nx.shape.numel();
  auto [y, out] = g.record(op, {x}, nx.shape, attrs);
  for (int64_t i = 0; i < n; ++i) out[i] = f(xv[i]);
  return y;
}

}  // namespace rwd
