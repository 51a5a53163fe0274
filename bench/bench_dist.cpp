// Data-parallel training steps over MPI, weak scaling (each rank keeps its batch B):
//   mpirun -np 1 build/release/bench/bench_dist;  mpirun -np 2 build/release/bench/bench_dist
// BM_DataParallelStep/lstm/<cfg>: one LSTM layer (bench_configs.hpp: ptb (35, 20, 200, 200),
// medium (50, 32, 256, 256)), loss = mean of squares of every output, backward, then
// DistributedOptimizer<float> over SGD (gradients averaged over the ranks, then the update);
// float32, one graph reused. A fixed iteration count on every rank, so every rank makes the
// same collectives; only rank 0 prints. Counters: seq_per_s (sequences per second over all
// ranks: throughput, whose ratio to one rank's is the scaling), comm_share (the share of the
// step's wall time spent in the gradient all-reduce), comm_bytes (payload per step and rank).
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include <rewind/core/communicator.hpp>
#include <rewind/optim/distributed.hpp>
#include <rewind/rewind.hpp>

#include "bench_configs.hpp"

using namespace rwd;
using rwd::bench::Config;

namespace {

Communicator* g_comm = nullptr;  // made in main, before any benchmark runs

void data_parallel_step(benchmark::State& state, const Config& cfg) {
  Communicator& comm = *g_comm;
  Generator gen(3);
  LSTM<float> lstm(RecurrentOptions{.input_size = cfg.input, .hidden_size = cfg.hidden}, gen);
  // Each rank its own data (seeded by rank), the same shape: weak scaling.
  Generator data(100 + uint64_t(comm.rank()));
  const Tensor<float> x = Tensor<float>::normal({cfg.steps, cfg.batch, cfg.input}, 0, 1, data);
  SGD<float> sgd(lstm.named_parameters(), 1e-3);
  DistributedOptimizer<float> opt(sgd, comm);
  Graph<float> g;
  auto step = [&] {
    g.clear();
    auto out = lstm.forward(g.input_view(x));
    g.backward(mean(square(out.output)));
    opt.step();
    opt.zero_grad();
  };
  for (int i = 0; i < 2; ++i) step();  // warm-up: the arena reaches its size
  const double comm_before = opt.total_report().comm_seconds;
  const auto start = std::chrono::steady_clock::now();
  int64_t steps = 0;
  for (auto _ : state) {
    step();
    ++steps;
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double comm_seconds = opt.total_report().comm_seconds - comm_before;
  // Rank 0 reports; the slowest rank sets the pace, and every rank waits for it in the
  // all-reduce, so rank 0's wall time is the job's.
  state.counters["ranks"] = comm.size();
  state.counters["seq_per_s"] =
      benchmark::Counter(double(steps * cfg.batch * comm.size()), benchmark::Counter::kIsRate);
  state.counters["comm_share"] = wall > 0 ? comm_seconds / wall : 0;
  state.counters["comm_bytes"] = double(opt.last_report().bytes);
}

// Prints nothing: the reporter of every rank but 0.
class SilentReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context& /*context*/) override { return true; }
  void ReportRuns(const std::vector<Run>& /*report*/) override {}
};

}  // namespace

int main(int argc, char** argv) {
  Communicator comm;
  g_comm = &comm;
  return comm.run([&] {
    for (const Config& cfg : rwd::bench::kConfigs) {
      const std::string name = cfg.name;
      if (name != "ptb" && name != "medium") continue;
      // Fixed iterations: Google Benchmark's adaptive count could differ between ranks.
      benchmark::RegisterBenchmark(("BM_DataParallelStep/lstm/" + name).c_str(),
                                   [cfg](benchmark::State& s) { data_parallel_step(s, cfg); })
          ->Iterations(name == "ptb" ? 30 : 15)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::Initialize(&argc, argv);
    if (comm.rank() == 0) {
      benchmark::RunSpecifiedBenchmarks();
    } else {
      SilentReporter silent;
      benchmark::RunSpecifiedBenchmarks(&silent);
    }
    benchmark::Shutdown();
  });
}
