// Looking inside the graph of a 2-layer LSTM unrolled over 3 steps: trains it a little on a
// toy regression, then writes the last step's graph as DOT (lstm_graph.dot) and, when
// Graphviz's `dot` is on PATH, as a picture (lstm_graph.png); prints the graph statistics
// and the gradient-flow table.
//
//   inspect_graph [--steps T] [--collapse K] [--out PREFIX]
//
// --steps sets the sequence length (3); --collapse K draws only the first and last K steps
// of each layer in full; --out sets the path prefix of the files (lstm_graph).
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "cli.hpp"

using namespace rwd;

namespace {

struct Args {
  int64_t steps = 3;
  int64_t collapse = -1;
  std::string out = "lstm_graph";
};

Args parse(int argc, char** argv) {
  examples::Args cli(argc, argv,
                     "The graph of a small LSTM: DOT, picture, statistics, gradient flow.");
  Args a;
  a.steps = cli.integer("steps", a.steps, "sequence length", examples::at_least(1));
  a.collapse = cli.integer("collapse", a.collapse,
                           "draw only the first and last K steps in full (-1: all steps)",
                           examples::at_least(-1));
  a.out = cli.output_prefix("out", a.out, "path prefix of the files");
  cli.done();
  return a;
}

bool have_dot() {
  return std::system("command -v dot >/dev/null 2>&1") == 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  constexpr int64_t kBatch = 4;
  Generator gen(7);
  RecurrentOptions o;
  o.input_size = 2;
  o.hidden_size = 4;
  o.num_layers = 2;
  LSTM<float> lstm(o, gen);
  Linear<float> head(4, 1, gen);
  std::vector<NamedParameter<float>> params;
  for (auto& p : lstm.named_parameters()) params.push_back({"lstm." + p.name, p.param});
  for (auto& p : head.named_parameters()) params.push_back({"head." + p.name, p.param});

  // Task: after reading the sequence, output the mean of its first feature.
  const Tensor<float> x = Tensor<float>::normal({args.steps, kBatch, 2}, 0, 1, gen);
  Tensor<float> target({kBatch, 1});
  for (int64_t b = 0; b < kBatch; ++b) {
    for (int64_t t = 0; t < args.steps; ++t) target.at({b, 0}) += x.at({t, b, 0});
    target.at({b, 0}) /= float(args.steps);
  }

  Graph<float> g;
  float first_loss = 0;
  float last_loss = 0;
  for (int step = 0; step < 60; ++step) {
    g.clear();
    auto out = lstm.forward(g.input(x));
    Var<float> loss;
    {
      auto s = g.scope("head");
      loss =
          mse(head.forward(reshape(slice(out.output, 0, args.steps - 1, args.steps), {kBatch, 4})),
              g.constant(target));
    }
    g.backward(loss);
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
    if (step == 59) break;  // keep the last step's gradients for the pictures and tables
    for (auto& p : params) {
      for (int64_t i = 0; i < p.param->numel(); ++i)
        p.param->value()[i] -= 0.2f * p.param->grad()[i];
      p.param->zero_grad();
    }
  }
  fmt::print("loss {:.4f} -> {:.4f} after 60 steps\n\n", first_loss, last_loss);

  const GraphStats stats = graph_stats(g);
  fmt::print("{}\n", stats.table());
  const GradientFlowReport flow = gradient_flow(g, params);
  fmt::print("{}\n", flow.table());

  DotOptions dot_options;
  dot_options.title = fmt::format("2-layer LSTM, {} steps, after backward", args.steps);
  if (args.collapse >= 0) {
    dot_options.collapse_steps = true;
    dot_options.keep_steps = args.collapse;
  }
  std::ostringstream dot;
  write_dot(dot, g, dot_options, params);
  const std::string dot_path = args.out + ".dot";
  std::ofstream dot_file(dot_path);
  dot_file << dot.str();
  dot_file.close();
  if (!dot_file) throw IoError(fmt::format("cannot write '{}'", dot_path));
  fmt::print("wrote {} ({} nodes, {} bytes)\n", dot_path, g.size(), dot.str().size());
  if (have_dot()) {
    const std::string png = args.out + ".png";
    const std::string cmd = fmt::format("dot -Tpng -Gdpi=80 -o '{}' '{}'", png, dot_path);
    if (std::system(cmd.c_str()) != 0) {
      fmt::print(stderr, "dot failed on {}\n", dot_path);
      return 1;
    }
    fmt::print("wrote {}\n", png);
  } else {
    fmt::print("Graphviz `dot` is not installed: no PNG (apt-get install graphviz)\n");
  }

  // Exit status for the smoke test: training worked, backward pruned what it should, and
  // the file holds every layer and step as a cluster.
  std::ifstream check(dot_path);
  const std::string text((std::istreambuf_iterator<char>(check)), std::istreambuf_iterator<char>());
  bool ok = last_loss < first_loss && stats.backward_runs < stats.nodes && text == dot.str();
  for (const char* layer : {"lstm.l0.fwd", "lstm.l1.fwd"})
    ok = ok && text.find(fmt::format("label=\"{}\"", layer)) != std::string::npos;
  ok = ok && text.find(fmt::format("label=\"t={}\"", args.steps - 1)) != std::string::npos;
  ok = ok && flow.hidden.size() == 4 &&
       flow.hidden[0].steps.size() == size_t(args.steps);  // h, c × 2
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  fmt::print(stderr, "inspect_graph: {}\n", e.what());
  return 2;
}
