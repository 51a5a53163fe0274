// A custom recurrent cell in user code, with the interfaces the built-in cells use, built
// from public ops only: the minimal gated unit (Zhou et al. 2016, "Minimal gated unit for
// recurrent neural networks", eq. 6),
//   f  = σ(W_f x + b_f + U_f h)
//   h̃  = tanh(W_c x + b_c + U_c (f∘h))
//   h' = h + f∘(h̃ − h)                 (= (1 − f)∘h + f∘h̃)
// It needs no op of its own: the tape fuses consecutive elementwise ops (ops/fusion.hpp), so
// each run of add, sigmoid, mul, tanh, sub in a step has its backward in one pass, as a
// hand-written op's would be. (Writing an op: custom_op.cpp and docs/adding-an-op.md.)
// The cell is gradient-checked in double through the generic sequence driver (two layers,
// both directions, per-sequence lengths), then the driver trains it in float on the adding
// problem (Hochreiter & Schmidhuber 1997): among T random numbers two are marked; predict
// their sum. Last, a training step is timed against the built-in GRU of the same sizes
// (rwd::GRU, fused cell ops) and against the same cell with fusion off.
//
//   custom_cell            # gradient check, training, timing (under a minute)
//   custom_cell --quick    # tiny settings: the smoke test
//
// Exit status 0 when the gradient check passes and the loss went down (the timing only
// reports); 2 on a bad option (named with its value) or an error.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "blas_threads.hpp"
#include "cli.hpp"
#include "progress.hpp"

using rwd::Generator;
using rwd::Graph;
using rwd::Parameter;
using rwd::Tensor;
using rwd::Var;

namespace {

// ---- The cell ----

template <rwd::Scalar T>
class MGUCell : public rwd::Module<T> {
 public:
  using Scalar = T;
  using State = std::array<Var<T>, 1>;  // {h}, [B, H]

  /// Weights uniform in ±1/√H, as PyTorch's cells.
  MGUCell(int64_t input_size, int64_t hidden_size, Generator& gen)
      : weight_ih_(uniform({2 * hidden_size, input_size}, hidden_size, gen)),
        bias_ih_(uniform({2 * hidden_size}, hidden_size, gen)),
        weight_hf_(uniform({hidden_size, hidden_size}, hidden_size, gen)),
        weight_hc_(uniform({hidden_size, hidden_size}, hidden_size, gen)) {}

  [[nodiscard]] int64_t input_size() const { return weight_ih_.shape()[1]; }
  [[nodiscard]] int64_t hidden_size() const { return weight_hf_.shape()[0]; }

  /// Optional (the ProjectingCell concept): the input parts of both gates for all steps in
  /// one product, x [N, I] -> [N, 2H]; the driver calls it once before its loop.
  Var<T> project_input(Var<T> x) {
    Graph<T>& g = x.graph();
    return rwd::linear(x, g.param(weight_ih_), g.param(bias_ih_));
  }
  /// One step from a projected input xp [B, 2H].
  State step_projected(Var<T> xp, const State& s) {
    Graph<T>& g = xp.graph();
    const Var<T> h = s[0];
    const auto [xf, xc] = rwd::chunk<2>(xp, 1);
    const Var<T> f = rwd::sigmoid(xf + rwd::matmul(h, g.param(weight_hf_), false, true));
    const Var<T> candidate = rwd::tanh(xc + rwd::matmul(f * h, g.param(weight_hc_), false, true));
    return {h + f * (candidate - h)};  // sub, mul, add: fused with the tanh before them
  }
  /// One step from a raw input x [B, I] (what the RecurrentCell concept requires).
  State step(Var<T> x, const State& s) { return step_projected(project_input(x), s); }

  void visit(rwd::ModuleVisitor<T>& v) override {
    v.parameter("weight_ih", weight_ih_);
    v.parameter("bias_ih", bias_ih_);
    v.parameter("weight_hf", weight_hf_);
    v.parameter("weight_hc", weight_hc_);
  }

 private:
  static Tensor<T> uniform(rwd::Shape shape, int64_t hidden, Generator& gen) {
    const double k = 1.0 / std::sqrt(double(hidden));
    return Tensor<T>::uniform(shape, -k, k, gen);
  }

