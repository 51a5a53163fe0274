// layer_norm: forward and backward. The forward keeps each row's mean and 1/sqrt(var + eps)
// in the graph's arena, so the backward recomputes x̂ without a second pass over the
// statistics. The row loops run in the kernel table (ops/kernels/norm_body.hpp, built per
// instruction set, with the row sums in vector lanes: Note [Layer norm partial sums]); here
// are the shape checks, the tape and the gradient formulas.
#include "rewind/ops/norm.hpp"

#include <fmt/format.h>

#include <array>

#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

// What layer_norm's forward keeps for its backward. Inputs are x, then gain if has_gain,
// then bias if has_bias.
template <Scalar T>
struct LayerNormAttrs {
  const T* mean;  // [rows] in the graph's arena, rows = numel(x) / D
  const T* rstd;  // [rows] 1 / sqrt(var + eps)
  bool has_gain;
  bool has_bias;
};

// The rows of D elements that layer_norm normalises: x seen as [rows, D].
struct Rows {
  int64_t rows;
  int64_t d;
};
Rows rows_of(const Shape& x) {
  const int last = x.rank() - 1;
  return {split_at_axis(x, last).outer, x[last]};
}

// y = x̂ ∘ gain + bias,  x̂ = (x − mean) · rstd, per row of D (Ba et al. 2016, eq. 4):
//   dbias += Σ_rows dy,   dgain += Σ_rows dy ∘ x̂
//   with g = dy ∘ gain:   dx += rstd · (g − mean_D(g) − x̂ · mean_D(g ∘ x̂))
// (mean and rstd as the forward kept them).
template <Scalar T>
void layer_norm_backward(const Backward<T>& b) {
  const auto& [mean, rstd, has_gain, has_bias] = b.template attrs<LayerNormAttrs<T>>();
  const auto [rows, d] = rows_of(b.x_shape(0));
  detail::LayerNormBackward<T> args{};
  args.rows = rows;
  args.d = d;
  args.x = b.x(0);
  args.dy = b.dy();
  args.gain = has_gain ? b.x(1) : nullptr;
  args.mean = mean;
  args.rstd = rstd;
  // gain's and bias's gradients first: when x is also the gain or the bias (rank 1), its
  // buffer then exists, and dx_for_write hands it out to add to, not as fresh.
  args.dgain = has_gain ? b.dx(1) : nullptr;
  args.dbias = has_bias ? b.dx(has_gain ? 2 : 1) : nullptr;
  args.dx = b.dx_for_write(0, args.fresh_dx);
  detail::kernels<T>().layer_norm_backward(args);
}

template <Scalar T>
const OpDef<T> kLayerNorm{"layer_norm", &layer_norm_backward<T>};

}  // namespace

template <Scalar T>
Var<T> layer_norm(Var<T> x, Var<T> gain, Var<T> bias, std::type_identity_t<T> eps) {
  std::array<Var<T>, 3> inputs{x};
  size_t n_inputs = 1;
  if (!gain.empty()) inputs[n_inputs++] = gain;
  if (!bias.empty()) inputs[n_inputs++] = bias;
  const std::span<const Var<T>> in(inputs.data(), n_inputs);
  Graph<T>& g = graph_of("layer_norm", in);
  const Shape xs = g.node(x.id()).shape;
  if (xs.rank() == 0)
    throw ShapeError(fmt::format(
        "layer_norm: x must have rank >= 1 (it is normalised over its last axis), got shape {}",
        xs.str()));
  const auto [rows, d] = rows_of(xs);
  for (const auto& [v, what] : {std::pair{gain, "gain"}, std::pair{bias, "bias"}})
    if (!v.empty() && !(g.node(v.id()).shape == Shape{d}))
      throw ShapeError(fmt::format("layer_norm: {} has shape {} but must be [{}] for x of shape {}",
                                   what, g.node(v.id()).shape.str(), d, xs.str()));
  if (!(eps > T(0)))
    throw ValueError(
        fmt::format("layer_norm: eps must be positive, got {} (x of shape {})", eps, xs.str()));

  const T* xv = g.node(x.id()).value;                              // [rows, D]
  const T* gv = gain.empty() ? nullptr : g.node(gain.id()).value;  // [D]
  const T* bv = bias.empty() ? nullptr : g.node(bias.id()).value;  // [D]
  T* mean = g.template allocate<T>(size_t(rows));                  // [rows]
  T* rstd = g.template allocate<T>(size_t(rows));                  // [rows]
  auto [y, out] =
      g.record(kLayerNorm<T>, in, xs, LayerNormAttrs<T>{mean, rstd, gv != nullptr, bv != nullptr});
  detail::kernels<T>().layer_norm_forward({rows, d, xv, gv, bv, eps, out, mean, rstd});
  return y;
}

#define REWIND_INSTANTIATE(T) template Var<T> layer_norm(Var<T>, Var<T>, Var<T>, T);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

namespace detail {
const OpInfo kNormOps[] = {
    {kLayerNorm<double>.name, true},
};
std::span<const OpInfo> norm_ops() {
  return kNormOps;
}
}  // namespace detail

}  // namespace rwd
