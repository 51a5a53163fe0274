// DistributedOptimizer under mpirun (tests/mpi/CMakeLists.txt runs it on 1, 2 and 3 ranks).
// One program, one check per mode (argv[1]). Every rank also computes the single-process
// reference, a run over the whole batch without MPI, so a check needs no file and the same
// mode proves "N ranks with B/N sequences each = one rank with B" for any N dividing B.
// A failed check throws; Communicator::run then ends every rank with the message.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <rewind/core/communicator.hpp>
#include <rewind/optim/distributed.hpp>
#include <rewind/rewind.hpp>

using namespace rwd;

namespace {

constexpr int64_t kSteps = 5;  // time steps
constexpr int64_t kBatch = 6;  // sequences in the whole batch: divisible by 1, 2 and 3 ranks
constexpr int64_t kInput = 3;
constexpr int64_t kHidden = 4;
constexpr int64_t kOutput = 2;
constexpr int kIterations = 20;

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("check failed: " + what);
}

// An LSTM (2 layers) with a linear head on every step; the loss is the mean squared error
// over this rank's sequences.
template <Scalar T>
struct Model {
  LSTM<T> lstm;
  Linear<T> head;
  explicit Model(uint64_t seed) : Model(Generator(seed)) {}
  explicit Model(Generator&& gen)
      : lstm(RecurrentOptions{.input_size = kInput, .hidden_size = kHidden, .num_layers = 2}, gen),
        head(kHidden, kOutput, gen) {}

  std::vector<NamedParameter<T>> parameters() {
    std::vector<NamedParameter<T>> params = lstm.named_parameters();
    for (const auto& np : head.named_parameters()) params.push_back({"head." + np.name, np.param});
    return params;
  }
};

// Sequences [first, first + count) of the whole batch: x [T, count, I], y [T·count, O].
template <Scalar T>
struct Shard {
  Tensor<T> x;
  Tensor<T> y;
};

template <Scalar T>
Shard<T> shard(int64_t first, int64_t count) {
  Generator gen(7);  // the same whole batch on every rank
  const Tensor<double> x = Tensor<double>::normal({kSteps, kBatch, kInput}, 0, 1, gen);
  const Tensor<double> y = Tensor<double>::normal({kSteps, kBatch, kOutput}, 0, 1, gen);
  Shard<T> out{Tensor<T>({kSteps, count, kInput}), Tensor<T>({kSteps * count, kOutput})};
  for (int64_t t = 0; t < kSteps; ++t)
    for (int64_t b = 0; b < count; ++b) {
      for (int64_t i = 0; i < kInput; ++i)
        out.x.data()[(t * count + b) * kInput + i] =
            T(x.data()[(t * kBatch + first + b) * kInput + i]);
      for (int64_t o = 0; o < kOutput; ++o)
        out.y.data()[(t * count + b) * kOutput + o] =
            T(y.data()[(t * kBatch + first + b) * kOutput + o]);
    }
  return out;
}

template <Scalar T>
Shard<T> my_shard(const Communicator& comm) {
  const int64_t per_rank = kBatch / comm.size();
  return shard<T>(comm.rank() * per_rank, per_rank);
}

// Forward and backward of one batch; gradients accumulate into the model's parameters.
template <Scalar T>
void forward_backward(Model<T>& model, Graph<T>& g, const Shard<T>& data) {
  g.clear();
  const int64_t batch = data.x.shape()[1];
  auto seq = model.lstm.forward(g.input(data.x));
  Var<T> y = model.head.forward(reshape(seq.output, {kSteps * batch, kHidden}));
  g.backward(mse(y, g.constant(data.y)));
}