  Parameter<T> weight_ih_;  // [2H, I]: f rows, then candidate rows
  Parameter<T> bias_ih_;    // [2H]
  Parameter<T> weight_hf_;  // [H, H]
  Parameter<T> weight_hc_;  // [H, H]
};

static_assert(rwd::ProjectingCell<MGUCell<float>>);

/// The generic driver over the cell: stacking, directions, lengths, initial states and
/// PyTorch-style names (weight_ih_l0, weight_hf_l1_reverse, ...) come with it.
template <rwd::Scalar T>
rwd::Recurrent<MGUCell<T>> make_mgu(const rwd::RecurrentOptions& options, Generator& gen) {
  return rwd::Recurrent<MGUCell<T>>(
      "MGU", options,
      [](int64_t in, int64_t hidden, bool, Generator& g) { return MGUCell<T>(in, hidden, g); },
      gen);
}

// ---- Gradient check (double): through the fused regions, as the tape records by default ----

bool check_cell() {
  Generator gen(2);
  auto layer = make_mgu<double>(
      {.input_size = 3, .hidden_size = 2, .num_layers = 2, .bidirectional = true}, gen);
  const Tensor<double> x = Tensor<double>::normal({4, 2, 3}, 0, 1, gen);  // [T, B, I]
  const std::vector<Tensor<double>> inputs = {x};
  const std::vector<int64_t> lengths = {4, 2};
  const auto params = layer.named_parameters();
  const auto report = rwd::gradcheck(
      [&](Graph<double>&, std::span<const Var<double>> in) {
        auto out = layer.forward(in[0], {}, lengths);
        return rwd::concat({rwd::reshape(out.output, {-1}), rwd::reshape(out.h_n(), {-1})}, 0);
      },
      inputs, params);
  fmt::print("gradcheck MGU (2 layers, bidirectional, lengths 4 and 2, {} parameters): {}\n",
             params.size(), report.summary());
  return report.passed;
}

// ---- Training (float): the adding problem ----

// x [T, B, 2]: a random number in [0, 1) and a mark (1 at two steps: one in each half);
// target [B, 1]: the sum of the two marked numbers.
void adding_batch(int64_t steps, int64_t batch, Generator& gen, Tensor<float>& x,
                  Tensor<float>& target) {
  x = Tensor<float>::zeros({steps, batch, 2});
  target = Tensor<float>::zeros({batch, 1});
  for (int64_t b = 0; b < batch; ++b) {
    const auto first = int64_t(gen.below(uint64_t(steps / 2)));
    const int64_t second = steps / 2 + int64_t(gen.below(uint64_t(steps - steps / 2)));
    for (int64_t t = 0; t < steps; ++t) {
      const auto v = float(gen.uniform());
      x.at({t, b, 0}) = v;
      if (t == first || t == second) {
        x.at({t, b, 1}) = 1;
        target[b] += v;
      }
    }
  }
}

class AddingModel : public rwd::Module<float> {
 public:
  AddingModel(int64_t hidden, Generator& gen)
      : mgu_(make_mgu<float>({.input_size = 2, .hidden_size = hidden}, gen)),
        head_(hidden, 1, gen),
        hidden_(hidden) {}
  Var<float> forward(Var<float> x) {  // [T, B, 2] -> [B, 1]
    return head_.forward(rwd::reshape(mgu_.forward(x).h_n(), {-1, hidden_}));
  }
  void visit(rwd::ModuleVisitor<float>& v) override {
    v.module("mgu", mgu_);
    v.module("head", head_);
  }

 private:
  rwd::Recurrent<MGUCell<float>> mgu_;
  rwd::Linear<float> head_;
  int64_t hidden_;
};

// ---- Timing (float): the user cell against the built-in GRU ----

/// One training step of `layer` on a fixed batch x [T, B, I], on its own graph: forward,
/// loss = sum of squares of every output, backward, gradients zeroed (bench_rnn's step).
template <class Layer>
class TrainStep {
 public:
  TrainStep(Layer& layer, const Tensor<float>& x, bool fused) : layer_(layer), x_(x) {
    rwd::set_fusion(graph_, fused);
  }
  void operator()() {
    graph_.clear();
    auto out = layer_.forward(graph_.input_view(x_));  // x in place: no copy is timed
    graph_.backward(rwd::sum(rwd::square(out.output)));
    layer_.zero_grad();
  }

