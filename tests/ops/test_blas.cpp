// The GEMM providers (ops/blas.hpp): every provider this build has computes the same products,
// the choice can be read and pinned, threads give the same bits, and oneDNN's allocations
// stay bounded.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <rewind/rewind.hpp>

#include "alloc_counter.hpp"
#include "support.hpp"

using namespace rwd;

namespace {

// Restores the process-wide provider after a test that pins one.
class ScopedProvider {
 public:
  explicit ScopedProvider(GemmProvider p) : before_(gemm_provider()) { set_gemm_provider(p); }
  ~ScopedProvider() { set_gemm_provider(before_); }
  ScopedProvider(const ScopedProvider&) = delete;
  ScopedProvider& operator=(const ScopedProvider&) = delete;

 private:
  GemmProvider before_;
};

std::vector<GemmProvider> providers() {
  std::vector<GemmProvider> out = {GemmProvider::kOpenBLAS};
  if (gemm_provider_available(GemmProvider::kOneDNN)) out.push_back(GemmProvider::kOneDNN);
  return out;
}

std::vector<float> values(int64_t n, uint64_t seed) {
  const Tensor<double> t = rwd::test::randn({n}, seed);
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = float(t[i]);
  return out;
}

// A training step of a one-directional LSTM: its parameters' gradients, flattened.
std::vector<float> lstm_step_grads(int threads) {
  const rwd::test::ScopedThreads guard(threads);
  Generator gen(41);
  // 4H = 1024 gate columns: the gate products are cut in pieces (Note [GEMM threads]).
  LSTM<float> lstm(rwd::test::rnn_options(64, 256), gen);
  const Tensor<float> x = Tensor<float>::normal({4, 32, 64}, 0, 1, gen);
  Graph<float> g;
  auto out = lstm.forward(g.input(x));
  g.backward(sum(square(out.output)));
  std::vector<float> grads;
  for (const auto& p : lstm.named_parameters())
    for (int64_t i = 0; i < p.param->numel(); ++i) grads.push_back(p.param->grad()[i]);
  return grads;
}

}  // namespace

TEST_CASE("gemm: every provider computes the product, in every transpose and stride", "[gemm]") {
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape s : {Shape{1, 1, 1}, Shape{3, 5, 7}, Shape{20, 800, 200}, Shape{64, 33, 129}}) {
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        // Stored with padded rows, to exercise lda/ldb/ldc.
        const int64_t lda = (ta ? s.m : s.k) + 3, ldb = (tb ? s.k : s.n) + 2, ldc = s.n + 1;
        const std::vector<float> a = values((ta ? s.k : s.m) * lda, 1);
        const std::vector<float> b = values((tb ? s.n : s.k) * ldb, 2);
        const std::vector<float> c0 = values(s.m * ldc, 3);
        for (GemmProvider p : providers()) {
          INFO(gemm_provider_name(p)
               << " m=" << s.m << " n=" << s.n << " k=" << s.k << " ta=" << ta << " tb=" << tb);
          const ScopedProvider pin(p);
          CHECK(gemm_provider_for<float>(s.m, s.n, s.k) == p);
          std::vector<float> c = c0;
          detail::gemm<float>(ta, tb, s.m, s.n, s.k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f,
                              c.data(), ldc);
          double worst = 0;
          for (int64_t i = 0; i < s.m; ++i)
            for (int64_t j = 0; j < s.n; ++j) {
              double want = 2.0 * c0[size_t(i * ldc + j)];
              double scale = std::abs(want);
              for (int64_t q = 0; q < s.k; ++q) {
                const double av = a[size_t(ta ? q * lda + i : i * lda + q)];
                const double bv = b[size_t(tb ? j * ldb + q : q * ldb + j)];
                want += 0.5 * av * bv;
                scale += std::abs(0.5 * av * bv);
              }
              worst = std::max(worst, std::abs(c[size_t(i * ldc + j)] - want) / (scale + 1e-30));
            }
          CHECK(worst < 1e-6);
          // Padding between rows is not written.
          for (int64_t i = 0; i < s.m; ++i)
            CHECK(c[size_t(i * ldc + s.n)] == c0[size_t(i * ldc + s.n)]);
        }
      }
  }
}

TEST_CASE("gemm: an empty inner dimension scales C by beta in every provider", "[gemm]") {
  for (GemmProvider p : providers()) {
    INFO(gemm_provider_name(p));
    const ScopedProvider pin(p);
    std::vector<float> c = {1, 2, 3, 4};
    detail::gemm<float>(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);
    CHECK(c == std::vector<float>{0.5f, 1, 1.5f, 2});
  }
}

