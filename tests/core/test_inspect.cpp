// Graph statistics, DOT export and the gradient-flow report.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include "support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

template <Scalar T>
std::string dot_of(const Graph<T>& g, const DotOptions& o = {},
                   std::span<const NamedParameter<std::type_identity_t<T>>> params = {}) {
  std::ostringstream out;
  write_dot(out, g, o, params);
  return out.str();
}

// Vertex ids declared in a DOT text ("12[label=...").
std::set<int> dot_vertices(const std::string& dot) {
  std::set<int> ids;
  const std::regex decl(R"((^|\n)(\d+)\[label=)");
  for (auto it = std::sregex_iterator(dot.begin(), dot.end(), decl); it != std::sregex_iterator();
       ++it)
    ids.insert(std::stoi((*it)[2]));
  return ids;
}

// The statistics of op `name`; REQUIREs that it was recorded.
OpStats find_op(const GraphStats& s, const std::string& name) {
  for (const OpStats& op : s.ops)
    if (op.op == name) return op;
  FAIL("op " << name << " was not recorded");
  return {};
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

// ---- Statistics ----

TEST_CASE("graph statistics count what backward visited and what it pruned",
          "[core][inspect][stats]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({2}, {0.5, -1}), true);
  auto y = tanh(x);
  auto dead = exp(x);                                            // needs a gradient, never reached
  auto c = g.constant(Tensor<double>::from({2}, {1, 2})) * 2.0;  // reached by nothing
  auto loss = sum(y + c);

  const GraphStats before = graph_stats(g);
  CHECK_FALSE(before.after_backward);
  CHECK(before.nodes == 7);
  CHECK(before.need_grad == 5);  // x, y, dead, add, sum
  CHECK(before.backward_runs == 0);
  CHECK_THAT(before.table(), Catch::Contains("not run"));

  g.backward(loss);
  const GraphStats s = graph_stats(g);
  CHECK(s.after_backward);
  CHECK(s.nodes == 7);
  CHECK(s.reached == 4);        // x, y, add, sum
  CHECK(s.backward_runs == 3);  // tanh, add, sum: not exp (dead), mul_scalar or the leaves
  CHECK(s.pruned() == 4);
  CHECK(s.longest_chain == 4);  // x -> tanh -> add -> sum
  CHECK(s.value_bytes == 6 * 2 * sizeof(double) + sizeof(double));
  CHECK(s.grad_bytes == 3 * 2 * sizeof(double) + sizeof(double));
  CHECK(s.param_bytes == 0);
  CHECK(s.arena_bytes >= s.value_bytes + s.grad_bytes);
  REQUIRE(s.ops.size() == 6);
  CHECK(s.ops[0].op == "input");  // most recorded first
  CHECK(s.ops[0].recorded == 2);
  for (const OpStats& op : s.ops) {
    INFO(op.op);
    CHECK(op.backward_runs == (op.op == "tanh" || op.op == "add" || op.op == "sum" ? 1 : 0));
  }
  const std::string table = s.table();
  CHECK_THAT(table, Catch::Contains("nodes backward visited") && Catch::Contains("exp") &&
                        Catch::Contains("longest dependency chain"));
  CHECK_FALSE(dead.has_grad());
}

TEST_CASE("graph statistics: parameters are counted once and apart from the tape",
          "[core][inspect][stats]") {
  Parameter<float> w(Tensor<float>::from({3}, {1, 2, 3}));
  Graph<float> g;
  auto loss = sum(g.param(w) * g.param(w));  // one node for both uses
  g.backward(loss);
  const GraphStats s = graph_stats(g);
  CHECK(s.param_bytes == 2 * 3 * sizeof(float));  // value and gradient
  CHECK(s.value_bytes == 3 * sizeof(float) + sizeof(float));
  CHECK(s.reached == 3);  // w (through mul), mul, sum
}

TEST_CASE("the longest dependency chain of an unrolled layer grows linearly with T",
          "[core][inspect][stats]") {
  Generator gen(7);
  LSTM<float> lstm(rwd::test::rnn_options(2, 3), gen);
  std::vector<int64_t> chain;
  for (int64_t steps : {2, 4, 6, 8}) {
    Graph<float> g;
    auto out = lstm.forward(g.input(Tensor<float>::normal({steps, 2, 2}, 0, 1, gen)));
    g.backward(sum(out.output));
    const GraphStats s = graph_stats(g);
    chain.push_back(s.longest_chain);
    // Per step one fused hidden product (addmm: xp_t + h·W_hhᵀ) and one fused gate update
    // (lstm_pointwise), plus one addmm projecting all steps' inputs at once; the backward
    // visits every one of them.
    INFO("steps: " << steps);
    CHECK(find_op(s, "lstm_pointwise").recorded == steps);
    CHECK(find_op(s, "lstm_pointwise").backward_runs == steps);
    CHECK(find_op(s, "addmm").recorded == steps + 1);
    CHECK(find_op(s, "addmm").backward_runs == steps + 1);
  }
  CHECK(chain[1] > chain[0]);
  CHECK(chain[2] - chain[1] == chain[1] - chain[0]);
  CHECK(chain[3] - chain[2] == chain[1] - chain[0]);

  // Two layers: the same per layer.
  LSTM<float> deep(rwd::test::rnn_options(2, 3, 2), gen);
  Graph<float> g;
  auto out = deep.forward(g.input(Tensor<float>::normal({5, 2, 2}, 0, 1, gen)));
  g.backward(sum(out.output));
  const GraphStats s = graph_stats(g);
  CHECK(find_op(s, "lstm_pointwise").recorded == 2 * 5);
  CHECK(find_op(s, "lstm_pointwise").backward_runs == 2 * 5);
  CHECK(find_op(s, "addmm").recorded == 2 * (5 + 1));
  CHECK(find_op(s, "addmm").backward_runs == 2 * (5 + 1));
}

// ---- DOT ----

TEST_CASE("DOT: one vertex per node, scopes as nested clusters, loss and parameters apart",
          "[core][inspect][dot]") {
  Generator gen(8);
  LSTM<float> lstm(rwd::test::rnn_options(3, 4, 2), gen);
  Graph<float> g;
  auto out = lstm.forward(g.input(Tensor<float>::normal({3, 2, 3}, 0, 1, gen)));
  const std::string before = dot_of(g);
  CHECK(count(before, "|grad|") == 0);  // no backward yet
  g.backward(mean(square(out.output)));
  const auto params = lstm.named_parameters();
  const std::string dot = dot_of(g, {}, params);

  CHECK(dot.starts_with("digraph G {"));
  const std::set<int> ids = dot_vertices(dot);
  CHECK(ids.size() == g.size());
  CHECK(*ids.rbegin() == int(g.size()) - 1);
  for (const char* cluster : {"lstm.l0.fwd", "lstm.l1.fwd", "t=0", "t=1", "t=2"})
    CHECK(count(dot, fmt::format("label=\"{}\"", cluster)) > 0);
  CHECK(count(dot, "subgraph cluster_") == 2 * (1 + 3));  // 2 layers, each with 3 steps
  CHECK(count(dot, "doubleoctagon") == 1);                // the loss
  CHECK(count(dot, "label=\"loss: mean") == 1);
  for (const auto& p : params) CHECK(count(dot, "label=\"" + p.name + "\\n") == 1);
  // Inputs and constants are ellipses: the input x, and per layer the zero initial h and c.
  CHECK(count(dot, "shape=ellipse") == 1 + 2 * 2);
  CHECK(count(dot, "label=\"input\\n[3, 2, 3]\", shape=ellipse") == 1);
  CHECK(count(dot, "label=\"input\\n[2, 4]\", shape=ellipse") == 2 * 2);
  // None of them needs a gradient (x was given without requires_grad): the grey fill.
  CHECK(count(dot, R"(shape=ellipse, style=filled, fillcolor="#e9ecef")") == 1 + 2 * 2);
  CHECK(count(dot, "|grad|") > 0);
  // Edges: every input of every node, parallel ones once.
  std::set<std::pair<NodeId, NodeId>> expected;
  for (NodeId v = 0; v < g.size(); ++v)
    for (NodeId u : g.inputs(v)) expected.insert({u, v});
  CHECK(count(dot, "->") == expected.size());
  for (const auto& [u, v] : expected) CHECK(count(dot, fmt::format("\n{}->{} ", u, v)) == 1);
}

TEST_CASE("DOT: a long sequence collapses to its first and last steps", "[core][inspect][dot]") {
  Generator gen(9);
  RNN<double> rnn(rwd::test::rnn_options(2, 3), gen);
  Graph<double> g;
  auto out = rnn.forward(g.input(Tensor<double>(randn({10, 1, 2}, 1))));
  g.backward(sum(out.h_n()));
  DotOptions o;
  o.collapse_steps = true;
  o.keep_steps = 2;
  o.title = "rnn \"collapsed\"";
  const std::string dot = dot_of(g, o);
  for (int t : {0, 1, 8, 9}) CHECK(count(dot, fmt::format("label=\"t={}\"", t)) == 1);
  for (int t = 2; t < 8; ++t) CHECK(count(dot, fmt::format("label=\"t={}\"", t)) == 0);
  CHECK(count(dot, "t=2..7\\n6 steps") == 1);
  CHECK(count(dot, "box3d") == 1);
  CHECK(count(dot, R"(label="rnn \"collapsed\"")") == 1);  // escaped title
  CHECK(dot_vertices(dot).size() + 12 < g.size());         // 6 steps of >= 2 nodes each folded
  const std::string full = dot_of(g);
  CHECK(dot_vertices(full).size() == g.size());

  o.keep_steps = 5;  // 10 steps are not more than 2 × 5: nothing to collapse
  CHECK(dot_vertices(dot_of(g, o)).size() == g.size());
  o.keep_steps = -1;
  CHECK_THROWS_AS(dot_of(g, o), ValueError);
}

// ---- Gradient flow ----

TEST_CASE("gradient flow: ‖∂L/∂h_t‖ per layer, direction and step matches a manual unroll",
          "[core][inspect][gradflow]") {
  Generator gen(10);
  RNN<double> rnn(rwd::test::rnn_options(2, 3), gen);
  const Tensor<double> x = randn({5, 2, 2}, 11);
  Graph<double> g;
  auto out = rnn.forward(g.input(x));
  g.backward(sum(square(out.output)));
  const auto params = rnn.named_parameters();
  const GradientFlowReport report = gradient_flow(g, params);
  REQUIRE(report.hidden.size() == 1);
  CHECK(report.hidden[0].scope == "rnn.l0.fwd");
  CHECK(report.hidden[0].steps == std::vector<int64_t>{0, 1, 2, 3, 4});

  REQUIRE(report.params.size() == params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    CHECK(report.params[k].name == params[k].name);
    double norm = 0;
    for (int64_t i = 0; i < params[k].param->numel(); ++i)
      norm += params[k].param->grad()[i] * params[k].param->grad()[i];
    CHECK(report.params[k].norm == Approx(std::sqrt(norm)).epsilon(1e-12));
  }

  // The same computation unrolled by hand with the layer's own cell.
  Graph<double> m;
  std::vector<Var<double>> h;
  RNNCell<double>::State s{m.zeros({2, 3})};
  for (int64_t t = 0; t < 5; ++t) {
    s = rnn.cell(0, 0).step(reshape(slice(m.input(x), 0, t, t + 1), {2, 2}), s);
    h.push_back(s[0]);
  }
  m.backward(sum(square(concat(std::span<const Var<double>>(h), 0))));
  for (size_t t = 0; t < 5; ++t) {
    const auto grad = h[t].grad();
    double norm = 0;
    for (int64_t i = 0; i < grad.numel(); ++i) norm += grad[i] * grad[i];
    CHECK(report.hidden[0].norms[t] == Approx(std::sqrt(norm)).epsilon(1e-12));
  }
}

TEST_CASE("gradient flow: stacked bidirectional series, and decay back through a tanh RNN",
          "[core][inspect][gradflow]") {
  Generator gen(12);
  LSTM<float> lstm(rwd::test::rnn_options(2, 3, 2, true), gen);
  Graph<float> g;
  auto out = lstm.forward(g.input(Tensor<float>::normal({4, 2, 2}, 0, 1, gen)));
  g.backward(sum(out.output));
  const GradientFlowReport r = gradient_flow(g);
  std::vector<std::string> names;
  for (const auto& s : r.hidden) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{
                     "lstm.l0.fwd", "lstm.l0.fwd state[1]", "lstm.l0.rev", "lstm.l0.rev state[1]",
                     "lstm.l1.fwd", "lstm.l1.fwd state[1]", "lstm.l1.rev", "lstm.l1.rev state[1]"});
  CHECK(r.hidden[1].scope == "lstm.l0.fwd");
  CHECK(r.hidden[1].state == 1);  // the cell state c_t
  for (const auto& s : r.hidden) {
    CHECK(s.steps == std::vector<int64_t>{0, 1, 2, 3});  // the reverse direction sorted too
    for (size_t i = 0; i < s.norms.size(); ++i) {
      // c_t is an output of the fused lstm_pointwise op: its gradient is what flows on to
      // later steps, so the direction's last step (t = 3 forward, t = 0 reverse) has none.
      const bool last_c = s.state == 1 && s.steps[i] == (s.scope.ends_with("fwd") ? 3 : 0);
      if (last_c)
        CHECK(std::isnan(s.norms[i]));
      else
        CHECK(s.norms[i] > 0);
    }
  }
  CHECK(r.params.size() == 16);  // no names given: the parameters on the tape
  CHECK_THAT(r.params[0].name, Catch::StartsWith("param (node "));

  // A loss on the last step only: the gradient shrinks step by step going back in time.
  RNN<double> rnn(rwd::test::rnn_options(2, 8), gen);
  for (auto& [name, p] : rnn.named_parameters())
    if (name.starts_with("weight_hh")) p->assign(Tensor<double>::uniform({8, 8}, -0.2, 0.2, gen));
  Graph<double> h;
  auto o = rnn.forward(h.input(randn({12, 3, 2}, 13)));
  h.backward(sum(o.h_n()));
  const GradientFlowReport decay = gradient_flow(h);
  const std::vector<double>& norms = decay.hidden.at(0).norms;
  for (size_t t = 1; t < norms.size(); ++t) CHECK(norms[t - 1] < norms[t]);
  CHECK(norms.front() < 1e-3 * norms.back());
}

TEST_CASE("gradient flow: two threads report what one thread reports, '-' included",
          "[core][inspect][gradflow][threads]") {
  // With two threads the reverse direction runs on a side graph whose backward starts from
  // [output, h_n, c_n] flattened; a part the loss does not read (c_n here) must stay "no
  // gradient" ("-"), as on one thread, not become a gradient of zeros (0.000e+00).
  Generator gen(14);
  LSTM<double> lstm(rwd::test::rnn_options(2, 3, 2, true), gen);
  const Tensor<double> x = randn({4, 2, 2}, 15);
  using Loss = Var<double> (*)(const LSTM<double>::Output&);
  const std::pair<const char*, Loss> losses[] = {
      {"output", [](const LSTM<double>::Output& o) { return sum(square(o.output)); }},
      {"h_n", [](const LSTM<double>::Output& o) { return sum(o.state[0]); }},
      {"c_n", [](const LSTM<double>::Output& o) { return sum(o.state[1]); }},
  };
  for (const auto& [name, loss] : losses) {
    INFO("loss on " << name);
    std::array<GradientFlowReport, 2> reports;
    for (int threads : {1, 2}) {
      const rwd::test::ScopedThreads guard(threads);
      Graph<double> g;
      auto out = lstm.forward(g.input(x));
      lstm.zero_grad();
      g.backward(loss(out));
      reports[size_t(threads - 1)] = gradient_flow(g, lstm.named_parameters());
    }
    const GradientFlowReport& one = reports[0];
    const GradientFlowReport& two = reports[1];
    CHECK(two.table() == one.table());
    REQUIRE(two.hidden.size() == one.hidden.size());
    for (size_t k = 0; k < one.hidden.size(); ++k) {
      INFO(one.hidden[k].name);
      REQUIRE(two.hidden[k].norms.size() == one.hidden[k].norms.size());
      for (size_t t = 0; t < one.hidden[k].norms.size(); ++t) {
        INFO("t = " << t);
        const double a = one.hidden[k].norms[t];
        const double b = two.hidden[k].norms[t];
        CHECK(std::isnan(b) == std::isnan(a));
        if (!std::isnan(a)) CHECK(b == Approx(a).epsilon(1e-12).margin(1e-300));
      }
    }
  }
}

TEST_CASE("gradient flow: table, CSV, unreached marks and errors", "[core][inspect][gradflow]") {
  Graph<double> g;
  CHECK_THROWS_WITH(gradient_flow(g), Catch::Contains("no backward()"));
  Parameter<double> w(Tensor<double>::from({2}, {1, -2}));
  auto x = g.input(Tensor<double>::from({2}, {3, 4}), true);
  Var<double> loss = sum(x * g.param(w));
  {
    auto scope = g.scope("my, layer");  // a comma: quoted in CSV
    for (int t = 0; t < 3; ++t) {
      auto step = g.scope("t=", t);
      Var<double> h = x * double(t + 1);
      g.mark_step_output(h);
      loss = loss + double(t + 1) * sum(h);  // dL/dh_t = t + 1 in both elements
    }
    auto unrelated = g.scope("t=", 3);
    g.mark_step_output(exp(x));  // no gradient reaches it
  }
  g.backward(loss);
  const std::vector<NamedParameter<double>> params = {{"w", &w}};
  const GradientFlowReport r = gradient_flow(g, params);
  REQUIRE(r.hidden.size() == 1);
  CHECK(r.hidden[0].scope == "my, layer");
  for (int t = 0; t < 3; ++t)
    CHECK(r.hidden[0].norms[size_t(t)] == Approx((t + 1) * std::sqrt(2.0)));
  CHECK(std::isnan(r.hidden[0].norms[3]));
  CHECK(r.params[0].norm == Approx(5.0));  // ‖x‖ = ‖(3, 4)‖

  const std::string csv = r.csv();
  CHECK(csv.starts_with("kind,scope,state,step,norm\n"));
  CHECK_THAT(csv,
             Catch::Contains("hidden,\"my, layer\",0,3,\n") && Catch::Contains("param,w,,,5\n"));
  CHECK(count(csv, "\n") == 1 + 4 + 1);
  const std::string table = r.table();
  CHECK_THAT(table, Catch::Contains("my, layer") && Catch::Contains("5.000e+00"));
  CHECK(count(r.table(2), "\n") < count(table, "\n"));

  const auto dir =
      std::filesystem::temp_directory_path() / ("rewind_gradflow_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  r.write_csv((dir / "flow.csv").string());
  std::ifstream f(dir / "flow.csv");
  std::stringstream back;
  back << f.rdbuf();
  CHECK(back.str() == csv);
  std::filesystem::remove_all(dir);
  CHECK_THROWS_AS(r.write_csv((dir / "missing" / "flow.csv").string()), IoError);
}