 private:
  Layer& layer_;
  const Tensor<float>& x_;
  Graph<float> graph_;
};

/// Milliseconds per call of each of `steps`: the median over `rounds` rounds, in each of
/// which every step runs `calls` times in turn (the first one rotating), so the machine's
/// drift over the run hits all of them alike.
std::vector<double> median_ms(std::span<const std::function<void()>> steps, int rounds, int calls) {
  using Clock = std::chrono::steady_clock;
  for (const auto& step : steps)
    for (int i = 0; i < 2; ++i) step();  // warm-up: each graph's memory reaches its size
  std::vector<std::vector<double>> samples(steps.size());
  for (int r = 0; r < rounds; ++r)
    for (size_t k = 0; k < steps.size(); ++k) {
      const size_t i = (size_t(r) + k) % steps.size();
      const auto start = Clock::now();
      for (int c = 0; c < calls; ++c) steps[i]();
      const std::chrono::duration<double, std::milli> took = Clock::now() - start;
      samples[i].push_back(took.count() / calls);
    }
  std::vector<double> medians;
  for (auto& s : samples) {
    std::nth_element(s.begin(), s.begin() + std::ptrdiff_t(s.size() / 2), s.end());
    medians.push_back(s[s.size() / 2]);
  }
  return medians;
}

std::string format_ms(double ms) {
  return ms < 1 ? fmt::format("{:.0f} µs", ms * 1e3) : fmt::format("{:.2f} ms", ms);
}

/// Times a training step of the MGU (fusion on, then off) and of rwd::GRU, all with input 2
/// and the given hidden size, on one adding-problem batch [T, B, 2].
void time_train_step(int64_t length, int64_t batch, int64_t hidden, bool quick) {
  Generator gen(6);
  const rwd::RecurrentOptions options{.input_size = 2, .hidden_size = hidden};
  auto mgu = make_mgu<float>(options, gen);
  rwd::GRU<float> gru(options, gen);
  Tensor<float> x, target;
  adding_batch(length, batch, gen, x, target);
  TrainStep<rwd::Recurrent<MGUCell<float>>> mgu_fused(mgu, x, true);
  TrainStep<rwd::Recurrent<MGUCell<float>>> mgu_unfused(mgu, x, false);
  TrainStep<rwd::GRU<float>> gru_step(gru, x, true);
  const std::array<std::function<void()>, 3> steps = {std::ref(mgu_fused), std::ref(mgu_unfused),
                                                      std::ref(gru_step)};
  const int rounds = quick ? 5 : 21;
  const int calls = quick ? 2 : 5;
  const std::vector<double> ms = median_ms(steps, rounds, calls);
  fmt::print(
      "\ntrain step, T={}, B={}, H={} (forward + backward, medians of {} interleaved rounds): "
      "MGU (user cell, fused) {}, MGU unfused {}, built-in GRU {} (MGU has 2 gates against "
      "GRU's 3)\n",
      length, batch, hidden, rounds, format_ms(ms[0]), format_ms(ms[1]), format_ms(ms[2]));
  fmt::print("MGU fused / unfused {:.2f}, MGU fused / built-in GRU {:.2f}\n", ms[0] / ms[1],
             ms[0] / ms[2]);
}
}  // namespace

int main(int argc, char** argv) try {
  examples::use_one_blas_thread();
  examples::Args args(argc, argv,
                      "A custom recurrent cell (MGU) in user code, from public ops: a gradient "
                      "check, training through the sequence driver, then a training step timed "
                      "against the built-in GRU.");
  const bool quick = args.flag("quick", "tiny settings for a smoke test (seconds)");
  using examples::at_least;
  const int64_t steps = args.integer("steps", quick ? 300 : 3000, "training steps", at_least(1));
  // Two of the T numbers are marked: T >= 2.
  const int64_t length = args.integer("length", quick ? 10 : 50, "sequence length T", at_least(2));
  const int64_t hidden = args.integer("hidden", quick ? 16 : 64, "hidden size", at_least(1));
  const int64_t batch = args.integer("batch", 64, "sequences per step", at_least(1));
  const double lr = args.real("lr", 3e-3, "Adam learning rate", examples::positive());
  const std::string csv_path =
      args.output_file("csv", "custom_cell_loss.csv", "loss curve CSV ('' for none)");
  args.done();

  const bool cell_ok = check_cell();

  fmt::print(
      "\nadding problem, T = {}: predict the sum of the two marked numbers (predicting "
      "the mean, 1.0, scores a mean squared error of 0.167)\n",
      length);
  Generator gen(3);
  AddingModel model(hidden, gen);
  rwd::Adam<float> opt(model.named_parameters(), lr, {}, {.max_norm = 1.0});
  Tensor<float> eval_x, eval_y;
  Generator eval_gen(4);
  adding_batch(length, 1000, eval_gen, eval_x, eval_y);
  Graph<float> eval_graph;
  auto evaluate = [&] {
    eval_graph.clear();
    return rwd::mse(model.forward(eval_graph.constant(eval_x)), eval_graph.constant(eval_y)).item();
  };
  const float first = evaluate();
  examples::LossCsv csv(csv_path);
  examples::Progress progress("MGU", steps, &csv);
  Graph<float> g;
  Generator data(5);
  Tensor<float> x, y;
  for (int64_t step = 1; step <= steps; ++step) {
    adding_batch(length, batch, data, x, y);
    g.clear();
    Var<float> loss = rwd::mse(model.forward(g.constant(x)), g.constant(y));
    g.backward(loss);
    opt.step();
    opt.zero_grad();
    progress.step(step, loss.item(), batch * length);
  }
  progress.finish();
  const float last = evaluate();
  fmt::print(
      "held-out mean squared error: {:.4f} before training, {:.4f} after ({} steps, "
      "{:.1f} s)\n",
      first, last, steps, progress.elapsed());
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters())
    names.push_back(fmt::format("{} {}", name, p->shape().str()));
  fmt::print("parameters: {}\n", fmt::join(names, ", "));

  const bool learned = last < 0.5f * first;
  if (!learned) fmt::print("FAIL: the loss did not go down enough\n");
  time_train_step(length, batch, hidden, quick);
  return cell_ok && learned ? 0 : 1;
} catch (const std::exception& e) {  // e.g. no memory for the sizes asked for
  fmt::print(stderr, "custom_cell: {}\n", e.what());
  return 2;
}