// Largest |a - b| / max(|b|, floor) over every element of every parameter.
template <Scalar T>
double max_relative_diff(const std::vector<NamedParameter<T>>& a,
                         const std::vector<NamedParameter<T>>& b, bool grads, double floor) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const Tensor<T>& ta = grads ? a[i].param->grad() : a[i].param->value();
    const Tensor<T>& tb = grads ? b[i].param->grad() : b[i].param->value();
    for (int64_t k = 0; k < ta.numel(); ++k) {
      const double ref = double(tb.data()[k]);
      const double d = std::abs(double(ta.data()[k]) - ref) / std::max(std::abs(ref), floor);
      worst = std::max(worst, d);
    }
  }
  return worst;
}

// Every rank holds bit for bit rank 0's parameters.
template <Scalar T>
void expect_ranks_agree(Communicator& comm, const std::vector<NamedParameter<T>>& params) {
  for (const auto& p : params) {
    Tensor<T> mine = p.param->value();
    Tensor<T> root = mine;
    comm.broadcast(root.span());
    for (int64_t k = 0; k < mine.numel(); ++k)
      expect(mine.data()[k] == root.data()[k],
             fmt::format("rank {}: {} differs from rank 0's", comm.rank(), p.name));
  }
}

// Trains `iterations` steps of `make_optimizer` on the whole batch alone (the reference) and
// with DistributedOptimizer on this rank's shard, starting from different weights on every
// rank (rank 0's must win). Returns the largest relative difference of the parameters.
template <Scalar T, class MakeOptimizer>
double train_both(Communicator& comm, const MakeOptimizer& make_optimizer, int iterations,
                  const DistributedOptions& options, double floor) {
  Model<T> reference(100);
  auto ref_params = reference.parameters();
  auto ref_opt = make_optimizer(ref_params);
  Graph<T> g;
  const Shard<T> whole = shard<T>(0, kBatch);
  for (int it = 0; it < iterations; ++it) {
    forward_backward(reference, g, whole);
    ref_opt->step();
    ref_opt->zero_grad();
  }

  Model<T> model(100 + uint64_t(comm.rank()));  // broadcast must replace these weights
  auto params = model.parameters();
  auto opt = make_optimizer(params);
  DistributedOptimizer<T> dist(*opt, comm, options);
  const Shard<T> mine = my_shard<T>(comm);
  for (int it = 0; it < iterations; ++it) {
    forward_backward(model, g, mine);
    expect(dist.step(), "a step was skipped");
    dist.zero_grad();
  }
  expect_ranks_agree(comm, params);
  expect(opt->stats().norm_clips == ref_opt->stats().norm_clips,
         fmt::format("rank {}: clipped {} times, the reference {}", comm.rank(),
                     opt->stats().norm_clips, ref_opt->stats().norm_clips));
  if (comm.rank() == 0)
    std::printf("%s: %d buckets/step, %lld bytes/step, %.1f us/step in communication\n",
                opt->name().c_str(), int(dist.last_report().buckets),
                static_cast<long long>(dist.last_report().bytes),
                1e6 * dist.total_report().comm_seconds / iterations);
  return max_relative_diff(params, ref_params, false, floor);
}

// double, 20 Adam steps with global-norm clipping on every step, small buckets (several
// all-reduces per step): 1e-12 relative to the single-process run.
void adam_double(Communicator& comm) {
  GradientOptions clip;
  clip.max_norm = 0.05;  // below the norms of this model, so every step clips
  auto make = [&](std::vector<NamedParameter<double>>& params) {
    return std::make_unique<Adam<double>>(params, 1e-2, AdamOptions{}, clip);
  };
  const double diff = train_both<double>(comm, make, kIterations, {.bucket_bytes = 512}, 1e-3);
  expect(diff <= 1e-12, fmt::format("Adam, double: relative difference {:.3g} > 1e-12", diff));
  if (comm.rank() == 0) std::printf("adam_double: max relative difference %.3g\n", diff);
}

