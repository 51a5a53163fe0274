// matmul and addmm: forward and backward through BLAS, with gradients accumulated in place
// (beta = 1). A weight that is a leaf (a parameter) and is multiplied by few rows at a time,
// as in every step of a recurrent layer, gets its gradient products deferred and batched
// into one product at the end of backward (Note [Deferred weight gradients]).
#include "rewind/ops/linalg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "rewind/ops/blas.hpp"
#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

using detail::gemm;

// Below this many rows of op(A), a leaf B's gradient product is deferred and batched.
constexpr int64_t kDeferRows = 256;

// Note [Thin products]: a recurrent step multiplies a few rows (the batch) by a weight. For
// those, (1) a weight needed transposed is transposed once per round (ProductStaging) instead
// of being re-packed by BLAS at every step, and (2) when the weight fits in L2 the product
// runs in thin_gemm, which reads it as stored; otherwise in BLAS.
constexpr int64_t kThinRows = 32;
constexpr int64_t kThinWeightBytes = int64_t(1) << 20;

// Note [Deferred weight gradients]: a product whose right operand B is a leaf (a parameter
// or an input; nothing reads a leaf's gradient during the reverse walk) and whose left
// operand has few rows (a recurrent step: B rows of a batch) does not update dB right away.
// It stages its rows of A and dC; staged rows for one leaf are gathered into two contiguous
// blocks and dB gets one product over all of them ([G·H, T·B] × [T·B, H] for a recurrent
// weight) instead of T thin ones, when a block is full and at the end of backward.
//
// ProductStaging is the graph extension (core/extension.hpp) that keeps, per graph, those
// staged rows and the transposes of leaves made once per round.
template <Scalar T>
class ProductStaging final : public GraphExtension<T> {
 public:
  // The transpose of leaf `id`'s value ([cols, rows] row-major), made on the second request
  // of a round and reused after; nullptr on the first (one use is not worth a transpose).
  const T* transposed(Graph<T>& g, NodeId id) {
    std::pair<NodeId, const T*>* seen = nullptr;
    for (auto& entry : transposed_)
      if (entry.first == id) seen = &entry;
    if (seen == nullptr) {
      transposed_.push_back({id, nullptr});
      return nullptr;
    }
    if (seen->second != nullptr) return seen->second;
    const Node<T>& n = g.node(id);
    const int64_t rows = n.shape[0];
    const int64_t cols = n.shape[1];
    T* out = g.template allocate<T>(size_t(rows * cols));
    constexpr int64_t kBlock = 32;  // blocked, so both sides stay in cache lines
    for (int64_t r0 = 0; r0 < rows; r0 += kBlock)
      for (int64_t c0 = 0; c0 < cols; c0 += kBlock)
        for (int64_t r = r0; r < std::min(rows, r0 + kBlock); ++r)
          for (int64_t c = c0; c < std::min(cols, c0 + kBlock); ++c)
            out[c * rows + r] = n.value[r * cols + c];
    seen->second = out;
    return out;
  }

  // Stages the product that C = A · op(B) contributes to leaf b's gradient: A is [rows, k]
  // at `a`, dC [rows, n] at `dc`, B [k, n] (or [n, k] with trans_b); `user` is the node
  // whose backward asks. Returns false for the first such product of a leaf in a backward
  // pass, which the caller computes itself (a single product gains nothing from staging).
  bool defer(Graph<T>& g, NodeId user, NodeId b, bool trans_b, const T* a, const T* dc,
             int64_t rows, int64_t k, int64_t n) {
    Group* group = nullptr;
    for (Group& d : groups_)
      if (d.leaf == b && d.trans_b == trans_b && d.k == k && d.n == n) group = &d;
    if (group == nullptr) {
      groups_.push_back(Group{b, trans_b, k, n, user});
      return false;
    }
    group->user = user;
    if (group->a == nullptr) {  // a second one: from now on, stage and batch
      group->a = g.template allocate<T>(size_t(kRows * k));
      group->dc = g.template allocate<T>(size_t(kRows * n));
    }
    while (rows > 0) {
      const int64_t take = std::min(rows, kRows - group->rows);
      std::memcpy(group->a + group->rows * k, a, size_t(take * k) * sizeof(T));
      std::memcpy(group->dc + group->rows * n, dc, size_t(take * n) * sizeof(T));
      group->rows += take;
      a += take * k;
      dc += take * n;
      rows -= take;
      if (group->rows == kRows) flush(g, *group);
    }
    return true;
  }

