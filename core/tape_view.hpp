// TapeView: a recorded graph seen through Boost.Graph. The tape stays the storage; the view
// adds only a consumer index (who reads each node), so that every BGL algorithm that needs an
// incidence, bidirectional, adjacency, vertex-list or edge-list graph runs on the tape:
// topological_sort, breadth_first_search, make_reverse_graph, write_graphviz, ...
//
// Vertices are node ids; an edge runs from an input to the node that reads it (the direction
// values flow in), so the tape order is a topological order. Out-edges come from the index
// built in the constructor (O(nodes + edges), once); in-edges are read off the tape directly.
// Not included by rewind.hpp, so that only code that uses Boost.Graph compiles it.
#pragma once

#include <boost/graph/adjacency_iterator.hpp>
#include <boost/graph/graph_traits.hpp>
#include <boost/graph/properties.hpp>
#include <boost/iterator/counting_iterator.hpp>
#include <boost/iterator/iterator_facade.hpp>
#include <boost/property_map/property_map.hpp>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "rewind/core/graph.hpp"

namespace rwd {

/// An edge of the tape: the value of `source` is input number `slot` of `target`.
struct TapeEdge {
  NodeId source = 0;
  NodeId target = 0;
  uint32_t slot = 0;
  friend bool operator==(const TapeEdge&, const TapeEdge&) = default;
};

/// The in-edges of one node, made on the fly from the tape's input list.
class TapeInEdgeIterator
    : public boost::iterator_facade<TapeInEdgeIterator, TapeEdge,
                                    boost::random_access_traversal_tag, TapeEdge> {
 public:
  TapeInEdgeIterator() = default;
  TapeInEdgeIterator(const NodeId* inputs, NodeId target, uint32_t slot)
      : inputs_(inputs), target_(target), slot_(slot) {}

 private:
  friend class boost::iterator_core_access;
  [[nodiscard]] TapeEdge dereference() const { return {inputs_[slot_], target_, slot_}; }
  [[nodiscard]] bool equal(const TapeInEdgeIterator& o) const {
    return target_ == o.target_ && slot_ == o.slot_;
  }
  void increment() { ++slot_; }
  void decrement() { --slot_; }
  void advance(std::ptrdiff_t n) { slot_ = uint32_t(std::ptrdiff_t(slot_) + n); }
  [[nodiscard]] std::ptrdiff_t distance_to(const TapeInEdgeIterator& o) const {
    return std::ptrdiff_t(o.slot_) - std::ptrdiff_t(slot_);
  }

  const NodeId* inputs_ = nullptr;
  NodeId target_ = 0;
  uint32_t slot_ = 0;
};

/// A Boost.Graph view of the nodes a graph holds when the view is made. Nodes recorded later
/// are not in it; it must not outlive the graph or be used after the graph's clear().
template <Scalar T>
class TapeView {
 public:
  explicit TapeView(const Graph<T>& g) : g_(&g), out_begin_(g.size() + 1, 0) {
    const auto n = NodeId(g.size());
    for (NodeId v = 0; v < n; ++v)
      for (NodeId u : g.inputs(v)) ++out_begin_[u + 1];
    for (NodeId v = 0; v < n; ++v) out_begin_[v + 1] += out_begin_[v];
    out_.resize(out_begin_[n]);
    std::vector<size_t> fill(out_begin_.begin(), out_begin_.end() - 1);
    for (NodeId v = 0; v < n; ++v) {  // by target, so each node's out-edges are in tape order
      const std::span<const NodeId> ins = g.inputs(v);
      for (uint32_t k = 0; k < ins.size(); ++k) out_[fill[ins[k]]++] = {ins[k], v, k};
    }
  }

  [[nodiscard]] const Graph<T>& graph() const { return *g_; }
  [[nodiscard]] NodeId num_nodes() const { return NodeId(out_begin_.size() - 1); }
  /// Every edge, grouped by source.
  [[nodiscard]] std::span<const TapeEdge> all_edges() const { return out_; }
  /// The edges from `v` to the nodes that read it, in tape order.
  [[nodiscard]] std::span<const TapeEdge> consumers(NodeId v) const {
    return {out_.data() + out_begin_[v], out_begin_[v + 1] - out_begin_[v]};
  }
  [[nodiscard]] TapeInEdgeIterator in_begin(NodeId v) const { return {g_->inputs(v).data(), v, 0}; }
  [[nodiscard]] TapeInEdgeIterator in_end(NodeId v) const {
    return {g_->inputs(v).data(), v, uint32_t(g_->inputs(v).size())};
  }

