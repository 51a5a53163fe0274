// Graph statistics and the gradient-flow report. The DOT writer is in core/dot.cpp.
#include "rewind/core/inspect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace rwd {
namespace {

template <Scalar T>
double l2_norm(const T* v, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(v[i]) * double(v[i]);
  return std::sqrt(s);
}

std::string human_bytes(size_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < size_t(1) << 20) return fmt::format("{:.1f} KiB", double(bytes) / 1024.0);
  return fmt::format("{:.1f} MiB", double(bytes) / double(size_t(1) << 20));
}

// A CSV field, quoted when it holds a separator, a quote or a line break.
std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

std::string norm_text(double v) {
  return std::isnan(v) ? "-" : fmt::format("{:.3e}", v);
}

}  // namespace

// ---- Statistics ----

template <Scalar T>
GraphStats graph_stats(const Graph<T>& g) {
  GraphStats s;
  const auto n = NodeId(g.size());
  s.nodes = n;
  s.after_backward = g.backward_root() != Graph<T>::kNoNode;
  s.arena_bytes = g.bytes_used();
  std::map<std::string_view, OpStats> by_op;
  std::set<const T*> params_seen;
  std::vector<int64_t> depth(n, 0);  // nodes on the longest chain ending at each node
  for (NodeId id = 0; id < n; ++id) {
    const Node<T>& node = g.node(id);
    const size_t bytes = size_t(node.shape.numel()) * sizeof(T);
    OpStats& op = by_op[node.op->name];
    ++op.recorded;
    // The tape order is topological, so the inputs' depths are final.
    int64_t d = 0;
    for (NodeId in : g.inputs(id)) d = std::max(d, depth[in]);
    depth[id] = d + 1;
    s.longest_chain = std::max(s.longest_chain, depth[id]);
    if (node.needs_grad()) ++s.need_grad;
    if (node.is_param()) {
      if (params_seen.insert(node.value).second)
        s.param_bytes += node.grad != nullptr ? 2 * bytes : bytes;
      continue;
    }
    if (!node.is_alias()) s.value_bytes += bytes;
    if (!g.reached(id)) continue;  // inside a fused region, a gradient may stay there
    ++s.reached;
    if (node.grad != nullptr && (node.flags & Node<T>::kGradAlias) == 0) s.grad_bytes += bytes;
    if (node.op->backward != nullptr && node.needs_grad()) {  // as Graph::run_backward decides
      ++s.backward_runs;
      ++op.backward_runs;
    }
  }
  // A parameter's gradient pointer is set when recorded; count it as reached only when a
  // backward ran and the parameter is an input of a node whose backward ran.
  if (s.after_backward) {
    std::set<NodeId> param_reached;
    for (NodeId id = 0; id < n; ++id) {
      const Node<T>& node = g.node(id);
      if (!g.reached(id) || node.op->backward == nullptr || !node.needs_grad()) continue;
      for (NodeId in : g.inputs(id))
        if (g.node(in).is_param() && g.node(in).needs_grad()) param_reached.insert(in);
    }
    s.reached += int64_t(param_reached.size());
  }
  // Fused regions (Note [Backward groups] in extension.hpp): runs of nodes with one group id.
  for (NodeId id = 0; id < n;) {
    NodeId end = id + 1;
    const uint32_t group = g.node(id).group;
    while (group != 0 && end < n && g.node(end).group == group) ++end;
    if (group != 0 && end - id >= 2) {
      ++s.fused_regions;
      s.fused_ops += end - id;
    }
    id = end;
  }
  for (auto& [name, op] : by_op) {
    op.op = std::string(name);
    s.ops.push_back(std::move(op));
  }
  std::stable_sort(s.ops.begin(), s.ops.end(),
                   [](const OpStats& a, const OpStats& b) { return a.recorded > b.recorded; });
  return s;
}