// float: the averaged gradient of one step to 1e-5, parameters after 20 SGD steps to 1e-4.
void sgd_float(Communicator& comm) {
  Model<float> reference(100);
  Model<float> model(100);
  auto ref_params = reference.parameters();
  auto params = model.parameters();
  Graph<float> g;
  forward_backward(reference, g, shard<float>(0, kBatch));
  forward_backward(model, g, my_shard<float>(comm));
  SGD<float> opt(params, 0.0);  // lr 0: only the averaging acts
  DistributedOptimizer<float> dist(opt, comm);
  dist.step();
  const double grad_diff = max_relative_diff(params, ref_params, true, 1e-2);
  expect(grad_diff <= 1e-5,
         fmt::format("float: averaged gradient differs by {:.3g} > 1e-5", grad_diff));

  auto make = [](std::vector<NamedParameter<float>>& p) {
    return std::make_unique<SGD<float>>(p, 0.1);
  };
  const double diff = train_both<float>(comm, make, kIterations, {}, 1e-2);
  expect(diff <= 1e-4, fmt::format("SGD, float: relative difference {:.3g} > 1e-4", diff));
  if (comm.rank() == 0)
    std::printf("sgd_float: gradient %.3g, parameters after %d steps %.3g\n", grad_diff,
                kIterations, diff);
}

// Ranks holding different numbers of sequences (np 2: 2 and 4 of 6; np 3: 1, 2 and 3): with
// each rank's mean loss scaled by N · n_rank / n_total (docs/distributed.md), the averaged
// gradient is the gradient of the mean over all 6, to 1e-12 in double.
void uneven_shares(Communicator& comm) {
  const int n = comm.size();
  const int64_t count = kBatch * (comm.rank() + 1) / (n * (n + 1) / 2);
  const int64_t first = kBatch * (comm.rank() * (comm.rank() + 1) / 2) / (n * (n + 1) / 2);
  std::vector<double> total{double(count)};
  comm.allreduce_sum(std::span<double>(total));
  expect(total[0] == double(kBatch), fmt::format("the shares add up to {}", total[0]));

  Model<double> reference(100);
  Model<double> model(100);
  auto ref_params = reference.parameters();
  auto params = model.parameters();
  Graph<double> g;
  forward_backward(reference, g, shard<double>(0, kBatch));
  const Shard<double> mine = shard<double>(first, count);
  g.clear();
  auto seq = model.lstm.forward(g.input(mine.x));
  Var<double> y = model.head.forward(reshape(seq.output, {kSteps * count, kHidden}));
  g.backward(mse(y, g.constant(mine.y)) * (double(n) * double(count) / total[0]));
  SGD<double> opt(params, 0.0);
  DistributedOptimizer<double> dist(opt, comm);
  dist.step();
  const double diff = max_relative_diff(params, ref_params, true, 1e-3);
  expect(diff <= 1e-12, fmt::format("uneven shares: gradient differs by {:.3g}", diff));
  if (comm.rank() == 0) std::printf("uneven_shares: gradient %.3g\n", diff);
}

// One rank's NaN: every rank skips (kSkip) or throws (kThrow).
void non_finite(Communicator& comm, NonFinitePolicy policy) {
  Model<double> model(100);
  auto params = model.parameters();
  GradientOptions options;
  options.non_finite = policy;
  Adam<double> opt(params, 1e-2, AdamOptions{}, options);
  DistributedOptimizer<double> dist(opt, comm, {.bucket_bytes = 256});
  Graph<double> g;
  forward_backward(model, g, my_shard<double>(comm));
  if (comm.rank() == comm.size() - 1) params.back().param->grad().data()[0] = std::nan("");
  const std::vector<double> before(params[0].param->value().span().begin(),
                                   params[0].param->value().span().end());
  double refused = 0;
  try {
    refused = dist.step() ? 0 : 1;
  } catch (const ValueError& e) {
    refused = 1;
    expect(policy == NonFinitePolicy::kThrow, std::string("threw under kSkip: ") + e.what());
  }
  std::vector<double> count{refused};
  comm.allreduce_sum(std::span<double>(count));
  expect(count[0] == comm.size(),
         fmt::format("{} of {} ranks refused the step", count[0], comm.size()));
  for (size_t k = 0; k < before.size(); ++k)
    expect(params[0].param->value().data()[k] == before[k], "a refused step changed a weight");
  if (comm.rank() == 0) std::printf("non_finite: all %d ranks refused the step\n", comm.size());
}