 private:
  const Graph<T>* g_;
  std::vector<size_t> out_begin_;  // [nodes + 1]: node v's out-edges are out_[begin[v], begin[v+1])
  std::vector<TapeEdge> out_;
};

// ---- The Boost.Graph interface, found by argument-dependent lookup ----

template <Scalar T>
NodeId source(const TapeEdge& e, const TapeView<T>&) {
  return e.source;
}
template <Scalar T>
NodeId target(const TapeEdge& e, const TapeView<T>&) {
  return e.target;
}
template <Scalar T>
std::pair<const TapeEdge*, const TapeEdge*> out_edges(NodeId v, const TapeView<T>& g) {
  const std::span<const TapeEdge> s = g.consumers(v);
  return {s.data(), s.data() + s.size()};
}
template <Scalar T>
size_t out_degree(NodeId v, const TapeView<T>& g) {
  return g.consumers(v).size();
}
template <Scalar T>
std::pair<TapeInEdgeIterator, TapeInEdgeIterator> in_edges(NodeId v, const TapeView<T>& g) {
  return {g.in_begin(v), g.in_end(v)};
}
template <Scalar T>
size_t in_degree(NodeId v, const TapeView<T>& g) {
  return g.graph().inputs(v).size();
}
template <Scalar T>
size_t degree(NodeId v, const TapeView<T>& g) {
  return in_degree(v, g) + out_degree(v, g);
}
template <Scalar T>
std::pair<boost::counting_iterator<NodeId>, boost::counting_iterator<NodeId>> vertices(
    const TapeView<T>& g) {
  return {boost::counting_iterator<NodeId>(0), boost::counting_iterator<NodeId>(g.num_nodes())};
}
template <Scalar T>
size_t num_vertices(const TapeView<T>& g) {
  return g.num_nodes();
}
template <Scalar T>
std::pair<const TapeEdge*, const TapeEdge*> edges(const TapeView<T>& g) {
  const std::span<const TapeEdge> s = g.all_edges();
  return {s.data(), s.data() + s.size()};
}
template <Scalar T>
size_t num_edges(const TapeView<T>& g) {
  return g.all_edges().size();
}
template <Scalar T>
auto adjacent_vertices(NodeId v, const TapeView<T>& g) {
  using Iter = typename boost::graph_traits<TapeView<T>>::adjacency_iterator;
  const auto [first, last] = out_edges(v, g);
  return std::pair<Iter, Iter>(Iter(first, &g), Iter(last, &g));
}
/// Node ids are the vertex index.
template <Scalar T>
boost::typed_identity_property_map<NodeId> get(boost::vertex_index_t, const TapeView<T>&) {
  return {};
}
template <Scalar T>
NodeId get(boost::vertex_index_t, const TapeView<T>&, NodeId v) {
  return v;
}

}  // namespace rwd

namespace boost {

template <rwd::Scalar T>
struct graph_traits<rwd::TapeView<T>> {
  using vertex_descriptor = rwd::NodeId;
  using edge_descriptor = rwd::TapeEdge;
  using directed_category = bidirectional_tag;
  using edge_parallel_category = allow_parallel_edge_tag;  // x * x reads x twice
  struct traversal_category : bidirectional_graph_tag,     // an incidence graph too
                              adjacency_graph_tag,
                              vertex_list_graph_tag,
                              edge_list_graph_tag {};
  using vertex_iterator = counting_iterator<rwd::NodeId>;
  using out_edge_iterator = const rwd::TapeEdge*;
  using in_edge_iterator = rwd::TapeInEdgeIterator;
  using edge_iterator = const rwd::TapeEdge*;
  using adjacency_iterator = typename adjacency_iterator_generator<rwd::TapeView<T>, rwd::NodeId,
                                                                   const rwd::TapeEdge*>::type;
  using vertices_size_type = size_t;
  using edges_size_type = size_t;
  using degree_size_type = size_t;
  static vertex_descriptor null_vertex() { return rwd::Graph<T>::kNoNode; }
};

template <rwd::Scalar T>
struct property_map<rwd::TapeView<T>, vertex_index_t> {
  using type = typed_identity_property_map<rwd::NodeId>;
  using const_type = type;
};

}  // namespace boost
