// write_dot: a recorded graph drawn with Graphviz. The drawing is built as a small
// boost::compressed_sparse_row_graph (one vertex per node, or per run of collapsed time steps)
// from the TapeView's edges and written by boost::write_graphviz; name scopes become nested
// clusters, written by the graph-properties hook before any vertex is declared.
#include <fmt/format.h>

#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <boost/graph/graphviz.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "rewind/core/inspect.hpp"
#include "rewind/core/tape_view.hpp"

namespace rwd {
namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

// A string for a DOT "..." literal: quotes and backslashes escaped; lines joined with \n.
std::string dot_text(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t k = 0; k < lines.size(); ++k) {
    if (k > 0) out += "\\n";
    for (char c : lines[k]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c == '\n' ? ' ' : c;
    }
  }
  return out;
}

struct DrawnVertex {
  std::vector<std::string> lines;
  std::string attrs;  // shape, style, colours
  ScopeId cluster = ScopeTable::kRoot;
  uint32_t region = 0;  // the fused region (backward group) of its node, 0 for none
};

using Drawing = boost::compressed_sparse_row_graph<boost::directedS>;

// What collapsed steps of one scope add up to.
struct CollapsedRun {
  size_t vertex = kNone;
  std::set<ScopeId> steps;
  int64_t first = std::numeric_limits<int64_t>::max();
  int64_t last = std::numeric_limits<int64_t>::min();
  int64_t nodes = 0;
};

// For each scope: the scope whose collapsed run it falls into, or kNone.
std::vector<size_t> collapsed_scopes(const ScopeTable& scopes, int64_t keep) {
  std::vector<size_t> into(scopes.size(), kNone);
  std::map<ScopeId, std::vector<ScopeId>> steps_of;  // parent -> indexed children, in order
  for (ScopeId s = 1; s < scopes.size(); ++s)
    if (scopes.has_index(s)) steps_of[scopes.parent(s)].push_back(s);
  std::vector<bool> hidden(scopes.size(), false);
  for (const auto& [parent, steps] : steps_of)
    if (int64_t(steps.size()) > 2 * keep)
      for (auto k = size_t(keep); k + size_t(keep) < steps.size(); ++k) hidden[steps[k]] = true;
  // A scope is opened inside its parent, so parents come first.
  for (ScopeId s = 1; s < scopes.size(); ++s) {
    const ScopeId p = scopes.parent(s);
    if (into[p] != kNone)
      into[s] = into[p];
    else if (hidden[s])
      into[s] = p;
  }
  return into;
}

// Writes the scopes that hold vertices as nested clusters listing their vertices.
class ClusterWriter {
 public:
  ClusterWriter(const ScopeTable& scopes, const std::vector<DrawnVertex>& vertices,
                std::string graph_attrs)
      : scopes_(scopes),
        vertices_(&vertices),
        members_(scopes.size()),
        children_(scopes.size()),
        graph_attrs_(std::move(graph_attrs)) {
    std::vector<bool> used(scopes.size(), false);
    for (size_t v = 0; v < vertices.size(); ++v) {
      members_[vertices[v].cluster].push_back(v);
      for (ScopeId s = vertices[v].cluster; s != ScopeTable::kRoot && !used[s];
           s = scopes.parent(s))
        used[s] = true;
    }
    for (ScopeId s = 1; s < scopes.size(); ++s)
      if (used[s]) children_[scopes.parent(s)].push_back(s);
  }

  void operator()(std::ostream& out) const {
    out << graph_attrs_;
    write_members(out, ScopeTable::kRoot, "");
    for (ScopeId c : children_[ScopeTable::kRoot]) write(out, c, 1);
  }

 private:
  void write(std::ostream& out, ScopeId s, int depth) const {
    const std::string pad(size_t(2 * depth), ' ');
    out << pad << "subgraph cluster_" << s << " {\n"
        << pad << "  label=\"" << dot_text({scopes_.name(s)}) << "\";\n"
        << pad << "  style=\"rounded" << (scopes_.has_index(s) ? ",filled" : "")
        << "\"; color=\"#6c757d\"; fillcolor=\"#f8f9fa\"; fontsize=10;\n";
    write_members(out, s, pad);
    for (ScopeId c : children_[s]) write(out, c, depth + 1);
    out << pad << "}\n";
  }

  // The scope's vertices; those of one fused region inside a cluster of their own, labelled
  // with its number and ops (Note [Backward groups] in extension.hpp).
  void write_members(std::ostream& out, ScopeId s, const std::string& pad) const {
    const std::vector<size_t>& members = members_[s];
    std::string loose;
    for (size_t i = 0; i < members.size();) {
      const uint32_t region = (*vertices_)[members[i]].region;
      size_t end = i + 1;
      while (region != 0 && end < members.size() && (*vertices_)[members[end]].region == region)
        ++end;
      if (region == 0 || end - i < 2) {
        for (; i < end; ++i) loose += fmt::format(" {};", members[i]);
        continue;
      }
      out << pad << "  subgraph cluster_s" << s << "_r" << region << " {\n"
          << pad << fmt::format(R"dot(    label="fused region {} ({} ops)";)dot", region, end - i)
          << '\n'
          << pad
          << R"(    style="dashed,filled"; color="#fd7e14"; fillcolor="#fff4e6"; fontsize=9;)"
          << '\n'
          << pad << "   ";
      for (; i < end; ++i) out << ' ' << members[i] << ';';
      out << '\n' << pad << "  }\n";
    }
    if (!loose.empty()) out << pad << " " << loose << '\n';
  }