// User mistakes throw on every rank alike, with messages that name what was wrong.
void errors(Communicator& comm) {
  Model<double> model(100);
  auto params = model.parameters();
  SGD<double> opt(params, 0.1);
  try {
    DistributedOptimizer<double> dist(opt, comm, {.bucket_bytes = 0});
    expect(false, "bucket_bytes = 0 was accepted");
  } catch (const ValueError& e) {
    expect(std::string(e.what()).find("bucket_bytes must be > 0, got 0") != std::string::npos,
           std::string("message: ") + e.what());
  }
  std::vector<double> data(3, 1.0);
  try {
    comm.broadcast(std::span<double>(data), comm.size());
    expect(false, "a broadcast from a root that is not a rank was accepted");
  } catch (const CommError& e) {
    expect(std::string(e.what()).find("is not a rank") != std::string::npos,
           std::string("message: ") + e.what());
  }
  comm.allreduce_average(std::span<double>(data));
  expect(data[0] == 1.0, "the average of equal values changed them");
  if (comm.rank() == 0) std::printf("errors: ValueError and CommError as documented\n");
}

// The last rank throws while the others wait in the gradient all-reduce: every rank must end
// (tests/mpi/expect_abort.cmake checks the exit code and the message).
void throw_on_last_rank(Communicator& comm) {
  Model<double> model(100);
  auto params = model.parameters();
  SGD<double> opt(params, 0.1);
  DistributedOptimizer<double> dist(opt, comm);
  if (comm.rank() == comm.size() - 1)
    throw ValueError(fmt::format("deliberate failure on rank {}", comm.rank()));
  Graph<double> g;
  forward_backward(model, g, my_shard<double>(comm));
  dist.step();  // never completes: the last rank is gone
}

// The last rank stays away for 30 s; with a 2 s timeout the others must end the job, naming
// the collective they waited in (tests/mpi/expect_abort.cmake checks it), long before.
void timeout(Communicator& comm) {
  comm.set_timeout(2.0);
  Model<double> model(100);
  auto params = model.parameters();
  SGD<double> opt(params, 0.1);
  DistributedOptimizer<double> dist(opt, comm);
  if (comm.rank() == comm.size() - 1) std::this_thread::sleep_for(std::chrono::seconds(30));
  Graph<double> g;
  forward_backward(model, g, my_shard<double>(comm));
  dist.step();
}

}  // namespace

int main(int argc, char** argv) {
  Communicator comm;
  const std::string mode = argc > 1 ? argv[1] : "";
  const std::map<std::string, std::function<void()>> modes = {
      {"adam_double", [&] { adam_double(comm); }},
      {"sgd_float", [&] { sgd_float(comm); }},
      {"non_finite_skip", [&] { non_finite(comm, NonFinitePolicy::kSkip); }},
      {"non_finite_throw", [&] { non_finite(comm, NonFinitePolicy::kThrow); }},
      {"errors", [&] { errors(comm); }},
      {"uneven_shares", [&] { uneven_shares(comm); }},
      {"timeout", [&] { timeout(comm); }},
      {"throw_on_last_rank", [&] { throw_on_last_rank(comm); }},
  };
  return comm.run([&] {
    auto it = modes.find(mode);
    if (it == modes.end()) throw std::runtime_error("mpi_tests: unknown mode '" + mode + "'");
    if (kBatch % comm.size() != 0)
      throw std::runtime_error(
          fmt::format("mpi_tests: {} ranks do not divide the batch of {}", comm.size(), kBatch));
    it->second();
    comm.barrier();
    if (comm.rank() == 0) std::printf("mpi_tests %s: ok on %d ranks\n", mode.c_str(), comm.size());
  });
}
