// LibTorch's training steps on the same shapes as BM_TrainStep, in the same program, so the
// two are measured in one run (built only when find_package(Torch) succeeds). Kept in its own
// translation unit: <torch/torch.h> alone takes ~30 s to compile.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <string>

#include "alloc_counter.hpp"
#include "bench_configs.hpp"

namespace rwd::bench {
namespace {

template <class Module>
void run_steps(benchmark::State& state, const Config& cfg, int gates, int directions,
               Module& layer) {
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({cfg.steps, cfg.batch, cfg.input});
  auto step = [&] {
    layer->zero_grad();
    torch::Tensor out = std::get<0>(layer->forward(x));
    torch::Tensor loss = out.pow(2).sum();
    loss.backward();
  };
  for (int i = 0; i < 2; ++i) step();
  const int64_t allocs_before = rwd::test::allocation_count();
  int64_t steps = 0;
  int64_t peak = 0;
  for (auto _ : state) {
    rwd::test::reset_peak();
    step();
    peak = std::max(peak, rwd::test::peak_bytes_since_reset());
    ++steps;
  }
  const int64_t allocs = rwd::test::allocation_count() - allocs_before;
  state.counters["GFLOPs"] = benchmark::Counter(train_step_flops(cfg, gates, directions) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["time_per_step"] =
      benchmark::Counter(double(cfg.steps), benchmark::Counter::kIsIterationInvariantRate |
                                                benchmark::Counter::kInvert);
  state.counters["allocs_per_step"] = double(allocs) / double(std::max<int64_t>(steps, 1));
  state.counters["step_bytes"] = double(peak);
}

void libtorch_train_step(benchmark::State& state, const std::string& layer, const Config& cfg) {
  torch::manual_seed(1);
  if (layer == "rnn") {
    torch::nn::RNN m(torch::nn::RNNOptions(cfg.input, cfg.hidden));
    run_steps(state, cfg, 1, 1, m);
  } else if (layer == "lstm") {
    torch::nn::LSTM m(torch::nn::LSTMOptions(cfg.input, cfg.hidden));
    run_steps(state, cfg, 4, 1, m);
  } else if (layer == "gru") {
    torch::nn::GRU m(torch::nn::GRUOptions(cfg.input, cfg.hidden));
    run_steps(state, cfg, 3, 1, m);
  } else {
    torch::nn::LSTM m(torch::nn::LSTMOptions(cfg.input, cfg.hidden).bidirectional(true));
    run_steps(state, cfg, 4, 2, m);
  }
}

}  // namespace

void register_libtorch_benchmarks(int threads) {
  torch::set_num_threads(threads);
  for (const char* layer : {"rnn", "lstm", "gru", "bilstm"})
    for (const Config& cfg : kConfigs)
      benchmark::RegisterBenchmark(
          (std::string("BM_LibTorchTrainStep/") + layer + "/" + cfg.name).c_str(),
          [layer, cfg](benchmark::State& s) { libtorch_train_step(s, layer, cfg); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  // Two-thread rows beside rewind's (bench_rnn.cpp): bilstm at every size, the others at
  // medium and large.
  for (const char* layer : {"rnn", "lstm", "gru", "bilstm"})
    for (const Config& cfg : kConfigs) {
      if (!has_two_thread_row(layer, cfg.name)) continue;
      benchmark::RegisterBenchmark(
          (std::string("BM_LibTorchTrainStep/") + layer + "/" + cfg.name + "/threads:2").c_str(),
          [layer, cfg, threads](benchmark::State& s) {
            torch::set_num_threads(2);
            libtorch_train_step(s, layer, cfg);
            torch::set_num_threads(threads);
          })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
}

}  // namespace rwd::bench