std::string GraphStats::table() const {
  std::string out;
  auto row = [&out](std::string_view what, const std::string& value, std::string_view note = {}) {
    fmt::format_to(std::back_inserter(out), "  {:<28}{:>12}{}{}\n", what, value,
                   note.empty() ? "" : "   ", note);
  };
  out += "graph statistics\n";
  row("nodes recorded", fmt::format("{}", nodes));
  row("nodes needing a gradient", fmt::format("{}", need_grad));
  if (after_backward) {
    row("nodes reached by backward", fmt::format("{}", reached));
    row("nodes backward visited", fmt::format("{}", backward_runs), "(their op's backward ran)");
    row("nodes pruned", fmt::format("{}", pruned()),
        "(leaves, views, constants, no gradient reached)");
  } else {
    row("backward", "not run", "(this round)");
  }
  row("fused regions", fmt::format("{}", fused_regions),
      fmt::format("({} ops inside; docs/fusion.md)", fused_ops));
  row("longest dependency chain", fmt::format("{} nodes", longest_chain));
  row("values on the tape", human_bytes(value_bytes), "(views and parameters excluded)");
  row("gradients on the tape", human_bytes(grad_bytes), "(views and parameters excluded)");
  row("parameters used", human_bytes(param_bytes), "(values and gradients, not on the tape)");
  row("arena in use", human_bytes(arena_bytes), "(values, gradients, op scratch)");
  size_t width = 2;
  for (const OpStats& op : ops) width = std::max(width, op.op.size());
  fmt::format_to(std::back_inserter(out), "\n  {:<{}}  {:>10}  {:>14}\n", "op", width, "recorded",
                 "backward ran");
  for (const OpStats& op : ops)
    fmt::format_to(std::back_inserter(out), "  {:<{}}  {:>10}  {:>14}\n", op.op, width, op.recorded,
                   after_backward ? fmt::format("{}", op.backward_runs) : "-");
  return out;
}

// ---- Gradient flow ----

