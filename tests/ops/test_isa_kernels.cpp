// The kernels built for each instruction set this CPU runs (AVX2, AVX-512) against the
// generic build, on the same inputs: thin products, float sigmoid/tanh, the fused cell ops
// forward and backward, one step of every optimizer, layer_norm forward and backward. They
// differ only by rounding (FMA contraction; the order of vector lanes never changes a sum here).
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include <rewind/ops/kernels/kernels.hpp>

#include "support.hpp"

using namespace rwd;
using detail::KernelSet;
using detail::KernelTable;

namespace {

// Every level above generic that this CPU and build run.
std::vector<Isa> wider_levels() {
  std::vector<Isa> levels;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (detail::kernels_for(isa) != nullptr) levels.push_back(isa);
  return levels;
}

template <class T>
const KernelTable<T>& table(Isa isa) {
  return detail::kernels_for(isa)->get<T>();
}

template <class T>
std::vector<T> random_values(int64_t n, uint64_t seed, double scale = 1.0) {
  const Tensor<double> r = test::randn({n}, seed);
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = T(scale * r[i]);
  return v;
}

template <class T>
constexpr double kEps = std::numeric_limits<T>::epsilon();

// |a − b| ≤ tol · (|a| + |b|) + margin[i], element by element, NaN only against NaN.
template <class T>
void check_close(const std::vector<T>& a, const std::vector<T>& b, double tol,
                 const std::vector<double>& margin, const char* what) {
  REQUIRE(a.size() == b.size());
  REQUIRE(margin.size() == a.size());
  int64_t bad = 0;
  size_t first = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (!(std::isnan(a[i]) && std::isnan(b[i])) && bad++ == 0) first = i;
      continue;
    }
    if (a[i] == b[i]) continue;  // equal infinities too
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= tol * (std::fabs(double(a[i])) + std::fabs(double(b[i]))) + margin[i]) && bad++ == 0)
      first = i;
  }
  INFO(what << ": " << bad << " of " << a.size() << " elements differ beyond rounding");
  if (bad > 0) INFO("first: element " << first << ", " << a[first] << " vs " << b[first]);
  CHECK(bad == 0);
}

template <class T>
void check_close(const std::vector<T>& a, const std::vector<T>& b, double tol, double margin,
                 const char* what) {
  check_close(a, b, tol, std::vector<double>(a.size(), margin), what);
}

// A [m, k] with row stride k + 1, B [k, n] with row stride n + 3, C [m, n] with row stride
// n + 2 (strides that are not the widths), seeded alike for every table.
template <class T>
struct ProductCase {
  int64_t m, n, k, lda, ldb, ldc;
  std::vector<T> a, b, c;
  ProductCase(int64_t m_, int64_t n_, int64_t k_)
      : m(m_), n(n_), k(k_), lda(k_ + 1), ldb(n_ + 3), ldc(n_ + 2) {
    a = random_values<T>(m * lda, 11 + uint64_t(m));
    b = random_values<T>(k * ldb, 12 + uint64_t(n));
    c = random_values<T>(m * ldc, 13);
  }
  // C = (accumulate ? C : 0) + A · B through one table.
  std::vector<T> run(const KernelTable<T>& t, bool accumulate) const {
    std::vector<T> out = c;
    t.thin_gemm(m, n, k, a.data(), lda, b.data(), ldb, out.data(), ldc, accumulate);
    return out;
  }
  // How far two builds may differ: each computes every element as the same k + 1 terms
  // added in the same order, so each is within (k + 1)·eps·Σ|terms| of the exact sum.
  std::vector<double> rounding_bound(bool accumulate) const {
    std::vector<double> bound(c.size(), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double terms = accumulate ? std::fabs(double(c[size_t(i * ldc + j)])) : 0.0;
        for (int64_t p = 0; p < k; ++p)
          terms += std::fabs(double(a[size_t(i * lda + p)]) * double(b[size_t(p * ldb + j)]));
        bound[size_t(i * ldc + j)] = 2.0 * double(k + 1) * kEps<T> * terms;
      }
    return bound;
  }
};

