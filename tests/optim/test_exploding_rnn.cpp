// The reason clipping exists, as a test. A vanilla RNN run over 50 steps, whose recurrent
// weights are scaled up until its gradients explode, is trained with plain SGD: without
// clipping it diverges; with global-norm clipping, and again with value clipping, it
// converges. A control run with ordinary recurrent weights shows the learning rate itself
// is fine.
#include <cmath>

#include "support.hpp"

using namespace rwd;

namespace {

constexpr int64_t kSteps = 50;  // time steps the gradients travel through
constexpr int64_t kBatch = 8;
constexpr int64_t kHidden = 32;
constexpr int kIterations = 300;
constexpr double kLearningRate = 0.1;
constexpr double kTarget = 0.5;  // the task: output 0.5 after reading 50 steps of noise

struct Outcome {
  double first_loss = 0;
  double last_loss = 0;
  double first_grad_norm = 0;  // global 2-norm of the gradients at the first step
  bool refused = false;        // the optimizer threw on non-finite gradients (kThrow)
  GradStats stats;

  [[nodiscard]] bool diverged() const {
    return refused || !std::isfinite(last_loss) || last_loss > first_loss;
  }
  [[nodiscard]] bool converged() const {
    return !refused && std::isfinite(last_loss) && last_loss < 0.05 * first_loss;
  }
};

// The library's RNN layer (tanh, hidden 32) reads 50 steps; y = Linear(h_50);
// loss = mean((y - 0.5)^2). weight_hh_l0 is redrawn normal with standard deviation
// gain / sqrt(hidden), so its spectral radius is about `gain`.
template <Scalar T>
Outcome train(double gain, const GradientOptions& gradient_options) {
  Generator init(1);
  RNN<T> rnn(RecurrentOptions{.input_size = 1, .hidden_size = kHidden}, init);
  Linear<T> head(kHidden, 1, init);
  // The weights and data this test was tuned with (a sweep over 20 seeds, float and double),
  // drawn in that order from their own generator.
  Generator gen(9);
  auto& cell = rnn.cell(0, 0);
  cell.weight_ih().assign(Tensor<T>::normal({kHidden, 1}, 0, 1.0, gen).view());
  cell.weight_hh().assign(
      Tensor<T>::normal({kHidden, kHidden}, 0, gain / std::sqrt(double(kHidden)), gen).view());
  cell.bias_ih()->value().fill(T(0));
  cell.bias_hh()->value().fill(T(0));
  head.weight().assign(Tensor<T>::normal({1, kHidden}, 0, 0.1, gen).view());
  head.bias()->value().fill(T(0));
  std::vector<NamedParameter<T>> params = rnn.named_parameters();
  for (const auto& np : head.named_parameters()) params.push_back({"head." + np.name, np.param});
  const Tensor<T> x = Tensor<T>::uniform({kSteps, kBatch, 1}, -1, 1, gen);  // [T, B, 1]
  const Tensor<T> target = Tensor<T>::full({kBatch, 1}, T(kTarget));

  SGD<T> opt(params, kLearningRate, {}, gradient_options);
  Graph<T> g;
  Outcome out;
  for (int it = 0; it < kIterations; ++it) {
    g.clear();
    auto seq = rnn.forward(g.input(x));
    Var<T> y = head.forward(reshape(seq.h_n(), {kBatch, kHidden}));  // [B, 1]
    Var<T> loss = mse(y, g.constant(target));
    out.last_loss = double(loss.item());
    if (it == 0) out.first_loss = out.last_loss;
    // Stop a run that has clearly blown up (non-finite, or a million times its start).
    if (!std::isfinite(out.last_loss) || out.last_loss > 1e6 * out.first_loss) break;
    g.backward(loss);
    try {
      opt.step();
    } catch (const ValueError&) {
      out.refused = true;  // non-finite gradients, refused by the default kThrow policy
      break;
    }
    if (it == 0) out.first_grad_norm = opt.stats().last_norm;
    opt.zero_grad();
  }
  out.stats = opt.stats();
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE(
    "exploding gradients: a scaled-up RNN diverges without clipping and "
    "converges with global-norm or value clipping",
    "[optim][clip][rnn]", float, double) {
  using T = TestType;
  constexpr double kGain = 2.0;  // recurrent weights scaled up from a tame 0.9

  const Outcome control = train<T>(0.9, {});
  INFO("control (gain 0.9, no clipping): first grad norm " << control.first_grad_norm << ", loss "
                                                           << control.first_loss << " -> "
                                                           << control.last_loss);
  CHECK(control.first_grad_norm < 5);
  CHECK(control.converged());

  const Outcome plain = train<T>(kGain, {});
  INFO("no clipping: first grad norm " << plain.first_grad_norm << ", loss " << plain.first_loss
                                       << " -> " << plain.last_loss
                                       << (plain.refused ? " (refused)" : ""));
  CHECK(plain.first_grad_norm > 20 * control.first_grad_norm);  // the gradients explode
  CHECK(plain.diverged());

  const Outcome by_norm = train<T>(kGain, {.max_norm = 2.0});
  INFO("clip_grad_norm 2: loss " << by_norm.first_loss << " -> " << by_norm.last_loss << ", "
                                 << by_norm.stats.norm_clips << " clipped steps, max norm "
                                 << by_norm.stats.max_norm);
  CHECK(by_norm.converged());
  CHECK(by_norm.stats.norm_clips > 0);
  CHECK(by_norm.stats.max_norm > 20 * control.first_grad_norm);

  const Outcome by_value = train<T>(kGain, {.clip_value = 0.05});
  INFO("clip_grad_value 0.05: loss " << by_value.first_loss << " -> " << by_value.last_loss << ", "
                                     << by_value.stats.value_clips << " clipped steps");
  CHECK(by_value.converged());
  CHECK(by_value.stats.value_clips > 0);
}
