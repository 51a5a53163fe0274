// Engine benchmarks (issue: foundation). Run single-threaded, with repetitions interleaved so
// machine drift hits both sides of each comparison alike:
//   ./build/release/bench/bench_core --benchmark_repetitions=9
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
// (one command line).
//
// BM_Matmul/M/N/K          rewind matmul forward, [M,K]·[K,N], float, graph reused
// BM_MatmulBackward/M/N/K  forward + backward to both operands
// BM_SgemmDirect/M/N/K     cblas_sgemm on the same shape: the forward's ceiling
// BM_SgemmDirectBackward   the three sgemm calls forward + backward need, direct
// BM_NodeOverhead          record + backward of one elementwise op on 1 element (per node)
// BM_StepAllocations       heap allocations per training step of a reused graph
// BM_Broadcast/<pos>/<fusion>  y = tanh(a)∘b, a [64, 256], b broadcast from position pos
//                          (same, row, column, scalar), forward + backward, fused or unfused
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "alloc_counter.hpp"

using namespace rwd;

namespace {

double gemm_flops(int64_t m, int64_t n, int64_t k) {
  return 2.0 * double(m * n * k);
}

void BM_Matmul(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  Generator gen(1);
  // Parameters: the graph refers to their storage, so no copy is timed.
  Parameter<float> a(Tensor<float>::normal({m, k}, 0, 1, gen));
  Parameter<float> b(Tensor<float>::normal({k, n}, 0, 1, gen));
  Graph<float> g;
  for (auto _ : state) {
    g.clear();
    Var<float> c = matmul(g.param(a), g.param(b));
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPs"] =
      benchmark::Counter(gemm_flops(m, n, k) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_MatmulBackward(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  Generator gen(1);
  Parameter<float> a(Tensor<float>::normal({m, k}, 0, 1, gen));
  Parameter<float> b(Tensor<float>::normal({k, n}, 0, 1, gen));
  const Tensor<float> seed = Tensor<float>::ones({m, n});
  Graph<float> g;
  for (auto _ : state) {
    g.clear();
    Var<float> c = matmul(g.param(a), g.param(b));
    g.backward(c, seed.view());
    benchmark::DoNotOptimize(b.grad().data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(3 * gemm_flops(m, n, k) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SgemmDirect(benchmark::State& state) {
  const int m = int(state.range(0)), n = int(state.range(1)), k = int(state.range(2));
  std::vector<float> a(size_t(m * k), 0.5f), b(size_t(k * n), 0.25f), c(size_t(m * n));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n,
                0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPs"] =
      benchmark::Counter(gemm_flops(m, n, k) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SgemmDirectBackward(benchmark::State& state) {
  const int m = int(state.range(0)), n = int(state.range(1)), k = int(state.range(2));
  std::vector<float> a(size_t(m * k), 0.5f), b(size_t(k * n), 0.25f), c(size_t(m * n));
  std::vector<float> dc(size_t(m * n), 1.0f), da(size_t(m * k)), db(size_t(k * n));
  // Gradients accumulate (beta = 1) as parameter gradients do in rewind.
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n,
                0.0f, c.data(), n);
    // dA += dC Bᵀ, dB += Aᵀ dC
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, n, 1.0f, dc.data(), n, b.data(), n,
                1.0f, da.data(), k);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, m, 1.0f, a.data(), k, dc.data(), n,
                1.0f, db.data(), n);
    benchmark::DoNotOptimize(db.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(3 * gemm_flops(m, n, k) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void matmul_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K"});
  b->Args({20, 800, 400});
  b->Args({64, 2048, 1024});
  b->Args({1, 256, 96});
}

// A chain of kNodes elementwise ops on one element, then backward over all of them: the
// per-node cost of recording and playing back the tape, with no arithmetic to hide it.
void BM_NodeOverhead(benchmark::State& state) {
  constexpr int kNodes = 1000;
  const Tensor<float> one = Tensor<float>::from({1}, {1.0f});
  Graph<float> g;
  for (auto _ : state) {
    g.clear();
    Var<float> x = g.input(one, true);
    Var<float> h = x;
    for (int i = 0; i < kNodes; ++i) h = h * 1.0001f;
    g.backward(h);
    benchmark::DoNotOptimize(x.grad().data());
  }
  // Reported as time per node (record + backward).
  state.counters["per_node"] = benchmark::Counter(
      double(kNodes), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// tanh(x·W + b) with a loss and backward on a reused graph; counts heap allocations (every
// malloc in the process, BLAS included) per step once warmed up.
void BM_StepAllocations(benchmark::State& state) {
  Generator gen(2);
  Parameter<float> w(Tensor<float>::normal({64, 128}, 0, 0.1, gen));
  Parameter<float> b(Tensor<float>::zeros({128}));
  const Tensor<float> x = Tensor<float>::normal({32, 64}, 0, 1, gen);
  Graph<float> g;
  auto step = [&] {
    g.clear();
    Var<float> h = tanh(matmul(g.input(x), g.param(w)) + g.param(b));
    g.backward(mean(square(h)));
    w.zero_grad();
    b.zero_grad();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: the arena and vectors reach their size
  const int64_t before = rwd::test::allocation_count();
  int64_t steps = 0;
  for (auto _ : state) {
    step();
    ++steps;
  }
  const int64_t allocations = rwd::test::allocation_count() - before;
  state.counters["allocs_per_step"] = double(allocations) / double(std::max<int64_t>(steps, 1));
}

// y = tanh(a)∘b with b in each broadcast position the fused kernels handle, loss = sum(y),
// backward to a and b, the graph cleared each iteration; fusion on or off for the graph.
// ns_per_element: forward + backward time per element of y. Fused, tanh and mul are one
// region; the goal is that a column or scalar b costs what a same-shape b does.
struct BroadcastCase {
  const char* name;
  Shape b_shape;
};
constexpr int64_t kBroadcastRows = 64, kBroadcastCols = 256;
const BroadcastCase kBroadcastCases[] = {{"same", {kBroadcastRows, kBroadcastCols}},
                                         {"row", {kBroadcastCols}},
                                         {"column", {kBroadcastRows, 1}},
                                         {"scalar", {}}};

void BM_Broadcast(benchmark::State& state, const BroadcastCase& c, bool fused) {
  Generator gen(4);
  const Tensor<float> a = Tensor<float>::normal({kBroadcastRows, kBroadcastCols}, 0, 1, gen);
  const Tensor<float> b = Tensor<float>::normal(c.b_shape, 0, 1, gen);
  Graph<float> g;
  set_fusion(g, fused);
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    g.clear();
    Var<float> av = g.input_view(a, true);  // in place: no copy is timed
    Var<float> bv = g.input_view(b, true);
    g.backward(sum(tanh(av) * bv));
    benchmark::DoNotOptimize(av.grad().data());
    benchmark::DoNotOptimize(bv.grad().data());
  }
  // Wall time, in nanoseconds, as a plain number (a rate counter would print it with an
  // "s" after it).
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  state.counters["ns_per_element"] =
      took.count() / (double(state.iterations()) * double(kBroadcastRows * kBroadcastCols));
}

}  // namespace

BENCHMARK(BM_Matmul)->Apply(matmul_shapes);
BENCHMARK(BM_SgemmDirect)->Apply(matmul_shapes);
BENCHMARK(BM_MatmulBackward)->Apply(matmul_shapes);
BENCHMARK(BM_SgemmDirectBackward)->Apply(matmul_shapes);
BENCHMARK(BM_NodeOverhead);
BENCHMARK(BM_StepAllocations);

int main(int argc, char** argv) {
  openblas_set_num_threads(1);  // single-thread rows: see bench/README.md
  // Positions alternate (same, row, column, scalar, then again unfused): run in this order,
  // rows compared with each other run next to each other.
  for (const bool fused : {true, false})
    for (const BroadcastCase& c : kBroadcastCases)
      benchmark::RegisterBenchmark(
          (std::string("BM_Broadcast/") + c.name + (fused ? "/fused" : "/unfused")).c_str(),
          [&c, fused](benchmark::State& s) { BM_Broadcast(s, c, fused); });
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
