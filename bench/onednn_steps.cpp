// oneDNN's training steps on the same shapes as BM_TrainStep, in the same program, so the two
// are measured in one run (built only when oneDNN is found: cmake/OneDNNPeer.cmake). The step
// itself is bench/onednn_peer.cpp, which tests/bench/test_onednn_peer.cpp holds to rewind.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "bench_configs.hpp"
#include "onednn_peer.hpp"

namespace rwd::bench {
namespace {

// PyTorch's initialisation: every parameter uniform in ±1/sqrt(H).
TorchWeights random_weights(PeerCell cell, const Config& cfg, std::mt19937& rng) {
  const float k = 1.0f / std::sqrt(float(cfg.hidden));
  std::uniform_real_distribution<float> u(-k, k);
  auto draw = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& e : v) e = u(rng);
    return v;
  };
  const int64_t rows = torch_gates(cell) * cfg.hidden;
  return {draw(rows * cfg.input), draw(rows * cfg.hidden), draw(rows), draw(rows)};
}

void onednn_train_step(benchmark::State& state, const std::string& layer, const Config& cfg,
                       int threads) {
  omp_set_num_threads(threads);
  const PeerCell cell = layer == "rnn"   ? PeerCell::kRnn
                        : layer == "gru" ? PeerCell::kGru
                                         : PeerCell::kLstm;
  const bool bidirectional = layer == "bilstm";
  std::mt19937 rng(1);
  std::vector<TorchWeights> weights;
  for (int d = 0; d < (bidirectional ? 2 : 1); ++d)
    weights.push_back(random_weights(cell, cfg, rng));
  OneDNNTrainStep onednn(cell, {cfg.steps, cfg.batch, cfg.input, cfg.hidden, bidirectional},
                         weights);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(size_t(cfg.steps * cfg.batch * cfg.input));
  for (float& e : x) e = normal(rng);
  onednn.set_input(x);

  for (int i = 0; i < 2; ++i) onednn.step();  // warm-up
  const int64_t allocs_before = rwd::test::allocation_count();
  int64_t steps = 0;
  for (auto _ : state) {
    onednn.step();
    ++steps;
  }
  const int64_t allocs = rwd::test::allocation_count() - allocs_before;
  state.counters["GFLOPs"] =
      benchmark::Counter(train_step_flops(cfg, torch_gates(cell), bidirectional ? 2 : 1) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
  state.counters["time_per_step"] =
      benchmark::Counter(double(cfg.steps), benchmark::Counter::kIsIterationInvariantRate |
                                                benchmark::Counter::kInvert);
  state.counters["allocs_per_step"] = double(allocs) / double(std::max<int64_t>(steps, 1));
}

}  // namespace

void register_onednn_benchmarks(int threads) {
  omp_set_num_threads(threads);
  for (const char* layer : {"rnn", "lstm", "gru", "bilstm"})
    for (const Config& cfg : kConfigs)
      benchmark::RegisterBenchmark(
          (std::string("BM_OneDNNTrainStep/") + layer + "/" + cfg.name).c_str(),
          [layer, cfg, threads](benchmark::State& s) { onednn_train_step(s, layer, cfg, threads); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  // Beside rewind's two-thread rows (bench_rnn.cpp): oneDNN's own use of two OpenMP threads,
  // bilstm at every size and the other layers at medium and large.
  for (const char* layer : {"rnn", "lstm", "gru", "bilstm"})
    for (const Config& cfg : kConfigs) {
      if (!has_two_thread_row(layer, cfg.name)) continue;
      benchmark::RegisterBenchmark(
          (std::string("BM_OneDNNTrainStep/") + layer + "/" + cfg.name + "/threads:2").c_str(),
          [layer, cfg](benchmark::State& s) { onednn_train_step(s, layer, cfg, 2); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
}

}  // namespace rwd::bench
