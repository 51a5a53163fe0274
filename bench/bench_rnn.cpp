// Training-step benchmarks of the recurrent layers against the machine's sgemm ceiling.
//   bash bench/run.sh bench_rnn
// BM_TrainStep/<layer>/<cfg>: forward over the whole sequence, loss = sum of squares of every
// output, backward to all parameters; float32, one graph reused across iterations.
//   layer: rnn, lstm, lnlstm, gru, bilstm (one layer)     cfg (T, B, I, H):
//   small (100, 1, 32, 64)   ptb (35, 20, 200, 200)   medium (50, 32, 256, 256)
//   large (50, 64, 512, 512)
// Counters: GFLOPs with the standard count (forward = 2·B·G·H·(I+H) per step and direction,
// G = 1/4/3 for RNN/LSTM/GRU, lnlstm (rwd::LayerNormLSTM) counted as an LSTM: its norms are
// not counted; a training step = 3 × forward), time_per_step (seconds per
// time step, shown with SI prefixes: 4.5u = 4.5 µs),
// allocs_per_step (heap allocations per training step after warm-up, every malloc in the
// process), graph_peak_bytes (the most bytes the graph held).
// BM_UserCellTrainStep/<cell>/<cfg>: the same step through Recurrent<Cell> over a cell a
// user writes from public ops (tests/user_cells.hpp: linear, matmul, + - *, sigmoid, tanh,
// chunk, layer_norm; no fused op). cell: lstm, gru (PyTorch's equations, the same weights as
// the built-in rows), lnlstm (layer-normalised LSTM, counted as an LSTM); cfg: small, ptb,
// medium. Each runs right after the built-in row of its twin and size (the user lnlstm after
// rwd::LayerNormLSTM's, the same equations).
// BM_OneDNNTrainStep/<layer>/<cfg>: the same step with oneDNN's RNN primitives
// (bench/onednn_steps.cpp), when Debian's libdnnl-dev is installed.
// BM_SgemmCeiling/<provider>: a 1024×1024×1024 sgemm on one thread through each GEMM
// provider this build has (openblas, onednn; ops/blas.hpp): the ceiling the rows are judged
// against (the faster of them), measured in the same run.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "alloc_counter.hpp"
#include "bench_configs.hpp"
#include "user_cells.hpp"

using namespace rwd;
using rwd::bench::Config;

