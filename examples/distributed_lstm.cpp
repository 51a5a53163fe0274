// Data-parallel training of an LSTM over MPI (docs/distributed.md):
//   mpirun -np 2 build/release/examples/distributed_lstm
// Task: read 20 numbers and output, at every step, the running sum so far (a regression an
// LSTM learns in a few hundred steps). Every step draws a global batch of 32 sequences; rank
// r of N trains on sequences [r·32/N, (r+1)·32/N), and DistributedOptimizer averages the
// gradients, so the run computes what one process would with all 32. Rank 0 prints the loss
// averaged over the ranks and the communication per step. Exits non-zero (every rank)
// unless the loss fell below a fifth of its start. --quick: 150 steps instead of 400.
#include <cstdio>
#include <span>
#include <stdexcept>
#include <vector>

#include <rewind/core/communicator.hpp>
#include <rewind/optim/distributed.hpp>
#include <rewind/rewind.hpp>

#include "cli.hpp"

using namespace rwd;

namespace {

constexpr int64_t kSteps = 20;
constexpr int64_t kGlobalBatch = 32;
constexpr int64_t kHidden = 32;

// The global batch of training step `step` (the same on every rank), then this rank's share:
// x [T, b, 1] uniform in [-1, 1], y [T·b, 1] the running sums.
void make_batch(int step, int64_t first, int64_t count, Tensor<float>& x, Tensor<float>& y) {
  Generator gen(1000 + uint64_t(step));
  const Tensor<float> all = Tensor<float>::uniform({kSteps, kGlobalBatch, 1}, -1, 1, gen);
  for (int64_t b = 0; b < count; ++b) {
    float running = 0;
    for (int64_t t = 0; t < kSteps; ++t) {
      const float v = all.data()[t * kGlobalBatch + first + b];
      running += v;
      x.data()[t * count + b] = v;
      y.data()[t * count + b] = running;
    }
  }
}

void train(Communicator& comm, int iterations) {
  if (kGlobalBatch % comm.size() != 0)
    throw std::runtime_error("distributed_lstm: the number of ranks must divide 32");
  const int64_t count = kGlobalBatch / comm.size();  // this rank's sequences
  const int64_t first = comm.rank() * count;

  Generator init(1);
  LSTM<float> lstm(RecurrentOptions{.input_size = 1, .hidden_size = kHidden}, init);
  Linear<float> head(kHidden, 1, init);
  std::vector<NamedParameter<float>> params = lstm.named_parameters();
  for (const auto& np : head.named_parameters()) params.push_back({"head." + np.name, np.param});
  GradientOptions clip;
  clip.max_norm = 1.0;  // after the averaging: the same factor on every rank
  Adam<float> adam(params, 1e-2, {}, clip);
  DistributedOptimizer<float> opt(adam, comm);  // rank 0's weights and state for everyone

  Tensor<float> x({kSteps, count, 1});   // [T, b, 1]
  Tensor<float> y({kSteps * count, 1});  // [T·b, 1]
  Graph<float> g;
  float first_loss = 0;
  float loss_now = 0;
  for (int step = 0; step < iterations; ++step) {
    make_batch(step, first, count, x, y);
    g.clear();
    auto seq = lstm.forward(g.input(x));
    Var<float> prediction = head.forward(reshape(seq.output, {kSteps * count, kHidden}));
    Var<float> loss = mse(prediction, g.constant(y));  // mean over this rank's share
    g.backward(loss);
    opt.step();
    opt.zero_grad();
    float global_loss = loss.item();  // the mean over all 32 sequences
    comm.allreduce_average(std::span<float>(&global_loss, 1));
    if (step == 0) first_loss = global_loss;
    loss_now = global_loss;
    if (comm.rank() == 0 && (step % 50 == 0 || step == iterations - 1))
      std::printf("step %4d  loss %.4f  (%d ranks, %lld bytes and %.0f us of all-reduce)\n", step,
                  double(global_loss), comm.size(), static_cast<long long>(opt.last_report().bytes),
                  1e6 * opt.last_report().comm_seconds);
  }
  if (!(loss_now < 0.2f * first_loss))
    throw std::runtime_error("distributed_lstm: the loss did not fall below a fifth of its start");
  if (comm.rank() == 0)
    std::printf("ok: loss %.4f -> %.4f\n", double(first_loss), double(loss_now));
}

}  // namespace

int main(int argc, char** argv) {
  // Options first: a bad value ends every rank with exit status 2 before MPI starts.
  examples::Args args(argc, argv,
                      "Data-parallel training of an LSTM over MPI: run it with mpirun -np 2 "
                      "(docs/distributed.md).");
  const bool quick = args.flag("quick", "fewer steps, for a smoke test");
  const int64_t steps =
      args.integer("steps", quick ? 150 : 400, "training steps", examples::at_least(1));
  args.done();
  Communicator comm;
  return comm.run([&] { train(comm, int(steps)); });
}
