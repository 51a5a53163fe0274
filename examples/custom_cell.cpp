// A custom op and a custom recurrent cell in user code, with the interfaces the built-in ones
// use. The op is lerp(a, b, w) = a + w∘(b − a), three inputs, written with Graph::record (for
// a one-input op with record_unary see custom_op.cpp and docs/adding-an-op.md). The cell is
// the minimal gated unit (Zhou et al. 2016, "Minimal gated unit for recurrent neural
// networks", eq. 6), whose update is that lerp:
//   f  = σ(W_f x + b_f + U_f h)
//   h̃  = tanh(W_c x + b_c + U_c (f∘h))
//   h' = lerp(h, h̃, f) = (1 − f)∘h + f∘h̃
// Both are gradient-checked in double (the cell through the generic sequence driver: two
// layers, both directions, per-sequence lengths), then the driver trains the cell in float on
// the adding problem (Hochreiter & Schmidhuber 1997): among T random numbers two are marked;
// predict their sum.
//
//   custom_cell            # gradient checks, then training (under a minute)
//   custom_cell --quick    # tiny settings: the smoke test
//
// Exit status 0 when both gradient checks pass and the loss went down; 2 on a bad option
// (named with its value) or an error.
#include <fmt/format.h>

#include <array>
#include <exception>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "blas_threads.hpp"
#include "cli.hpp"
#include "progress.hpp"

using rwd::Backward;
using rwd::Generator;
using rwd::Graph;
using rwd::Parameter;
using rwd::Tensor;
using rwd::Var;

namespace {

// ---- The op ----

// y = a + w∘(b − a);  da += dy∘(1 − w),  db += dy∘w,  dw += dy∘(b − a)
template <rwd::Scalar T>
void lerp_backward(const Backward<T>& bw) {
  const T* a = bw.x(0);
  const T* b = bw.x(1);
  const T* w = bw.x(2);
  const T* dy = bw.dy();
  const int64_t n = bw.numel();
  if (T* da = bw.dx(0))  // nullptr when that input needs no gradient
    for (int64_t i = 0; i < n; ++i) da[i] += dy[i] * (T(1) - w[i]);
  if (T* db = bw.dx(1))
    for (int64_t i = 0; i < n; ++i) db[i] += dy[i] * w[i];
  if (T* dw = bw.dx(2))
    for (int64_t i = 0; i < n; ++i) dw[i] += dy[i] * (b[i] - a[i]);
}

template <rwd::Scalar T>
const rwd::OpDef<T> kLerp{"lerp", &lerp_backward<T>};

/// a + w∘(b − a) for three values of one shape.
template <rwd::Scalar T>
Var<T> lerp(Var<T> a, Var<T> b, Var<T> w) {
  Graph<T>& g = rwd::graph_of("lerp", {a, b, w});  // live Vars of one graph, or GraphError
  if (!(a.shape() == b.shape()) || !(a.shape() == w.shape()))
    throw rwd::ShapeError(fmt::format("lerp: shapes {}, {} and {} differ", a.shape().str(),
                                      b.shape().str(), w.shape().str()));
  auto [y, out] = g.record(kLerp<T>, {a, b, w}, a.shape());  // checked first, then recorded
  const T* av = a.data();
  const T* bv = b.data();
  const T* wv = w.data();
  for (int64_t i = 0; i < a.shape().numel(); ++i) out[i] = av[i] + wv[i] * (bv[i] - av[i]);
  return y;
}

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
    return {lerp(h, candidate, f)};
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

// ---- Gradient checks (double) ----

bool check_op() {
  Generator gen(1);
  const std::vector<Tensor<double>> inputs = {Tensor<double>::normal({3, 4}, 0, 1, gen),
                                              Tensor<double>::normal({3, 4}, 0, 1, gen),
                                              Tensor<double>::uniform({3, 4}, 0, 1, gen)};
  const auto report = rwd::gradcheck(
      [](Graph<double>&, std::span<const Var<double>> in) { return lerp(in[0], in[1], in[2]); },
      inputs);
  fmt::print("gradcheck lerp:               {}\n", report.summary());
  return report.passed;
}

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

}  // namespace

int main(int argc, char** argv) try {
  examples::use_one_blas_thread();
  examples::Args args(argc, argv,
                      "A custom op (lerp) and a custom recurrent cell (MGU) in user code: "
                      "gradient checks, then training through the sequence driver.");
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

  const bool op_ok = check_op();
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
  return op_ok && cell_ok && learned ? 0 : 1;
} catch (const std::exception& e) {  // e.g. no memory for the sizes asked for
  fmt::print(stderr, "custom_cell: {}\n", e.what());
  return 2;
}