template <class T>
void compare_products(Isa isa) {
  for (int64_t m : {1, 2, 5, 6, 7, 20, 32})
    for (int64_t n : {1, 7, 8, 17, 64, 100, 203})
      for (int64_t k : {1, 3, 200, 777})
        for (bool accumulate : {false, true}) {
          INFO("thin_gemm m=" << m << " n=" << n << " k=" << k << " accumulate=" << accumulate);
          const ProductCase<T> pc(m, n, k);
          check_close(pc.run(table<T>(isa), accumulate),
                      pc.run(table<T>(Isa::kGeneric), accumulate), 0.0,
                      pc.rounding_bound(accumulate), "thin_gemm");
        }
}

template <class T>
void compare_activations(Isa isa) {
  std::vector<T> x = random_values<T>(1031, 21, 4.0);
  const T inf = std::numeric_limits<T>::infinity();
  for (T special : {T(0), T(-0.0), T(1e-8), T(-1e-8), T(0.62), T(-0.63), T(9), T(-9), T(88), T(-88),
                    T(100), T(-100), inf, -inf, std::numeric_limits<T>::quiet_NaN()})
    x.push_back(special);
  const auto run = [&](const KernelTable<T>& t, bool tanh) {
    std::vector<T> y(x.size());
    (tanh ? t.tanh : t.sigmoid)(x.data(), y.data(), int64_t(x.size()));
    return y;
  };
  // Float: the same polynomials, fused or not; a few ulp. Double: libm in both.
  const double tol = 4 * kEps<T>;
  check_close(run(table<T>(isa), false), run(table<T>(Isa::kGeneric), false), tol, 0, "sigmoid");
  check_close(run(table<T>(isa), true), run(table<T>(Isa::kGeneric), true), tol, 1e-30, "tanh");
}

// Results of one fused cell op, forward and backward, through one table.
template <class T>
struct CellResult {
  std::vector<T> out, d0, d1, d2;
};

template <class T>
CellResult<T> lstm(const KernelTable<T>& t, int64_t batch, int64_t hidden, bool fresh) {
  const std::vector<T> gates = random_values<T>(batch * 4 * hidden, 31, 2.0);
  const std::vector<T> c = random_values<T>(batch * hidden, 32);
  const std::vector<T> dy = random_values<T>(2 * batch * hidden, 33);
  CellResult<T> r;
  r.out.assign(size_t(2 * batch * hidden), T(0));
  t.lstm_forward(
      {batch, hidden, gates.data(), c.data(), r.out.data(), r.out.data() + batch * hidden});
  r.d0 = random_values<T>(batch * 4 * hidden, 34);  // ignored when fresh
  r.d1 = random_values<T>(batch * hidden, 35);
  detail::LstmBackward<T> args{batch,
                               hidden,
                               gates.data(),
                               c.data(),
                               r.out.data() + batch * hidden,
                               dy.data(),
                               dy.data() + batch * hidden,
                               r.d0.data(),
                               fresh,
                               r.d1.data(),
                               fresh};
  t.lstm_backward(args);
  return r;
}

template <class T>
CellResult<T> gru(const KernelTable<T>& t, int64_t batch, int64_t hidden, bool fresh) {
  const std::vector<T> xp = random_values<T>(batch * 3 * hidden, 41, 2.0);
  const std::vector<T> hp = random_values<T>(batch * 3 * hidden, 42, 2.0);
  const std::vector<T> h = random_values<T>(batch * hidden, 43);
  const std::vector<T> dy = random_values<T>(batch * hidden, 44);
  CellResult<T> r;
  r.out.assign(size_t(batch * hidden), T(0));
  t.gru_forward({batch, hidden, xp.data(), hp.data(), h.data(), r.out.data()});
  r.d0 = random_values<T>(batch * 3 * hidden, 45);
  r.d1 = random_values<T>(batch * 3 * hidden, 46);
  r.d2 = random_values<T>(batch * hidden, 47);
  t.gru_backward({batch, hidden, xp.data(), hp.data(), h.data(), dy.data(), r.d0.data(), fresh,
                  r.d1.data(), fresh, r.d2.data(), fresh});
  return r;
}