  void before_backward(Graph<T>& /*g*/) override { groups_.clear(); }
  void after_backward(Graph<T>& g) override {
    for (Group& d : groups_) flush(g, d);
    if (g.anomaly_detection())  // the sums land after the walk, where it does not look
      for (const Group& d : groups_)
        AnomalyMonitor<T>::check_gradient(
            g, d.user, d.leaf, " (in the batched sum of that weight's products over all steps)");
    groups_.clear();
  }
  void clear() noexcept override {
    groups_.clear();
    transposed_.clear();
  }

 private:
  struct Group {
    NodeId leaf;
    bool trans_b;
    int64_t k, n;
    NodeId user = 0;  // the last node whose backward staged rows here (for anomaly reports)
    int64_t rows = 0;
    T* a = nullptr;   // [kRows, k]
    T* dc = nullptr;  // [kRows, n]
  };
  static constexpr int64_t kRows = 256;  // a flush multiplies this many rows at once

  static void flush(Graph<T>& g, Group& d) {
    if (d.rows == 0) return;
    T* db = g.grad_buffer(d.leaf);
    if (d.trans_b)  // dB [n, k] += dCᵀ [n, rows] · A [rows, k]
      gemm<T>(true, false, d.n, d.k, d.rows, T(1), d.dc, d.n, d.a, d.k, T(1), db, d.k);
    else  // dB [k, n] += Aᵀ [k, rows] · dC [rows, n]
      gemm<T>(true, false, d.k, d.n, d.rows, T(1), d.a, d.k, d.dc, d.n, T(1), db, d.n);
    d.rows = 0;
  }

  std::vector<Group> groups_;
  std::vector<std::pair<NodeId, const T*>> transposed_;  // per round
};

// matmul's and addmm's attributes: whether A and B are used transposed.
struct ProductAttrs {
  bool transpose_a;
  bool transpose_b;
};