namespace {

template <class Layer>
void train_step_bench(benchmark::State& state, const Config& cfg, int gates, int directions,
                      Layer& layer) {
  Generator gen(3);
  const Tensor<float> x = Tensor<float>::normal({cfg.steps, cfg.batch, cfg.input}, 0, 1, gen);
  Graph<float> g;
  auto step = [&] {
    g.clear();
    auto out = layer.forward(g.input_view(x));  // the data in place, as LibTorch uses x
    g.backward(sum(square(out.output)));
    layer.zero_grad();
  };
  for (int i = 0; i < 2; ++i) step();  // warm-up: the arena reaches its size
  const int64_t allocs_before = rwd::test::allocation_count();
  int64_t steps = 0;
  for (auto _ : state) {
    step();
    ++steps;
  }
  const int64_t allocs = rwd::test::allocation_count() - allocs_before;
  state.counters["GFLOPs"] =
      benchmark::Counter(rwd::bench::train_step_flops(cfg, gates, directions) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
  state.counters["time_per_step"] =
      benchmark::Counter(double(cfg.steps), benchmark::Counter::kIsIterationInvariantRate |
                                                benchmark::Counter::kInvert);
  state.counters["allocs_per_step"] = double(allocs) / double(std::max<int64_t>(steps, 1));
  state.counters["graph_peak_bytes"] = double(g.peak_bytes());
}

RecurrentOptions options(const Config& cfg, bool bidirectional) {
  RecurrentOptions o;
  o.input_size = cfg.input;
  o.hidden_size = cfg.hidden;
  o.bidirectional = bidirectional;
  return o;
}

void BM_TrainStep(benchmark::State& state, const std::string& layer, const Config& cfg) {
  Generator gen(1);
  if (layer == "rnn") {
    RNN<float> l(options(cfg, false), gen);
    train_step_bench(state, cfg, 1, 1, l);
  } else if (layer == "lstm") {
    LSTM<float> l(options(cfg, false), gen);
    train_step_bench(state, cfg, 4, 1, l);
  } else if (layer == "lnlstm") {
    LayerNormLSTM<float> l(options(cfg, false), gen);
    train_step_bench(state, cfg, 4, 1, l);  // the LSTM's count: the norms are not counted
  } else if (layer == "gru") {
    GRU<float> l(options(cfg, false), gen);
    train_step_bench(state, cfg, 3, 1, l);
  } else {
    LSTM<float> l(options(cfg, true), gen);
    train_step_bench(state, cfg, 4, 2, l);
  }
}

void BM_UserCellTrainStep(benchmark::State& state, const std::string& cell, const Config& cfg) {
  Generator gen(1);  // as BM_TrainStep: the user LSTM and GRU start from the same weights
  const RecurrentOptions o = options(cfg, false);
  if (cell == "lstm") {
    auto l = user_cells::make_layer<user_cells::LSTMCell<float>>("UserLSTM", o, gen);
    train_step_bench(state, cfg, 4, 1, l);
  } else if (cell == "gru") {
    auto l = user_cells::make_layer<user_cells::GRUCell<float>>("UserGRU", o, gen);
    train_step_bench(state, cfg, 3, 1, l);
  } else {
    auto l = user_cells::make_layer<user_cells::LayerNormLSTMCell<float>>("LNLSTM", o, gen);
    train_step_bench(state, cfg, 4, 1, l);  // the LSTM's count: the norms are not counted
  }
}

// The user cells that run after each built-in layer's row, and on which configurations.
std::vector<std::string> user_cells_after(const std::string& layer, const std::string& cfg) {
  if (cfg != "small" && cfg != "ptb" && cfg != "medium") return {};
  if (layer == "lstm") return {"lstm"};
  if (layer == "lnlstm") return {"lnlstm"};
  if (layer == "gru") return {"gru"};
  return {};
}

void BM_SgemmCeiling(benchmark::State& state, GemmProvider provider) {
  const int n = 1024;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  const GemmProvider before = gemm_provider();
  set_gemm_provider(provider);
  for (auto _ : state) {
    detail::gemm<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  set_gemm_provider(before);
  state.counters["GFLOPs"] =
      benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  // Threads: 1 by default (single-thread rows); REWIND_BENCH_THREADS=2 runs every row with 2.
  const char* env = std::getenv("REWIND_BENCH_THREADS");
  const int threads = env != nullptr ? std::max(1, std::atoi(env)) : 1;
  // rewind's threads run the directions of a bidirectional layer concurrently and share the
  // rest among the products (Note [GEMM threads] in ops/blas.cpp); OpenBLAS stays on one.
  openblas_set_num_threads(1);
  rwd::set_num_threads(threads);
  // Which kernels ran (REWIND_ISA can lower the level): in the header and the JSON context.
  benchmark::AddCustomContext("rewind_isa", rwd::isa_name(rwd::active_isa()));
  // Which GEMM provider ran the products (REWIND_GEMM pins one), e.g. for the ptb shape.
  benchmark::AddCustomContext("rewind_gemm", rwd::describe_gemm<float>(700, 800, 200));
#if defined(REWIND_BENCH_WITH_LIBTORCH)
  rwd::bench::register_libtorch_benchmarks(threads);
#endif
#if defined(REWIND_BENCH_WITH_ONEDNN)
  rwd::bench::register_onednn_benchmarks(threads);
#endif
  for (GemmProvider p : {GemmProvider::kOpenBLAS, GemmProvider::kOneDNN}) {
    if (!gemm_provider_available(p)) continue;
    benchmark::RegisterBenchmark((std::string("BM_SgemmCeiling/") + gemm_provider_name(p)).c_str(),
                                 [p](benchmark::State& s) { BM_SgemmCeiling(s, p); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  for (const char* layer : {"rnn", "lstm", "lnlstm", "gru", "bilstm"})
    for (const Config& cfg : rwd::bench::kConfigs) {
      benchmark::RegisterBenchmark(
          (std::string("BM_TrainStep/") + layer + "/" + cfg.name).c_str(),
          [layer, cfg](benchmark::State& s) { BM_TrainStep(s, layer, cfg); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();  // wall time: with 2 threads, CPU time would count one thread
      // Registered next to the built-in row: without random interleaving, rows run in this
      // order, so a user cell and its built-in twin see the same machine state.
      for (const std::string& cell : user_cells_after(layer, cfg.name))
        benchmark::RegisterBenchmark(
            ("BM_UserCellTrainStep/" + cell + "/" + cfg.name).c_str(),
            [cell, cfg](benchmark::State& s) { BM_UserCellTrainStep(s, cell, cfg); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    }
  // Two-thread rows, in the same run (rwd::set_num_threads(2)): the bidirectional layer runs
  // its two directions concurrently, each with one thread for its products; the other layers
  // give both threads to their products when the provider has threads (oneDNN), and run as
  // on one thread otherwise.
  for (const char* layer : {"rnn", "lstm", "gru", "bilstm"})
    for (const Config& cfg : rwd::bench::kConfigs) {
      if (!rwd::bench::has_two_thread_row(layer, cfg.name)) continue;
      benchmark::RegisterBenchmark(
          (std::string("BM_TrainStep/") + layer + "/" + cfg.name + "/threads:2").c_str(),
          [layer, cfg](benchmark::State& s) {
            rwd::set_num_threads(2);
            BM_TrainStep(s, layer, cfg);
            rwd::set_num_threads(1);
          })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