template <class T>
void compare_cells(Isa isa) {
  const double tol = 16 * kEps<T>;  // a handful of roundings per element
  const double margin = 4 * kEps<T>;
  for (int64_t hidden : {1, 5, 37, 300})  // 300: two chunks of the 256-column buffers
    for (bool fresh : {false, true}) {
      INFO("batch 3, hidden " << hidden << (fresh ? ", fresh gradients" : ", accumulated"));
      const CellResult<T> a = lstm(table<T>(isa), 3, hidden, fresh);
      const CellResult<T> b = lstm(table<T>(Isa::kGeneric), 3, hidden, fresh);
      check_close(a.out, b.out, tol, margin, "lstm_pointwise forward");
      check_close(a.d0, b.d0, tol, margin, "lstm_pointwise dgates");
      check_close(a.d1, b.d1, tol, margin, "lstm_pointwise dc");
      const CellResult<T> p = gru(table<T>(isa), 3, hidden, fresh);
      const CellResult<T> q = gru(table<T>(Isa::kGeneric), 3, hidden, fresh);
      check_close(p.out, q.out, tol, margin, "gru_pointwise forward");
      check_close(p.d0, q.d0, tol, margin, "gru_pointwise dxp");
      check_close(p.d1, q.d1, tol, margin, "gru_pointwise dhp");
      check_close(p.d2, q.d2, tol, margin, "gru_pointwise dh");
    }
}

// A parameter, its gradient and two state buffers, filled alike for every table.
template <class T>
struct OptimState {
  static constexpr int64_t kSize = 1037;  // not a multiple of any vector width
  std::vector<T> w = random_values<T>(kSize, 51);
  std::vector<T> grad = random_values<T>(kSize, 52);
  std::vector<T> s1 = random_values<T>(kSize, 53, 0.1);
  std::vector<T> s2 = random_values<T>(kSize, 54, 0.1);
  std::vector<T> s3 = random_values<T>(kSize, 55, 0.1);
  OptimState() {
    for (T& v : s2) v = v * v;  // second moments are positive
    for (T& v : s3) v = v * v + T(0.05);
  }
};

template <class T>
void compare_optimizer_step(Isa isa) {
  const double tol = 16 * kEps<T>;
  const double margin = 16 * kEps<T>;
  const int64_t n = OptimState<T>::kSize;
  for (bool variant : {false, true}) {
    INFO((variant ? "AdamW with AMSGrad, Nesterov SGD, centered RMSprop"
                  : "Adam with L2, SGD with dampening, RMSprop with momentum"));
    OptimState<T> a, b;
    const auto adam = [&](const KernelTable<T>& t, OptimState<T>& s) {
      detail::AdamUpdate<T> u{n,           s.w.data(),  s.grad.data(),
                              s.s1.data(), s.s2.data(), variant ? s.s3.data() : nullptr,
                              T(0.9),      T(0.999),    T(1e-8),
                              T(0.01),     T(0.9999),   T(0.01),
                              T(0.0447),   !variant,    variant};
      t.adam(u);
    };
    adam(table<T>(isa), a);
    adam(table<T>(Isa::kGeneric), b);
    check_close(a.w, b.w, tol, margin, "adam weights");
    check_close(a.s1, b.s1, tol, margin, "adam exp_avg");
    check_close(a.s2, b.s2, tol, margin, "adam exp_avg_sq");
    check_close(a.s3, b.s3, tol, margin, "adam max_exp_avg_sq");

    const auto sgd = [&](const KernelTable<T>& t, OptimState<T>& s) {
      t.sgd({n, s.w.data(), s.grad.data(), s.s1.data(), T(0.1), T(0.01), T(0.9),
             variant ? T(1) : T(0.7), true, false, variant});
      t.sgd({n, s.w.data(), s.grad.data(), nullptr, T(0.1), T(0), T(0), T(1), false, false, false});
    };
    sgd(table<T>(isa), a);
    sgd(table<T>(Isa::kGeneric), b);
    check_close(a.w, b.w, tol, margin, "sgd weights");
    check_close(a.s1, b.s1, tol, margin, "sgd momentum buffer");

    const auto rmsprop = [&](const KernelTable<T>& t, OptimState<T>& s) {
      t.rmsprop({n, s.w.data(), s.grad.data(), s.s3.data(), variant ? s.s1.data() : nullptr,
                 variant ? nullptr : s.s2.data(), T(0.01), T(0.99), T(1e-8), T(0.001), T(0.5),
                 true});
      t.adagrad({n, s.w.data(), s.grad.data(), s.s2.data(), T(0.01), T(1e-10), T(0.001), true});
    };
    rmsprop(table<T>(isa), a);
    rmsprop(table<T>(Isa::kGeneric), b);
    check_close(a.w, b.w, tol, margin, "rmsprop and adagrad weights");
    check_close(a.s2, b.s2, tol, margin, "adagrad sum");
    check_close(a.s3, b.s3, tol, margin, "rmsprop square_avg");

    std::vector<T> x = random_values<T>(n, 56, 3.0), y = x;
    x.push_back(std::numeric_limits<T>::quiet_NaN());
    y.push_back(std::numeric_limits<T>::quiet_NaN());
    table<T>(isa).scale(x.data(), n, T(0.3));
    table<T>(Isa::kGeneric).scale(y.data(), n, T(0.3));
    CHECK(table<T>(isa).clamp(x.data(), n + 1, T(0.5)));
    CHECK(table<T>(Isa::kGeneric).clamp(y.data(), n + 1, T(0.5)));
    CHECK_FALSE(table<T>(isa).clamp(x.data(), n + 1, T(0.5)));  // nothing left to clamp
    check_close(x, y, 0.0, 0.0, "scale and clamp");
  }
}

