// matmul: forward and backward through BLAS, with gradients accumulated in place (beta = 1).
#include "rewind/ops/linalg.hpp"

#include <fmt/format.h>

#include "rewind/ops/blas.hpp"
#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

using detail::gemm;

// C = op(A) op(B), op(A) [M, K], op(B) [K, N];
//   dA += dC op(B)ᵀ        (or, A stored transposed: dA += op(B) dCᵀ)
//   dB += op(A)ᵀ dC        (or, B stored transposed: dB += dCᵀ op(A))
template <Scalar T>
void matmul_backward(const Backward<T>& b) {
  const bool ta = b.attrs().i[0] != 0;
  const bool tb = b.attrs().i[1] != 0;
  const Shape& sa = b.x_shape(0);
  const Shape& sb = b.x_shape(1);
  const int64_t m = b.shape()[0];
  const int64_t n = b.shape()[1];
  const int64_t k = ta ? sa[0] : sa[1];
  const T* av = b.x(0);
  const T* bv = b.x(1);
  const T* dc = b.dy();
  if (T* da = b.dx(0)) {
    if (!ta)  // dA [M, K] += dC [M, N] · op(B)ᵀ [N, K]
      gemm<T>(false, !tb, m, k, n, T(1), dc, n, bv, sb[1], T(1), da, k);
    else  // dA [K, M] += op(B) [K, N] · dCᵀ [N, M]
      gemm<T>(tb, true, k, m, n, T(1), bv, sb[1], dc, n, T(1), da, m);
  }
  if (T* db = b.dx(1)) {
    if (!tb)  // dB [K, N] += op(A)ᵀ [K, M] · dC [M, N]
      gemm<T>(!ta, false, k, n, m, T(1), av, sa[1], dc, n, T(1), db, n);
    else  // dB [N, K] += dCᵀ [N, M] · op(A) [M, K]
      gemm<T>(true, ta, n, k, m, T(1), dc, n, av, sa[1], T(1), db, k);
  }
}

template <Scalar T>
const OpDef<T> kMatmul{"matmul", &matmul_backward<T>};

}  // namespace

template <Scalar T>
Var<T> matmul(Var<T> a, Var<T> b, bool transpose_a, bool transpose_b) {
  Graph<T>& g = graph_of("matmul", {a, b});
  // Copies: record() below may move the node array.
  const Shape sa = g.node(a.id()).shape;
  const Shape sb = g.node(b.id()).shape;
  if (sa.rank() != 2 || sb.rank() != 2)
    throw ShapeError(
        fmt::format("matmul: both operands must be 2-D, got {} and {}", sa.str(), sb.str()));
  const int64_t m = transpose_a ? sa[1] : sa[0];
  const int64_t k = transpose_a ? sa[0] : sa[1];
  const int64_t kb = transpose_b ? sb[1] : sb[0];
  const int64_t n = transpose_b ? sb[0] : sb[1];
  if (k != kb)
    throw ShapeError(fmt::format(
        "matmul: inner dimensions differ: a{} is {} and b{} is {} ({} vs {})",
        transpose_a ? "ᵀ" : "", transpose_a ? Shape{sa[1], sa[0]}.str() : sa.str(),
        transpose_b ? "ᵀ" : "", transpose_b ? Shape{sb[1], sb[0]}.str() : sb.str(), k, kb));
  OpAttrs attrs;
  attrs.i[0] = transpose_a ? 1 : 0;
  attrs.i[1] = transpose_b ? 1 : 0;
  const T* av = g.node(a.id()).value;
  const T* bv = g.node(b.id()).value;
  auto [c, out] = g.record(kMatmul<T>, {a, b}, Shape{m, n}, attrs);
  gemm<T>(transpose_a, transpose_b, m, n, k, T(1), av, sa[1], bv, sb[1], T(0), out, n);
  return c;
}

template <Scalar T>
Var<T> linear(Var<T> x, Var<T> w, Var<T> bias) {
  Var<T> y = matmul(x, w, false, true);
  return bias.empty() ? y : add(y, bias);
}

template Var<float> matmul(Var<float>, Var<float>, bool, bool);
template Var<double> matmul(Var<double>, Var<double>, bool, bool);
template Var<float> linear(Var<float>, Var<float>, Var<float>);
template Var<double> linear(Var<double>, Var<double>, Var<double>);

namespace detail {
const OpInfo kLinalgOps[] = {{kMatmul<double>.name, true}};
std::span<const OpInfo> linalg_ops() {
  return kLinalgOps;
}
}  // namespace detail

}  // namespace rwd
