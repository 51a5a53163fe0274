// The vanishing-gradient problem made visible. A vanilla RNN, an LSTM and a GRU learn a task
// whose answer depends only on the first few inputs of a long sequence: the class is whether
// x_0 + x_1 + x_2 > 0, and every later input is noise. Before and after training, a few fresh
// batches go forward and backward and the gradient-flow report gives ‖∂L/∂h_t‖ for every
// step t. The program prints the table, writes it as CSV and draws log10 ‖∂L/∂h_t‖ against t
// as an SVG.
//
//   gradient_flow [--steps T] [--hidden H] [--iters N] [--gate-bias B] [--seed S]
//                 [--out PREFIX]
//
// Defaults (T = 40, H = 24, N = 400) keep the smoke test short; docs/inspect.md gives the
// command behind its numbers. The LSTM's forget gate and the GRU's update gate start with
// bias B (3) so that they begin by keeping their state, as is usual for long-range tasks
// (close to the "chrono" initialisation, b ~ log T); --gate-bias 0 shows what happens
// without it.
// Exit status: 0 when the RNN passes back a far smaller share of the gradient to t = 0 than
// the LSTM and the GRU do, before training and after, and the LSTM and GRU learn the task.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "cli.hpp"

using namespace rwd;

namespace {

struct Args {
  int64_t steps = 40;
  int64_t hidden = 24;
  int iters = 400;
  float gate_bias = 3.0f;
  uint64_t seed = 1;
  std::string out = "gradient_flow";
};

Args parse(int argc, char** argv) {
  examples::Args cli(argc, argv,
                     "Gradient flow through time: a vanilla RNN, an LSTM and a GRU on a task that "
                     "depends on the first inputs of a long sequence.");
  Args a;
  using examples::at_least;
  a.steps = cli.integer("steps", a.steps, "sequence length T", at_least(4));
  a.hidden = cli.integer("hidden", a.hidden, "hidden size", at_least(1));
  a.iters = int(cli.integer("iters", a.iters, "training batches",
                            examples::between(0, std::numeric_limits<int>::max())));
  a.seed = uint64_t(cli.integer("seed", int64_t(a.seed), "random seed", at_least(0)));
  a.gate_bias = float(cli.real("gate-bias", a.gate_bias, "initial LSTM forget / GRU update bias",
                               examples::between(-100, 100)));  // sigmoid(±100): fully shut/open
  a.out = cli.output_prefix("out", a.out, "path prefix of the CSV and SVG");
  cli.done();
  return a;
}

constexpr int64_t kBatch = 32;
constexpr int64_t kInformative = 3;  // the target depends on x_0, x_1, x_2 only
constexpr int kEvalBatches = 8;

// A batch: x [T, B, 1] standard normal, label = [x_0 + x_1 + x_2 > 0].
struct Batch {
  Tensor<float> x;
  std::vector<int64_t> labels;
};

Batch make_batch(int64_t steps, Generator& gen) {
  Batch b{Tensor<float>::normal({steps, kBatch, 1}, 0, 1, gen), std::vector<int64_t>(kBatch)};
  for (int64_t i = 0; i < kBatch; ++i) {
    float s = 0;
    for (int64_t t = 0; t < kInformative; ++t) s += b.x.at({t, i, 0});
    b.labels[size_t(i)] = s > 0 ? 1 : 0;
  }
  return b;
}

struct Result {
  std::string model;
  float first_loss = 0, last_loss = 0, accuracy = 0;
  std::vector<int64_t> steps;
  std::vector<double> init;     // ‖∂L/∂h_t‖ before training, mean over kEvalBatches batches
  std::vector<double> trained;  // the same after training
  std::vector<double> cell_init, cell_trained;  // ‖∂L/∂c_t‖, for the LSTM only
  // t = 0 over the last step that has a gradient (an LSTM's c_T has none: see docs/inspect.md).
  [[nodiscard]] static double ratio(const std::vector<double>& n) {
    for (auto it = n.rbegin(); it != n.rend(); ++it)
      if (!std::isnan(*it)) return n.front() / *it;
    return std::nan("");
  }
};

// Trains layer + a linear head on the final hidden state, reporting the gradient flow
// before and after.
template <class Layer>
Result run(const std::string& model, Layer& layer, const Args& args, Generator& gen) {
  Linear<float> head(args.hidden, 2, gen);
  std::vector<NamedParameter<float>> params = layer.named_parameters();
  for (const auto& [name, p] : head.named_parameters()) params.push_back({"head." + name, p});
  // The library's Adam (lr 0.01), with the global gradient norm clipped to 1 before each update.
  Adam<float> adam(params, 0.01, {}, {.max_norm = 1.0});
  Result r;
  r.model = model;
  Graph<float> g;
  auto forward = [&](const Batch& b) {
    g.clear();
    auto out = layer.forward(g.input(b.x));
    auto logits = head.forward(reshape(out.h_n(), {kBatch, args.hidden}));
    return std::pair(logits, cross_entropy(logits, b.labels));
  };
  // Forward and backward on fresh batches: the mean of ‖∂L/∂h_t‖ over them (one batch of
  // 32 gives a noisy picture), and the accuracy.
  auto measure = [&](std::vector<double>& norms, std::vector<double>& cell) {
    int correct = 0;
    norms.clear();
    cell.clear();
    for (int k = 0; k < kEvalBatches; ++k) {
      const Batch b = make_batch(args.steps, gen);
      auto [logits, loss] = forward(b);
      g.backward(loss);
      for (int64_t i = 0; i < kBatch; ++i)
        correct +=
            (logits.value().at({i, 1}) > logits.value().at({i, 0}) ? 1 : 0) == b.labels[size_t(i)];
      const GradientFlowReport report = gradient_flow(g);
      const GradientSeries& h = report.hidden.at(0);  // "rnn.l0.fwd", ...
      r.steps = h.steps;
      norms.resize(h.norms.size(), 0.0);
      for (size_t t = 0; t < norms.size(); ++t) norms[t] += h.norms[t] / kEvalBatches;
      if (report.hidden.size() > 1) {  // "lstm.l0.fwd state[1]": c_t
        const GradientSeries& c = report.hidden[1];
        cell.resize(c.norms.size(), 0.0);
        for (size_t t = 0; t < cell.size(); ++t) cell[t] += c.norms[t] / kEvalBatches;
      }
    }
    adam.zero_grad();
    return float(correct) / float(kBatch * kEvalBatches);
  };

  measure(r.init, r.cell_init);
  float running = 0;
  for (int it = 0; it < args.iters; ++it) {
    const Batch b = make_batch(args.steps, gen);
    auto [logits, loss] = forward(b);
    g.backward(loss);
    adam.step();
    adam.zero_grad();
    running = it == 0 ? loss.item() : 0.95f * running + 0.05f * loss.item();
    if (it == 0) r.first_loss = loss.item();
  }
  r.last_loss = running;
  r.accuracy = measure(r.trained, r.cell_trained);
  fmt::print("{:<5} loss {:.3f} -> {:.3f} (smoothed), accuracy on fresh batches {:.2f}\n", model,
             r.first_loss, r.last_loss, r.accuracy);
  return r;
}

// log10 ‖∂L/∂h_t‖ against t, solid after training and dashed before (and the LSTM's
// ‖∂L/∂c_t‖ after training dotted), as a self-contained SVG.
std::string svg_plot(const std::vector<Result>& results, int64_t steps) {
  struct Line {
    const std::vector<double>* norms;
    const std::vector<int64_t>* steps;
    const char* colour;
    const char* dash;
    std::string label;
  };
  const char* colours[] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd"};
  std::vector<Line> lines;
  for (size_t k = 0; k < results.size(); ++k) {
    const Result& r = results[k];
    const char* c = colours[k % 4];
    lines.push_back({&r.trained, &r.steps, c, "",
                     fmt::format("{} h_t, trained (acc {:.2f})", r.model, r.accuracy)});
    lines.push_back(
        {&r.init, &r.steps, c, " stroke-dasharray=\"6 4\"", r.model + " h_t, at initialisation"});
    if (!r.cell_trained.empty())
      lines.push_back(
          {&r.cell_trained, &r.steps, c, " stroke-dasharray=\"2 3\"", r.model + " c_t, trained"});
  }
  constexpr double kW = 820, kH = 480, kLeft = 70, kRight = 230, kTop = 44, kBottom = 50;
  double lo = 1e300, hi = -1e300;
  for (const Line& l : lines)
    for (double v : *l.norms)
      if (v > 0) {
        lo = std::min(lo, std::log10(v));
        hi = std::max(hi, std::log10(v));
      }
  lo = std::floor(lo);
  hi = std::ceil(hi);
  if (hi <= lo) hi = lo + 1;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](double t) { return kLeft + pw * t / double(steps - 1); };
  auto py = [&](double lg) { return kTop + ph * (hi - lg) / (hi - lo); };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"Helvetica,Arial,sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">How much gradient reaches "
      "each time step: ||dL/dh_t||, loss after the last step</text>\n",
      kW, kH, kLeft + pw / 2);
  const int decade_step = hi - lo > 16 ? 4 : hi - lo > 8 ? 2 : 1;
  for (double d = hi; d >= lo; d -= decade_step)
    s += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#dee2e6\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">1e{5}</text>\n",
        kLeft, kLeft + pw, py(d), kLeft - 6, py(d) + 4, int(d));
  const int64_t tick = std::max<int64_t>(1, steps / 10);
  for (int64_t t = 0; t < steps; t += tick)
    s += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#495057\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        px(double(t)), kTop + ph, kTop + ph + 5, kTop + ph + 18, t);
  s += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#495057\"/>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">time step t (the target depends on "
      "t = 0, 1, 2 only)</text>\n"
      "<text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">gradient norm "
      "(log scale)</text>\n",
      kLeft, kTop, pw, ph, kLeft + pw / 2, kH - 12, kTop + ph / 2);
  double legend_y = kTop + 16;
  for (const Line& l : lines) {
    std::string points;
    for (size_t i = 0; i < l.steps->size(); ++i)
      if ((*l.norms)[i] > 0)
        points +=
            fmt::format("{:.1f},{:.1f} ", px(double((*l.steps)[i])), py(std::log10((*l.norms)[i])));
    s += fmt::format(
        "<polyline fill=\"none\" stroke=\"{0}\" stroke-width=\"2\"{1} points=\"{2}\"/>\n"
        "<line x1=\"{3}\" x2=\"{4}\" y1=\"{5}\" y2=\"{5}\" stroke=\"{0}\" stroke-width=\"2\"{1}/>"
        "<text x=\"{6}\" y=\"{7}\">{8}</text>\n",
        l.colour, l.dash, points, kLeft + pw + 12, kLeft + pw + 36, legend_y, kLeft + pw + 42,
        legend_y + 4, l.label);
    legend_y += 20;
  }
  return s + "</svg>\n";
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  fmt::print(
      "task: classify sign(x_0 + x_1 + x_2) after reading {} steps of noise-filled "
      "input; hidden {}, {} training batches of {}\n\n",
      args.steps, args.hidden, args.iters, kBatch);
  RecurrentOptions o;
  o.input_size = 1;
  o.hidden_size = args.hidden;
  Generator gen(args.seed);
  std::vector<Result> results;
  {
    RNN<float> rnn(o, gen);
    results.push_back(run("RNN", rnn, args, gen));
  }
  {
    LSTM<float> lstm(o, gen);
    // Forget gate (rows H..2H of b_ih, gate order i, f, g, o) starts open.
    for (int64_t j = args.hidden; j < 2 * args.hidden; ++j)
      lstm.cell(0, 0).bias_ih()->value()[j] += args.gate_bias;
    results.push_back(run("LSTM", lstm, args, gen));
  }
  {
    GRU<float> gru(o, gen);
    // Update gate (rows H..2H, gate order r, z, n) starts leaning towards keeping h.
    for (int64_t j = args.hidden; j < 2 * args.hidden; ++j)
      gru.cell(0, 0).bias_ih()->value()[j] += args.gate_bias;
    results.push_back(run("GRU", gru, args, gen));
  }

  // The table behind the plot.
  std::vector<int64_t> shown;
  for (int64_t t = 0; t < args.steps; t += std::max<int64_t>(1, args.steps / 10))
    shown.push_back(t);
  if (shown.back() != args.steps - 1) shown.push_back(args.steps - 1);
  fmt::print("\n||dL/dh_t||, mean over {} fresh batches\n  {:>6}", kEvalBatches, "t");
  for (const Result& r : results) {
    fmt::print("  {:>11}  {:>11}", r.model + " init", r.model);
    if (!r.cell_trained.empty()) fmt::print("  {:>11}  {:>11}", "c_t init", "c_t");
  }
  fmt::print("\n");
  auto row = [&](const std::string& label, auto value) {
    fmt::print("  {:>6}", label);
    for (const Result& r : results) {
      fmt::print("  {:>11.3e}  {:>11.3e}", value(r.init), value(r.trained));
      if (!r.cell_trained.empty())
        fmt::print("  {:>11.3e}  {:>11.3e}", value(r.cell_init), value(r.cell_trained));
    }
    fmt::print("\n");
  };
  for (int64_t t : shown)
    row(fmt::format("{}", t), [t](const std::vector<double>& n) { return n[size_t(t)]; });
  row("ratio", [](const std::vector<double>& n) { return Result::ratio(n); });
  fmt::print(
      "  (ratio: t = 0 over t = T-1, or the last step with a gradient; 'init' before training, "
      "then after {} batches)\n",
      args.iters);

  const std::string csv_path = args.out + ".csv";
  const std::string svg_path = args.out + ".svg";
  std::ofstream csv(csv_path);
  csv << "model,state,phase,step,norm\n";
  for (const Result& r : results)
    for (size_t i = 0; i < r.steps.size(); ++i) {
      csv << fmt::format("{0},h,init,{1},{2:.9g}\n{0},h,trained,{1},{3:.9g}\n", r.model, r.steps[i],
                         r.init[i], r.trained[i]);
      if (!r.cell_trained.empty())
        csv << fmt::format("{0},c,init,{1},{2:.9g}\n{0},c,trained,{1},{3:.9g}\n", r.model,
                           r.steps[i], r.cell_init[i], r.cell_trained[i]);
    }
  std::ofstream svg(svg_path);
  svg << svg_plot(results, args.steps);
  if (!csv || !svg) throw IoError(fmt::format("gradient_flow: cannot write {}", csv_path));
  fmt::print("\nwrote {} and {}\n", csv_path, svg_path);

  // Exit status for the smoke test: at initialisation the RNN passes back a far smaller
  // share of the gradient than the gated layers do (the vanishing-gradient problem; by more
  // than 1000x), and the gated layers learn the long-range task. Measured at the defaults over
  // seeds 1-30 and 2024, the margin at initialisation was at least 1e6 every time. After
  // training it is printed but not checked: in a few runs (seeds 11, 15, 2024) the RNN partly
  // learns the task and keeps more of its gradient, and which runs those are shifts with
  // rounding, so such a check would pass or fail with the CPU's BLAS kernel.
  const Result& rnn = results[0];
  const Result& lstm = results[1];
  const Result& gru = results[2];
  auto far_below = [](const std::vector<double>& a, const std::vector<double>& b, double f) {
    return Result::ratio(a) < f * Result::ratio(b);
  };
  const bool vanishes = far_below(rnn.init, lstm.init, 1e-3) && far_below(rnn.init, gru.init, 1e-3);
  const bool learned = args.iters == 0 || (lstm.last_loss < 0.9f * lstm.first_loss &&
                                           gru.last_loss < 0.9f * gru.first_loss);
  if (!vanishes) fmt::print(stderr, "gradient_flow: the RNN's gradient did not vanish faster\n");
  if (!learned) fmt::print(stderr, "gradient_flow: the LSTM or the GRU did not learn\n");
  return vanishes && learned ? 0 : 1;
} catch (const std::exception& e) {
  fmt::print(stderr, "gradient_flow: {}\n", e.what());
  return 2;
}