template <class T>
void compare_gradient_loops(Isa isa) {
  const int64_t n = 1037;
  const std::vector<T> dy = random_values<T>(n, 61);
  const std::vector<T> y = random_values<T>(n, 62, 0.5);
  const auto run = [&](const KernelTable<T>& t) {
    std::vector<std::vector<T>> dx(4, random_values<T>(n, 63));
    t.add_into(dx[0].data(), dy.data(), n);
    t.tanh_grad(dx[1].data(), dy.data(), y.data(), n);
    t.sigmoid_grad(dx[2].data(), dy.data(), y.data(), n);
    t.square_grad(dx[3].data(), dy.data(), y.data(), n);
    return dx;
  };
  const auto a = run(table<T>(isa));
  const auto b = run(table<T>(Isa::kGeneric));
  const double tol = 4 * kEps<T>;
  check_close(a[0], b[0], tol, 4 * kEps<T>, "add_into");
  check_close(a[1], b[1], tol, 4 * kEps<T>, "tanh gradient");
  check_close(a[2], b[2], tol, 4 * kEps<T>, "sigmoid gradient");
  check_close(a[3], b[3], tol, 4 * kEps<T>, "square gradient");
}

// Results of layer_norm forward and backward through one table, over rows of d.
template <class T>
struct LayerNormResult {
  std::vector<T> y, mean, rstd, dx, dgain, dbias;
};

template <class T>
LayerNormResult<T> layer_norm(const KernelTable<T>& t, int64_t rows, int64_t d, bool affine,
                              bool fresh) {
  std::vector<T> x = random_values<T>(rows * d, 71, 2.0);
  for (int64_t k = 0; k < d; ++k) x[size_t(k)] += T(50);  // a row with its mean far from 0
  const std::vector<T> gain = random_values<T>(d, 72);
  const std::vector<T> bias = random_values<T>(d, 73);
  const std::vector<T> dy = random_values<T>(rows * d, 74);
  LayerNormResult<T> r;
  r.y.assign(size_t(rows * d), T(0));
  r.mean.assign(size_t(rows), T(0));
  r.rstd.assign(size_t(rows), T(0));
  t.layer_norm_forward({rows, d, x.data(), affine ? gain.data() : nullptr,
                        affine ? bias.data() : nullptr, T(1e-5), r.y.data(), r.mean.data(),
                        r.rstd.data()});
  r.dx = random_values<T>(rows * d, 75);  // ignored when fresh
  r.dgain = random_values<T>(d, 76);
  r.dbias = random_values<T>(d, 77);
  t.layer_norm_backward({rows, d, x.data(), dy.data(), affine ? gain.data() : nullptr,
                         r.mean.data(), r.rstd.data(), r.dx.data(), fresh,
                         affine ? r.dgain.data() : nullptr, affine ? r.dbias.data() : nullptr});
  return r;
}