// C [m, n] (+)= A [m, k] · B [k, n], row-major with the given row strides.
template <Scalar T>
void product_nn(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
                T* c, int64_t ldc, bool accumulate) {
  if (m <= kThinRows && k * n * int64_t(sizeof(T)) <= kThinWeightBytes)
    detail::thin_gemm<T>(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  else
    gemm<T>(false, false, m, n, k, T(1), a, lda, b, ldb, accumulate ? T(1) : T(0), c, ldc);
}

// C [m, n] (+)= op(A) · op(B) for the forward of matmul / addmm (A of node a_id, B of b_id).
template <Scalar T>
void product_forward(Graph<T>& g, NodeId a_id, NodeId b_id, bool ta, bool tb, int64_t m, int64_t n,
                     int64_t k, T* c, bool accumulate) {
  const Node<T>& na = g.node(a_id);
  const Node<T>& nb = g.node(b_id);
  if (!ta && m < kDeferRows) {
    if (!tb) return product_nn<T>(m, n, k, na.value, k, nb.value, n, c, n, accumulate);
    if (g.is_leaf(b_id))  // B stored [n, k]: its transpose, made once per round
      if (const T* bt = g.template extension<ProductStaging<T>>().transposed(g, b_id))
        return product_nn<T>(m, n, k, na.value, k, bt, n, c, n, accumulate);
  }
  gemm<T>(ta, tb, m, n, k, T(1), na.value, na.shape[1], nb.value, nb.shape[1],
          accumulate ? T(1) : T(0), c, n);
}

// The product part of matmul and addmm: inputs a_index and a_index + 1 are A and B.
// C = op(A) op(B), op(A) [M, K], op(B) [K, N];
//   dA += dC op(B)ᵀ        (or, A stored transposed: dA += op(B) dCᵀ)
//   dB += op(A)ᵀ dC        (or, B stored transposed: dB += dCᵀ op(A))
template <Scalar T>
void product_backward(const Backward<T>& b, uint32_t a_index) {
  const auto& [ta, tb] = b.template attrs<ProductAttrs>();
  const Shape& sa = b.x_shape(a_index);
  const Shape& sb = b.x_shape(a_index + 1);
  const int64_t m = b.shape()[0];
  const int64_t n = b.shape()[1];
  const int64_t k = ta ? sa[0] : sa[1];
  const T* av = b.x(a_index);
  const T* bv = b.x(a_index + 1);
  const T* dc = b.dy();
  const NodeId b_id = b.input_id(a_index + 1);
  Graph<T>& g = b.graph();
  auto& staging = g.template extension<ProductStaging<T>>();
  bool fresh = false;
  if (T* da = b.dx_for_write(a_index, fresh)) {
    const T* bt =
        !ta && !tb && m < kDeferRows && g.is_leaf(b_id) ? staging.transposed(g, b_id) : nullptr;
    if (!ta && tb && m < kDeferRows)  // dA [M, K] (+)= dC [M, N] · B [N, K], B as stored
      product_nn<T>(m, k, n, dc, n, bv, k, da, k, !fresh);
    else if (bt != nullptr)  // · Bᵀ, transposed once per round
      product_nn<T>(m, k, n, dc, n, bt, k, da, k, !fresh);
    else if (!ta)  // dA [M, K] += dC [M, N] · op(B)ᵀ [N, K]
      gemm<T>(false, !tb, m, k, n, T(1), dc, n, bv, sb[1], fresh ? T(0) : T(1), da, k);
    else  // dA [K, M] += op(B) [K, N] · dCᵀ [N, M]
      gemm<T>(tb, true, k, m, n, T(1), bv, sb[1], dc, n, fresh ? T(0) : T(1), da, m);
  }
  if (!g.node(b_id).needs_grad()) return;
  if (!ta && m < kDeferRows && g.is_leaf(b_id) &&
      staging.defer(g, b.id(), b_id, tb, av, dc, m, k, n))
    return;
  T* db = b.dx(a_index + 1);
  if (!tb)  // dB [K, N] += op(A)ᵀ [K, M] · dC [M, N]
    gemm<T>(!ta, false, k, n, m, T(1), av, sa[1], dc, n, T(1), db, n);
  else  // dB [N, K] += dCᵀ [N, M] · op(A) [M, K]
    gemm<T>(true, ta, n, k, m, T(1), dc, n, av, sa[1], T(1), db, k);
}

template <Scalar T>
void matmul_backward(const Backward<T>& b) {
  product_backward(b, 0);
}

// C = base + op(A) op(B), base [M, N] or a row [N];  dbase += dC (summed over rows for a row)
template <Scalar T>
void addmm_backward(const Backward<T>& b) {
  if (T* dbase = b.dx(0)) {
    const T* dc = b.dy();
    const int64_t m = b.shape()[0];
    const int64_t n = b.shape()[1];
    const bool row = b.x_shape(0).rank() == 1;
    for (int64_t r = 0; r < m; ++r) {
      T* dst = row ? dbase : dbase + r * n;
      const T* src = dc + r * n;
      detail::kernels<T>().add_into(dst, src, n);
    }
  }
  product_backward(b, 1);
}

template <Scalar T>
const OpDef<T> kMatmul{"matmul", &matmul_backward<T>};
template <Scalar T>
const OpDef<T> kAddmm{"addmm", &addmm_backward<T>};

struct ProductShape {
  int64_t m, n, k;
};

// Checks op(a) · op(b) and returns its sizes, or throws ShapeError naming `op`.
ProductShape check_product(const char* op, const Shape& sa, const Shape& sb, bool ta, bool tb) {
  if (sa.rank() != 2 || sb.rank() != 2)
    throw ShapeError(
        fmt::format("{}: both operands must be 2-D, got {} and {}", op, sa.str(), sb.str()));
  const int64_t m = ta ? sa[1] : sa[0];
  const int64_t k = ta ? sa[0] : sa[1];
  const int64_t kb = tb ? sb[1] : sb[0];
  const int64_t n = tb ? sb[0] : sb[1];
  if (k != kb)
    throw ShapeError(fmt::format("{}: inner dimensions differ: a{} is {} and b{} is {} ({} vs {})",
                                 op, ta ? "ᵀ" : "", ta ? Shape{sa[1], sa[0]}.str() : sa.str(),
                                 tb ? "ᵀ" : "", tb ? Shape{sb[1], sb[0]}.str() : sb.str(), k, kb));
  return {m, n, k};
}

}  // namespace