  const ScopeTable& scopes_;
  const std::vector<DrawnVertex>* vertices_;
  std::vector<std::vector<size_t>> members_;
  std::vector<std::vector<ScopeId>> children_;
  std::string graph_attrs_;
};

template <Scalar T>
double grad_norm(const Node<T>& n) {
  double s = 0;
  for (int64_t i = 0; i < n.shape.numel(); ++i) s += double(n.grad[i]) * double(n.grad[i]);
  return std::sqrt(s);
}

}  // namespace

template <Scalar T>
void write_dot(std::ostream& out, const Graph<T>& g, const DotOptions& options,
               std::span<const NamedParameter<std::type_identity_t<T>>> params) {
  if (options.collapse_steps && options.keep_steps < 0)
    throw ValueError(
        fmt::format("write_dot: keep_steps is {}; it must be at least 0", options.keep_steps));
  const ScopeTable& scopes = g.scopes();
  const NodeId loss = g.backward_root();
  const bool after_backward = loss != Graph<T>::kNoNode;
  const std::vector<size_t> collapsed = options.collapse_steps
                                            ? collapsed_scopes(scopes, options.keep_steps)
                                            : std::vector<size_t>(scopes.size(), kNone);

  std::vector<DrawnVertex> drawn;
  std::vector<size_t> vertex_of(g.size());
  std::map<size_t, CollapsedRun> runs;  // by the scope holding the run
  for (NodeId id = 0; id < g.size(); ++id) {
    const Node<T>& n = g.node(id);
    const size_t run_scope = n.is_param() ? kNone : collapsed[n.scope];
    if (run_scope != kNone) {
      CollapsedRun& run = runs[run_scope];
      if (run.vertex == kNone) {
        run.vertex = drawn.size();
        drawn.push_back({{}, {}, ScopeId(run_scope)});
      }
      ScopeId step = n.scope;  // the collapsed step scope directly under run_scope
      while (scopes.parent(step) != run_scope) step = scopes.parent(step);
      run.steps.insert(step);
      run.first = std::min(run.first, scopes.index(step));
      run.last = std::max(run.last, scopes.index(step));
      ++run.nodes;
      vertex_of[id] = run.vertex;
      continue;
    }
    vertex_of[id] = drawn.size();
    DrawnVertex& dv = drawn.emplace_back();
    // Parameters are shared by every step that reads them: drawn outside all scopes.
    dv.cluster = n.is_param() ? ScopeTable::kRoot : n.scope;
    dv.region = n.group;
    std::string name = n.op->name;
    if (n.is_param())
      for (const NamedParameter<T>& p : params)
        if (p.param->value().data() == n.value) name = p.name;
    dv.lines = {id == loss ? "loss: " + name : name, n.shape.str()};
    if (options.grad_norms && after_backward && n.grad != nullptr)
      dv.lines.push_back(fmt::format("|grad| {:.3g}", grad_norm(n)));
    if (id == loss)
      dv.attrs = R"(shape=doubleoctagon, style=filled, fillcolor="#f8d7da")";
    else if (n.is_param())
      dv.attrs = R"(shape=box, style=filled, fillcolor="#cfe2ff")";
    else if (g.inputs(id).empty())  // inputs and constants
      dv.attrs = n.needs_grad() ? R"(shape=ellipse, style=filled, fillcolor="#d1e7dd")"
                                : R"(shape=ellipse, style=filled, fillcolor="#e9ecef")";
    else if (after_backward && !g.reached(id))  // no gradient reached it
      dv.attrs = R"(shape=box, style="rounded,dashed", color="#adb5bd", fontcolor="#6c757d")";
    else
      dv.attrs = R"(shape=box, style=rounded)";
  }
  for (const auto& [scope, run] : runs) {
    DrawnVertex& dv = drawn[run.vertex];
    dv.lines = {fmt::format("{}{}..{}", scopes.label(*run.steps.begin()), run.first, run.last),
                fmt::format("{} steps, {} nodes", run.steps.size(), run.nodes)};
    dv.attrs = R"(shape=box3d, style=filled, fillcolor="#fff3cd")";
  }

  // Edges between drawn vertices, once each (collapsed steps fold many into one); the set
  // keeps them sorted by source, as the CSR graph wants them.
  const TapeView<T> view(g);
  std::set<std::pair<size_t, size_t>> drawn_edges;
  for (auto [e, end] = edges(view); e != end; ++e) {
    const size_t a = vertex_of[source(*e, view)];
    const size_t b = vertex_of[target(*e, view)];
    if (a != b) drawn_edges.insert({a, b});
  }
  const Drawing d(boost::edges_are_sorted, drawn_edges.begin(), drawn_edges.end(), drawn.size());

  std::string graph_attrs =
      "  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
      "  edge [arrowsize=0.6, color=\"#495057\"];\n";
  if (!options.title.empty())
    graph_attrs +=
        fmt::format("  label=\"{}\"; labelloc=t; fontsize=14;\n", dot_text({options.title}));
  const ClusterWriter clusters(scopes, drawn, std::move(graph_attrs));
  auto vertex_writer = [&drawn](std::ostream& o, size_t v) {
    o << "[label=\"" << dot_text(drawn[v].lines) << "\", " << drawn[v].attrs << "]";
  };
  boost::write_graphviz(out, d, vertex_writer, boost::default_writer(), clusters);
}

template void write_dot(std::ostream&, const Graph<float>&, const DotOptions&,
                        std::span<const NamedParameter<float>>);
template void write_dot(std::ostream&, const Graph<double>&, const DotOptions&,
                        std::span<const NamedParameter<double>>);

}  // namespace rwd
