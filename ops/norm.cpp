// layer_norm: forward and backward. The forward keeps each row's mean and 1/sqrt(var + eps)
// in the graph's arena, so the backward recomputes x̂ without a second pass over the
// statistics. Row sums accumulate in double, as in ops/reduce.cpp.
#include "rewind/ops/norm.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>

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
template <Scalar T>
void layer_norm_backward(const Backward<T>& b) {
  const auto& [mean, rstd, has_gain, has_bias] = b.template attrs<LayerNormAttrs<T>>();
  const auto [rows, d] = rows_of(b.x_shape(0));
  const T* x = b.x(0);
  const T* dy = b.dy();
  const T* gain = has_gain ? b.x(1) : nullptr;
  T* dx = b.dx(0);
  T* dgain = has_gain ? b.dx(1) : nullptr;
  T* dbias = has_bias ? b.dx(has_gain ? 2 : 1) : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * d;    // [D]
    const T* dyr = dy + r * d;  // [D]
    const T m = mean[r];
    const T s = rstd[r];
    if (dbias != nullptr)
      for (int64_t k = 0; k < d; ++k) dbias[k] += dyr[k];
    if (dgain != nullptr)
      for (int64_t k = 0; k < d; ++k) dgain[k] += dyr[k] * ((xr[k] - m) * s);
    if (dx == nullptr) continue;
    double sum_g = 0;
    double sum_gx = 0;
    for (int64_t k = 0; k < d; ++k) {
      const T g = gain != nullptr ? dyr[k] * gain[k] : dyr[k];
      sum_g += g;
      sum_gx += g * ((xr[k] - m) * s);
    }
    const T mean_g = T(sum_g / double(d));
    const T mean_gx = T(sum_gx / double(d));
    T* dxr = dx + r * d;  // [D]
    for (int64_t k = 0; k < d; ++k) {
      const T g = gain != nullptr ? dyr[k] * gain[k] : dyr[k];
      dxr[k] += s * (g - mean_g - (xr[k] - m) * s * mean_gx);
    }
  }
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
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = xv + r * d;  // [D]
    T* yr = out + r * d;       // [D]
    double total = 0;
    for (int64_t k = 0; k < d; ++k) total += xr[k];
    const double mu = total / double(d);
    double squares = 0;  // two passes: no cancellation when |mean| >> std
    for (int64_t k = 0; k < d; ++k) squares += (double(xr[k]) - mu) * (double(xr[k]) - mu);
    mean[r] = T(mu);
    rstd[r] = T(1.0 / std::sqrt(squares / double(d) + double(eps)));
    const T m = mean[r];
    const T s = rstd[r];
    for (int64_t k = 0; k < d; ++k) yr[k] = (xr[k] - m) * s;
    if (gv != nullptr)
      for (int64_t k = 0; k < d; ++k) yr[k] *= gv[k];
    if (bv != nullptr)
      for (int64_t k = 0; k < d; ++k) yr[k] += bv[k];
  }
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