template <Scalar T>
Var<T> matmul(Var<T> a, Var<T> b, bool transpose_a, bool transpose_b) {
  Graph<T>& g = graph_of("matmul", {a, b});
  // Copies: record() below may move the node array.
  const Shape sa = g.node(a.id()).shape;
  const Shape sb = g.node(b.id()).shape;
  const ProductShape p = check_product("matmul", sa, sb, transpose_a, transpose_b);
  auto [c, out] =
      g.record(kMatmul<T>, {a, b}, Shape{p.m, p.n}, ProductAttrs{transpose_a, transpose_b});
  product_forward(g, a.id(), b.id(), transpose_a, transpose_b, p.m, p.n, p.k, out, false);
  return c;
}

template <Scalar T>
Var<T> addmm(Var<T> base, Var<T> a, Var<T> b, bool transpose_a, bool transpose_b) {
  Graph<T>& g = graph_of("addmm", {base, a, b});
  const Shape s0 = g.node(base.id()).shape;
  const Shape sa = g.node(a.id()).shape;
  const Shape sb = g.node(b.id()).shape;
  const ProductShape p = check_product("addmm", sa, sb, transpose_a, transpose_b);
  const bool row = s0.rank() == 1 && s0[0] == p.n;
  if (!row && !(s0 == Shape{p.m, p.n}))
    throw ShapeError(
        fmt::format("addmm: base has shape {}; the product is [{}, {}], so base must "
                    "be [{}, {}] or a row [{}]",
                    s0.str(), p.m, p.n, p.m, p.n, p.n));
  const T* v0 = g.node(base.id()).value;
  auto [c, out] =
      g.record(kAddmm<T>, {base, a, b}, Shape{p.m, p.n}, ProductAttrs{transpose_a, transpose_b});
  for (int64_t r = 0; r < p.m; ++r) {
    const T* src = row ? v0 : v0 + r * p.n;
    std::copy(src, src + p.n, out + r * p.n);
  }
  product_forward(g, a.id(), b.id(), transpose_a, transpose_b, p.m, p.n, p.k, out, true);
  return c;
}

template <Scalar T>
Var<T> linear(Var<T> x, Var<T> w, Var<T> bias) {
  if (!bias.empty() && bias.rank() == 1) return addmm(bias, x, w, false, true);
  Var<T> y = matmul(x, w, false, true);
  return bias.empty() ? y : add(y, bias);
}

template Var<float> matmul(Var<float>, Var<float>, bool, bool);
template Var<double> matmul(Var<double>, Var<double>, bool, bool);
template Var<float> addmm(Var<float>, Var<float>, Var<float>, bool, bool);
template Var<double> addmm(Var<double>, Var<double>, Var<double>, bool, bool);
template Var<float> linear(Var<float>, Var<float>, Var<float>);
template Var<double> linear(Var<double>, Var<double>, Var<double>);

namespace detail {
const OpInfo kLinalgOps[] = {{kMatmul<double>.name, true}, {kAddmm<double>.name, true}};
std::span<const OpInfo> linalg_ops() {
  return kLinalgOps;
}
}  // namespace detail

}  // namespace rwd