namespace {

// Note [Side graphs in the report]: with two threads, a bidirectional layer's reverse
// direction is recorded on a side graph (ops/side_graph.hpp), joined into the main graph by a
// side_exit node. The report must read as it does on one thread:
// - Order. The side graph's series go where one thread records the reverse direction: at
//   the side_exit node, after the forward direction of the same layer and before the next
//   layer.
// - Reach. The side backward starts from the whole gradient of side_exit, [output, h_n, c_n]
//   flattened. The parts no gradient reached in the main graph (c_n, when the loss reads
//   only the output) are zeros there, and the side graph's concat passes them on: the nodes
//   they alone feed get a gradient of zeros where one thread leaves them none ('-'). So in a
//   side graph a node counts as reached only when a path of reached nodes leads to it from a
//   reached part of the side output, which is what makes a gradient exist on one thread.

// Which nodes of a graph a gradient reached (in the main graph: those with a gradient).
using Reached = std::vector<bool>;

template <Scalar T>
Reached with_gradient(const Graph<T>& g) {
  Reached reached(g.size());
  for (NodeId id = 0; id < g.size(); ++id) reached[id] = g.reached(id);
  return reached;
}

// The windows [begin, end) of node `id`'s gradient that reached consumers read: a view that
// shares its input's gradient (a slice) reads its window, any other consumer all of it.
template <Scalar T>
std::vector<std::pair<int64_t, int64_t>> reached_windows(const Graph<T>& g, const Reached& reached,
                                                         NodeId id) {
  std::vector<std::pair<int64_t, int64_t>> windows;
  for (NodeId c = id + 1; c < g.size(); ++c) {
    const Node<T>& n = g.node(c);
    const auto in = g.inputs(c);
    if (!reached[c] || std::find(in.begin(), in.end(), id) == in.end()) continue;
    if ((n.flags & Node<T>::kGradAlias) != 0)
      windows.emplace_back(n.grad_offset, n.grad_offset + n.shape.numel());
    else
      windows.emplace_back(0, g.node(id).shape.numel());
  }
  return windows;
}

// The nodes of `side` a gradient reached, when its backward started from a gradient of which
// only `windows` were reached (Note [Side graphs in the report]). As Graph::run_backward: a
// reached node whose backward runs reaches its inputs that need a gradient, and a view that
// shares its input's gradient reaches that input. The side output is a concat of flat parts;
// a part is reached when its span overlaps a window. (Were it anything else, it would be
// reached whole, as its gradient buffer says.)
template <Scalar T>
Reached side_reached(const Graph<T>& side,
                     const std::vector<std::pair<int64_t, int64_t>>& windows) {
  Reached reached(side.size(), false);
  const NodeId root = side.backward_root();
  if (root == Graph<T>::kNoNode) return reached;
  reached[root] = true;
  const Node<T>& out = side.node(root);
  const auto parts = side.inputs(root);
  bool flat_concat = std::string_view(out.op->name) == "concat" && out.shape.rank() == 1;
  for (NodeId p : parts) flat_concat = flat_concat && side.node(p).shape.rank() == 1;
  if (flat_concat) {
    int64_t begin = 0;
    for (NodeId p : parts) {
      const int64_t end = begin + side.node(p).shape.numel();
      for (const auto& [b, e] : windows) reached[p] = reached[p] || (b < end && begin < e);
      begin = end;
    }
  }
  for (auto id = int64_t(root); id >= 0; --id) {
    const Node<T>& n = side.node(NodeId(id));
    if (!reached[size_t(id)]) continue;
    const auto in = side.inputs(NodeId(id));
    if ((n.flags & Node<T>::kGradAlias) != 0) reached[in[0]] = true;
    if (n.op->backward == nullptr || !n.needs_grad() || (flat_concat && NodeId(id) == root))
      continue;
    for (NodeId i : in) reached[i] = reached[i] || side.node(i).needs_grad();
  }
  return reached;
}

// A graph linked into another: the node carrying its result on the other's tape (Graph::
// link_side_graph) and what a gradient reached in it.
template <Scalar T>
struct LinkedSide {
  const Graph<T>* graph;
  std::string path;  // the scope path it was joined in
  NodeId exit;
  Reached reached;
};

template <Scalar T>
std::vector<LinkedSide<T>> linked_sides(const Graph<T>& g, const Reached& reached,
                                        const std::string& prefix) {
  std::vector<LinkedSide<T>> sides;
  for (const auto& linked : g.linked_graphs()) {
    if (linked.graph->round() != linked.round)
      throw GraphError(
          "gradient_flow: a side graph of this graph (a bidirectional layer's reverse "
          "direction, on two threads) has been recorded again since, for another graph");
    std::string at = g.scopes().path(linked.scope);
    if (!prefix.empty()) at = at.empty() ? prefix : fmt::format("{}/{}", prefix, at);
    sides.push_back({linked.graph, at, linked.exit,
                     side_reached(*linked.graph, reached_windows(g, reached, linked.exit))});
  }
  std::stable_sort(sides.begin(), sides.end(),
                   [](const LinkedSide<T>& a, const LinkedSide<T>& b) { return a.exit < b.exit; });
  return sides;
}

// The step marks of g, and of the graphs linked into it, as series keyed by (scope path,
// state); `prefix` is the path of the scope g was joined in ("" for the main graph), and
// `reached` which of g's nodes a gradient reached.
template <Scalar T>
void collect_step_norms(const Graph<T>& g, const Reached& reached, const std::string& prefix,
                        GradientFlowReport& report,
                        std::map<std::pair<std::string, uint32_t>, size_t>& series_of,
                        std::vector<std::vector<std::pair<int64_t, double>>>& points) {
  const ScopeTable& scopes = g.scopes();
  const std::vector<LinkedSide<T>> sides = linked_sides(g, reached, prefix);
  size_t next_side = 0;
  // The linked graphs joined before node `before`, in tape order.
  auto collect_sides = [&](NodeId before) {
    for (; next_side < sides.size() && sides[next_side].exit < before; ++next_side) {
      const LinkedSide<T>& side = sides[next_side];
      collect_step_norms(*side.graph, side.reached, side.path, report, series_of, points);
    }
  };
  for (const StepOutput& mark : g.step_outputs()) {
    collect_sides(mark.node);
    // A mark in an indexed scope ("t=3") belongs to the parent's series at t = the index;
    // any other mark is numbered in order within its own scope.
    const bool indexed = scopes.has_index(mark.scope);
    const ScopeId key = indexed ? scopes.parent(mark.scope) : mark.scope;
    std::string path = scopes.path(key);
    if (!prefix.empty()) path = path.empty() ? prefix : fmt::format("{}/{}", prefix, path);
    const auto [it, added] = series_of.try_emplace({path, mark.state}, report.hidden.size());
    if (added) {
      GradientSeries s;
      s.scope = path;
      s.state = mark.state;
      s.name = mark.state == 0 ? s.scope : fmt::format("{} state[{}]", s.scope, mark.state);
      report.hidden.push_back(std::move(s));
      points.emplace_back();
    }
    auto& series = points[it->second];
    const Node<T>& n = g.node(mark.node);
    const double norm = n.grad != nullptr && reached[mark.node]
                            ? l2_norm(n.grad, n.shape.numel())
                            : std::numeric_limits<double>::quiet_NaN();
    series.emplace_back(indexed ? scopes.index(mark.scope) : int64_t(series.size()), norm);
  }
  collect_sides(Graph<T>::kNoNode);
}

}  // namespace

