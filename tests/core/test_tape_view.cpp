// TapeView: the Boost.Graph concepts it models, and BGL algorithms run on recorded tapes.
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/graph_concepts.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <boost/graph/topological_sort.hpp>

#include <iterator>
#include <vector>

#include <rewind/core/tape_view.hpp>

#include "support.hpp"

using namespace rwd;

BOOST_CONCEPT_ASSERT((boost::IncidenceGraphConcept<TapeView<float>>));
BOOST_CONCEPT_ASSERT((boost::BidirectionalGraphConcept<TapeView<float>>));
BOOST_CONCEPT_ASSERT((boost::AdjacencyGraphConcept<TapeView<float>>));
BOOST_CONCEPT_ASSERT((boost::VertexListGraphConcept<TapeView<float>>));
BOOST_CONCEPT_ASSERT((boost::EdgeListGraphConcept<TapeView<double>>));
BOOST_CONCEPT_ASSERT(
    (boost::ReadablePropertyMapConcept<
        boost::property_map<TapeView<float>, boost::vertex_index_t>::const_type, NodeId>));

namespace {

// A 2-layer LSTM over 3 steps with a loss, backward done.
struct LstmTape {
  Generator gen{5};
  LSTM<float> lstm{[] {
                     RecurrentOptions o;
                     o.input_size = 3;
                     o.hidden_size = 4;
                     o.num_layers = 2;
                     return o;
                   }(),
                   gen};
  Graph<float> g;
  Var<float> loss;
  LstmTape() {
    auto out = lstm.forward(g.input(Tensor<float>::normal({3, 2, 3}, 0, 1, gen)));
    loss = mean(square(out.output));
    g.backward(loss);
  }
};

// Records the vertices a BFS discovers.
struct Discovered : boost::default_bfs_visitor {
  std::vector<bool>* seen;
  template <class G>
  void discover_vertex(NodeId v, const G&) const {
    (*seen)[v] = true;
  }
};

}  // namespace

TEST_CASE("BGL: the tape is acyclic and its order is a topological order", "[core][bgl]") {
  LstmTape t;
  const TapeView<float> view(t.g);
  REQUIRE(num_vertices(view) == t.g.size());
  size_t edge_count = 0;
  for (auto [e, end] = edges(view); e != end; ++e, ++edge_count)
    CHECK(source(*e, view) < target(*e, view));  // values flow from earlier to later nodes
  CHECK(edge_count == num_edges(view));
  CHECK(edge_count > t.g.size());

  std::vector<NodeId> order;  // reverse topological order; throws not_a_dag on a cycle
  REQUIRE_NOTHROW(boost::topological_sort(view, std::back_inserter(order)));
  REQUIRE(order.size() == t.g.size());
  std::vector<size_t> position(order.size());
  for (size_t k = 0; k < order.size(); ++k) position[order[k]] = order.size() - 1 - k;
  for (auto [e, end] = edges(view); e != end; ++e)
    CHECK(position[source(*e, view)] < position[target(*e, view)]);
}

TEST_CASE("BGL: in- and out-edges agree with the tape, parallel edges included", "[core][bgl]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({2}, {1, 2}), true);
  auto y = x * x;  // reads x twice: two parallel edges
  auto z = sum(y + x);
  const TapeView<double> view(g);
  CHECK(out_degree(x.id(), view) == 3);
  CHECK(in_degree(y.id(), view) == 2);
  std::vector<uint32_t> slots;
  for (auto [e, end] = in_edges(y.id(), view); e != end; ++e) {
    CHECK(source(*e, view) == x.id());
    slots.push_back(e->slot);
  }
  CHECK(slots == std::vector<uint32_t>{0, 1});
  size_t in_total = 0;
  size_t out_total = 0;
  for (auto [v, end] = vertices(view); v != end; ++v) {
    in_total += in_degree(*v, view);
    out_total += out_degree(*v, view);
    CHECK(degree(*v, view) == in_degree(*v, view) + out_degree(*v, view));
  }
  CHECK(in_total == num_edges(view));
  CHECK(out_total == num_edges(view));
  std::vector<NodeId> next;
  for (auto [a, end] = adjacent_vertices(x.id(), view); a != end; ++a) next.push_back(*a);
  CHECK(next == std::vector<NodeId>{y.id(), y.id(), y.id() + 1});
  CHECK(out_degree(z.id(), view) == 0);
}

TEST_CASE("BGL: backward reaches exactly the nodes that need a gradient and lead to the loss",
          "[core][bgl]") {
  const bool fused = GENERATE(false, true);
  Parameter<double> w(Tensor<double>::from({2}, {0.5, -1}));
  Graph<double> g;
  set_fusion(g, fused);
  auto x = g.input(Tensor<double>::from({2}, {1, 2}));
  auto used = tanh(x * g.param(w));
  auto dead = exp(g.param(w));       // needs a gradient, but the loss does not read it
  auto constant = x * 3.0;           // the loss reads it, but it needs no gradient
  auto loss = sum(used + constant);  // `dead` is not on any path to the loss
  g.backward(loss);

  const TapeView<double> view(g);
  std::vector<bool> ancestor(g.size(), false);  // nodes with a path to the loss
  Discovered visitor;
  visitor.seen = &ancestor;
  boost::breadth_first_search(boost::make_reverse_graph(view), loss.id(), boost::visitor(visitor));
  CHECK_FALSE(ancestor[dead.id()]);
  CHECK(ancestor[constant.id()]);
  CHECK(ancestor[x.id()]);
  for (NodeId v = 0; v < g.size(); ++v) {
    const Node<double>& n = g.node(v);
    INFO("node " << v << " '" << n.op->name << "', fusion " << fused);
    if (n.group == 0 || n.retains_grad())
      CHECK((n.grad != nullptr) == (ancestor[v] && n.needs_grad()));
    else  // inside a fused region only the gradients handed on are stored
      CHECK((n.grad == nullptr || (ancestor[v] && n.needs_grad())));
  }
  CHECK(w.grad()[0] != 0.0);
  CHECK_FALSE(dead.has_grad());
  CHECK_FALSE(constant.has_grad());
}
