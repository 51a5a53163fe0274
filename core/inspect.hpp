// Looking inside a recorded graph: statistics, a DOT drawing with name scopes as clusters,
// and the gradient-flow report (‖∂L/∂h_t‖ per recurrent layer, direction and time step).
// Nothing here runs unless called; the tape records the little it needs (scope ids, step
// marks) on its own. To run Boost.Graph algorithms on a tape, see core/tape_view.hpp.
// docs/inspect.md shows all of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "rewind/core/graph.hpp"

namespace rwd {

// ---- Statistics ----

/// How often one op was recorded, and how often its backward ran in the last backward pass.
struct OpStats {
  std::string op;
  int64_t recorded = 0;
  int64_t backward_runs = 0;
};

/// Counts and sizes of one graph round.
struct GraphStats {
  int64_t nodes = 0;            ///< nodes recorded
  int64_t need_grad = 0;        ///< nodes a gradient can flow to (set when recorded)
  int64_t reached = 0;          ///< nodes the last backward gave a gradient
  int64_t backward_runs = 0;    ///< nodes whose op's backward ran in the last backward
  bool after_backward = false;  ///< whether backward ran this round
  int64_t longest_chain = 0;    ///< nodes on the longest dependency chain (input to output)
  size_t value_bytes = 0;       ///< values the tape owns (views and parameters excluded)
  size_t grad_bytes = 0;        ///< gradients the tape owns (views and parameters excluded)
  size_t param_bytes = 0;       ///< values and gradients of the parameters used (not the tape's)
  size_t arena_bytes = 0;       ///< the graph's arena in use: values, gradients, op scratch
  int64_t fused_regions = 0;    ///< backward groups (fused regions) of two or more nodes
  int64_t fused_ops = 0;        ///< nodes inside those regions (each also counted per op)
  std::vector<OpStats> ops;     ///< per op, most recorded first

  /// Nodes recorded whose backward never ran: leaves, views, constants, dead branches.
  [[nodiscard]] int64_t pruned() const { return nodes - backward_runs; }
  /// A printable table of all of the above.
  [[nodiscard]] std::string table() const;
};

/// Statistics of the graph as it is now (after backward, the backward columns are filled).
template <Scalar T>
GraphStats graph_stats(const Graph<T>& g);

// ---- DOT ----

struct DotOptions {
  /// Draw long runs of time steps short: under each scope whose indexed children ("t=0",
  /// "t=1", ...) number more than 2·keep_steps, the first and last keep_steps steps are
  /// drawn in full and the steps between become one vertex.
  bool collapse_steps = false;
  int64_t keep_steps = 1;
  /// After backward, show each node's gradient norm.
  bool grad_norms = true;
  /// A title drawn above the graph.
  std::string title;
};

/// Writes the graph in Graphviz DOT (through boost::write_graphviz): one vertex per node
/// with its op, output shape and, after backward, its gradient norm; parameters (named
/// from `params` when given), inputs and the loss (the last backward's root) drawn apart;
/// name scopes as nested clusters. After a backward, nodes no gradient reached are dashed.
/// `params` takes module.named_parameters() as it is. Throws ValueError for a negative
/// keep_steps.
template <Scalar T>
void write_dot(std::ostream& out, const Graph<T>& g, const DotOptions& options = {},
               std::span<const NamedParameter<std::type_identity_t<T>>> params = {});

// ---- Gradient flow ----

/// ‖∂L/∂h_t‖ for the steps of one layer and direction (or any scope whose children were
/// marked with Graph::mark_step_output); with state > 0, of another state element (an
/// LSTM's cell state c_t is state 1).
struct GradientSeries {
  std::string scope;           ///< "lstm.l0.fwd"
  uint32_t state = 0;          ///< 0: the output h; 1: c for an LSTM
  std::string name;            ///< scope, plus " state[k]" for state k > 0
  std::vector<int64_t> steps;  ///< t, ascending
  std::vector<double> norms;   ///< Frobenius norm over [B, H]; NaN where no gradient reached
};

struct ParameterGradNorm {
  std::string name;
  Shape shape;
  double norm = 0;
};

struct GradientFlowReport {
  std::vector<GradientSeries> hidden;
  std::vector<ParameterGradNorm> params;

  /// One row per time step, one column per series, then the parameter norms. With
  /// max_rows > 0, at most that many evenly spaced steps (first and last included).
  [[nodiscard]] std::string table(size_t max_rows = 0) const;
  /// Long format: "kind,scope,state,step,norm", kind "hidden" (a step's state) or "param".
  [[nodiscard]] std::string csv() const;
  /// csv() into a file; IoError when it cannot be written.
  void write_csv(const std::string& path) const;
};

/// After backward: the gradient norm of every step state the sequence layers marked,
/// grouped by layer, direction and state element (h first), and of every parameter in `params`
/// (when empty, of the parameters on the tape, unnamed). Throws GraphError when no backward ran
/// this round.
template <Scalar T>
GradientFlowReport gradient_flow(
    const Graph<T>& g, std::span<const NamedParameter<std::type_identity_t<T>>> params = {});

}  // namespace rwd