// Every level adds the same partial sums in the same order (Note [Layer norm partial sums]
// in ops/kernels/norm_body.hpp), so they differ by FMA contraction only: a few roundings per
// term, over the d / P terms each partial adds.
template <class T>
void compare_layer_norm(Isa isa) {
  for (int64_t d : {1, 5, 16, 31, 32, 33, 100, 800, 1031})
    for (bool affine : {false, true})
      for (bool fresh : {false, true}) {
        INFO("layer_norm rows 3, d " << d << (affine ? ", gain and bias" : "")
                                     << (fresh ? ", fresh dx" : ", dx accumulated"));
        const LayerNormResult<T> a = layer_norm(table<T>(isa), 3, d, affine, fresh);
        const LayerNormResult<T> b = layer_norm(table<T>(Isa::kGeneric), 3, d, affine, fresh);
        const double tol = 16 * kEps<T>;
        const double margin = 4 * double(d / 16 + 4) * kEps<T>;
        check_close(a.mean, b.mean, 0.0, 0.0, "layer_norm mean");  // Σx: no product to fuse
        check_close(a.rstd, b.rstd, tol, margin, "layer_norm rstd");
        check_close(a.y, b.y, tol, margin, "layer_norm y");
        // dx = rstd·(g − mean(g) − x̂·mean(g·x̂)): a rounding of g is scaled by rstd (316
        // for d = 1, where the variance is 0 and eps alone makes rstd).
        std::vector<double> dx_margin(a.dx.size());
        for (size_t i = 0; i < dx_margin.size(); ++i)
          dx_margin[i] = margin * (1 + double(b.rstd[i / size_t(d)]));
        check_close(a.dx, b.dx, tol, dx_margin, "layer_norm dx");
        check_close(a.dgain, b.dgain, tol, margin, "layer_norm dgain");
        check_close(a.dbias, b.dbias, 0.0, 0.0, "layer_norm dbias");
      }
}

}  // namespace

TEST_CASE("the kernel level in use is reported and within what the CPU runs", "[kernels][isa]") {
  const Isa active = active_isa();
  WARN("kernels: " << isa_name(active) << " (best on this CPU: " << isa_name(best_supported_isa())
                   << ")");
  CHECK(isa_supported(active));
  CHECK(isa_supported(Isa::kGeneric));
  CHECK(detail::kernels_for(active) == &detail::active_kernels());
  CHECK(detail::active_kernels().isa == active);
  const char* env = std::getenv("REWIND_ISA");
  if (env == nullptr || *env == '\0') {
    CHECK(active == best_supported_isa());
  } else {
    // A forced level is lowered to what the CPU runs, never raised.
    for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512})
      if (std::string(env) == isa_name(isa))
        CHECK(active == (isa < best_supported_isa() ? isa : best_supported_isa()));
  }
  for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512}) {
    const KernelSet* set = detail::kernels_for(isa);
    CHECK((set != nullptr) == isa_supported(isa));
    if (set != nullptr) CHECK(set->isa == isa);
  }
}

TEMPLATE_TEST_CASE("every kernel level agrees with the generic one to rounding", "[kernels][isa]",
                   float, double) {
  using T = TestType;
  const std::vector<Isa> levels = wider_levels();
  if (levels.empty()) WARN("only the generic kernels run on this CPU: nothing to compare");
  for (Isa isa : levels) {
    INFO("kernels: " << isa_name(isa) << " against generic");
    SECTION(std::string("thin products, ") + isa_name(isa)) {
      compare_products<T>(isa);
    }
    SECTION(std::string("sigmoid and tanh, ") + isa_name(isa)) {
      compare_activations<T>(isa);
    }
    SECTION(std::string("lstm_pointwise and gru_pointwise, ") + isa_name(isa)) {
      compare_cells<T>(isa);
    }
    SECTION(std::string("elementwise gradients, ") + isa_name(isa)) {
      compare_gradient_loops<T>(isa);
    }
    SECTION(std::string("one optimizer step, ") + isa_name(isa)) {
      compare_optimizer_step<T>(isa);
    }
    SECTION(std::string("layer_norm, ") + isa_name(isa)) {
      compare_layer_norm<T>(isa);
    }
  }
}