template <Scalar T>
GradientFlowReport gradient_flow(const Graph<T>& g,
                                 std::span<const NamedParameter<std::type_identity_t<T>>> params) {
  if (g.backward_root() == Graph<T>::kNoNode)
    throw GraphError(
        "gradient_flow: no backward() has run on this graph since it was last cleared; the "
        "report reads the gradients backward leaves");
  GradientFlowReport report;
  std::map<std::pair<std::string, uint32_t>, size_t> series_of;  // index into report.hidden
  std::vector<std::vector<std::pair<int64_t, double>>> points;
  collect_step_norms(g, with_gradient(g), "", report, series_of, points);
  for (size_t k = 0; k < points.size(); ++k) {
    std::stable_sort(points[k].begin(), points[k].end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [t, norm] : points[k]) {
      report.hidden[k].steps.push_back(t);
      report.hidden[k].norms.push_back(norm);
    }
  }
  if (!params.empty()) {
    for (const NamedParameter<T>& p : params)
      report.params.push_back(
          {p.name, p.param->shape(), l2_norm(p.param->grad().data(), p.param->grad().numel())});
  } else {
    for (NodeId id = 0; id < g.size(); ++id) {
      const Node<T>& n = g.node(id);
      if (n.is_param() && n.grad != nullptr)
        report.params.push_back(
            {fmt::format("param (node {})", id), n.shape, l2_norm(n.grad, n.shape.numel())});
    }
  }
  return report;
}

std::string GradientFlowReport::table(size_t max_rows) const {
  std::string out;
  if (!hidden.empty()) {
    std::set<int64_t> all_steps;
    for (const GradientSeries& s : hidden) all_steps.insert(s.steps.begin(), s.steps.end());
    std::vector<int64_t> rows(all_steps.begin(), all_steps.end());
    if (max_rows > 0 && rows.size() > max_rows) {  // evenly spaced, first and last kept
      std::vector<int64_t> picked;
      for (size_t k = 0; k < max_rows; ++k)
        picked.push_back(rows[max_rows == 1 ? 0 : k * (rows.size() - 1) / (max_rows - 1)]);
      rows = picked;
    }
    out += "gradient norm of each step's state, ||dL/dh_t||, by time step\n";
    fmt::format_to(std::back_inserter(out), "  {:>6}", "t");
    std::vector<size_t> widths;
    for (const GradientSeries& s : hidden) {
      widths.push_back(std::max<size_t>(11, s.name.size()));
      fmt::format_to(std::back_inserter(out), "  {:>{}}", s.name, widths.back());
    }
    out += '\n';
    for (int64_t t : rows) {
      fmt::format_to(std::back_inserter(out), "  {:>6}", t);
      for (size_t k = 0; k < hidden.size(); ++k) {
        const auto& steps = hidden[k].steps;
        const auto it = std::lower_bound(steps.begin(), steps.end(), t);
        const std::string v = it != steps.end() && *it == t
                                  ? norm_text(hidden[k].norms[size_t(it - steps.begin())])
                                  : "";
        fmt::format_to(std::back_inserter(out), "  {:>{}}", v, widths[k]);
      }
      out += '\n';
    }
  }
  if (!params.empty()) {
    if (!out.empty()) out += '\n';
    size_t width = 9;
    for (const ParameterGradNorm& p : params) width = std::max(width, p.name.size());
    fmt::format_to(std::back_inserter(out), "  {:<{}}  {:>14}  {:>11}\n", "parameter", width,
                   "shape", "||grad||");
    for (const ParameterGradNorm& p : params)
      fmt::format_to(std::back_inserter(out), "  {:<{}}  {:>14}  {:>11}\n", p.name, width,
                     p.shape.str(), norm_text(p.norm));
  }
  return out;
}

std::string GradientFlowReport::csv() const {
  std::string out = "kind,scope,state,step,norm\n";
  auto number = [](double v) { return std::isnan(v) ? std::string() : fmt::format("{:.9g}", v); };
  for (const GradientSeries& s : hidden)
    for (size_t k = 0; k < s.steps.size(); ++k)
      fmt::format_to(std::back_inserter(out), "hidden,{},{},{},{}\n", csv_field(s.scope), s.state,
                     s.steps[k], number(s.norms[k]));
  for (const ParameterGradNorm& p : params)
    fmt::format_to(std::back_inserter(out), "param,{},,,{}\n", csv_field(p.name), number(p.norm));
  return out;
}

void GradientFlowReport::write_csv(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  const std::string text = csv();
  if (f) f.write(text.data(), std::streamsize(text.size()));
  f.close();
  if (!f) throw IoError(fmt::format("gradient_flow: cannot write the CSV file '{}'", path));
}

// NOLINTBEGIN(bugprone-macro-parentheses): T is a type, and the check reads the `>>` closing
// nested template arguments as a shift.
#define REWIND_INSTANTIATE(T)                       \
  template GraphStats graph_stats(const Graph<T>&); \
  template GradientFlowReport gradient_flow(        \
      const Graph<T>&, std::span<const NamedParameter<std::type_identity_t<T>>>);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace rwd