TEST_CASE("gemm: the provider can be read, printed and pinned", "[gemm]") {
  const ScopedProvider pin(GemmProvider::kOpenBLAS);
  CHECK(gemm_provider() == GemmProvider::kOpenBLAS);
  CHECK(describe_gemm<float>(700, 800, 200) == "float [700, 200] x [200, 800]: openblas, 1 thread");
  CHECK(describe_gemm<double>(2, 3, 4) == "double [2, 4] x [4, 3]: openblas, 1 thread");
  set_gemm_provider(GemmProvider::kAuto);
  CHECK(gemm_provider() == GemmProvider::kAuto);
  // Auto: oneDNN for float when this build has it; double products always in OpenBLAS.
  const bool onednn = gemm_provider_available(GemmProvider::kOneDNN);
  CHECK(gemm_provider_for<float>(20, 800, 200) ==
        (onednn ? GemmProvider::kOneDNN : GemmProvider::kOpenBLAS));
  CHECK(gemm_provider_for<double>(20, 800, 200) == GemmProvider::kOpenBLAS);
  if (onednn) {
    const rwd::test::ScopedThreads guard(2);
    CHECK(describe_gemm<float>(64, 2048, 512) ==
          "float [64, 512] x [512, 2048]: onednn, 2 threads");
    CHECK(describe_gemm<float>(20, 800, 200) == "float [20, 200] x [200, 800]: onednn, 1 thread");
  } else {
    CHECK_THROWS_AS(set_gemm_provider(GemmProvider::kOneDNN), ValueError);
    CHECK_THROWS_WITH(set_gemm_provider(GemmProvider::kOneDNN), Catch::Contains("onednn"));
  }
}

TEST_CASE("gemm: REWIND_GEMM sets the process default", "[gemm][gemm-env]") {
  // ctest runs this case again with REWIND_GEMM=openblas (gemm.env_openblas) and with an
  // unknown value (gemm.env_unknown), which must fail with a message that names it.
  const char* env = std::getenv("REWIND_GEMM");
  const std::string_view v = env != nullptr ? env : "";
  if (v.empty() || v == "auto")
    CHECK(gemm_provider() == GemmProvider::kAuto);
  else
    CHECK(gemm_provider_name(gemm_provider()) == v);
}

TEST_CASE("gemm: a product gives the same bits on one and two threads", "[gemm][threads]") {
  // [64, 2048] x [2048, 1024]: cut in two pieces, each of a shape ([64, 2048] x [2048, 512])
  // on which oneDNN left to itself splits the inner
  // dimension among its threads and rounds differently on 1 and 2.
  const int64_t m = 64, n = 1024, k = 2048;
  const std::vector<float> a = values(m * k, 4), b = values(n * k, 5);
  std::array<std::vector<float>, 2> c;
  for (int threads : {1, 2}) {
    const rwd::test::ScopedThreads guard(threads);
    c[size_t(threads - 1)].assign(size_t(m * n), 0.0f);
    detail::gemm<float>(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f,
                        c[size_t(threads - 1)].data(), n);
  }
  CHECK(c[0] == c[1]);
}

TEST_CASE("gemm: a training step gives the same bits on one and two threads", "[gemm][threads]") {
  // A one-directional layer gives both threads to its products (oneDNN's own threads).
  const std::vector<float> one = lstm_step_grads(1);
  const std::vector<float> two = lstm_step_grads(2);
  REQUIRE(one.size() == two.size());
  int64_t differ = 0;
  for (size_t i = 0; i < one.size(); ++i) differ += one[i] != two[i] ? 1 : 0;
  CHECK(differ == 0);
}

TEST_CASE("gemm: oneDNN's allocations are its packing buffers, returned within the product",
          "[gemm][alloc]") {
  if (!gemm_provider_available(GemmProvider::kOneDNN)) return;  // OpenBLAS: test_graph.cpp
  const ScopedProvider pin(GemmProvider::kOneDNN);
  Generator gen(42);
  LSTM<float> lstm(rwd::test::rnn_options(64, 128), gen);
  const Tensor<float> x = Tensor<float>::normal({8, 32, 64}, 0, 1, gen);
  Graph<float> g;
  auto step = [&] {
    g.clear();
    auto out = lstm.forward(g.input_view(x));
    g.backward(sum(square(out.output)));
    lstm.zero_grad();
  };
  for (int i = 0; i < 3; ++i) step();
  // Each steady step makes the same allocations and gives them back: nothing grows.
  std::vector<int64_t> counts, live;
  for (int i = 0; i < 4; ++i) {
    const int64_t before = rwd::test::allocation_count();
    step();
    counts.push_back(rwd::test::allocation_count() - before);
    live.push_back(rwd::test::live_bytes());
  }
  INFO("allocations per step: " << counts[0] << ", " << counts[1] << ", " << counts[2] << ", "
                                << counts[3]);
  CHECK(counts[1] == counts[0]);
  CHECK(counts[2] == counts[0]);
  CHECK(counts[3] == counts[0]);
  // Live bytes are malloc_usable_size sums, which vary by a few bytes with where an aligned
  // block lands; a kept packing buffer would be tens of KiB.
  for (int i = 1; i < 4; ++i) CHECK(std::abs(live[size_t(i)] - live[0]) < 1024);
}
