// Locked dropout, embedding dropout, zoneout and the masks they draw.
#include "rewind/layers/regularizers.hpp"

#include <fmt/format.h>

#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/embedding.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {
namespace detail {

void check_drop_probability(std::string_view op, std::string_view option, double p) {
  if (!(p >= 0.0 && p < 1.0))
    throw ValueError(fmt::format("{}: {} = {} is not in [0, 1)", op, option, p));
}

void check_regularizers(std::string_view layer, const RecurrentRegularizers& r, size_t state_size) {
  check_drop_probability(layer, "regularizers.input_dropout", r.input_dropout);
  check_drop_probability(layer, "regularizers.output_dropout", r.output_dropout);
  check_drop_probability(layer, "regularizers.state_dropout", r.state_dropout);
  check_drop_probability(layer, "regularizers.weight_drop", r.weight_drop);
  check_drop_probability(layer, "regularizers.zoneout_h", r.zoneout_h);
  check_drop_probability(layer, "regularizers.zoneout_c", r.zoneout_c);
  if (state_size < 2 && r.zoneout_c > 0)
    throw ValueError(fmt::format(
        "{}: regularizers.zoneout_c = {} is set, but the cell's state has only h (use zoneout_h)",
        layer, r.zoneout_c));
}

template <Scalar T>
Var<T> keep_mask(Graph<T>& g, const Shape& shape_ref, double p, Generator& gen) {
  // A copy first: `shape_ref` may be a node's shape (w.shape()), which the new node's push
  // can move.
  const Shape shape = shape_ref;
  auto r = g.new_constant(shape);
  const T scale = T(1.0 / (1.0 - p));
  const int64_t n = shape.numel();
  for (int64_t i = 0; i < n; ++i) r.out[i] = gen.uniform() < p ? T(0) : scale;
  return r.var;
}

// Krueger et al. 2017: h_t = d_t ∘ h_{t-1} + (1 - d_t) ∘ h̃_t, d_t ~ Bernoulli(p)
// per unit; at test time d_t is replaced by its expectation p. Written as next + d∘(prev - next).
template <Scalar T>
Var<T> zoneout(Var<T> prev, Var<T> next, double p, bool training, Generator& gen) {
  if (!training) return next + (prev - next) * T(p);
  auto d = next.graph().new_constant(next.shape());  // [B, H]: 1 keeps the previous value
  const int64_t n = next.shape().numel();
  for (int64_t i = 0; i < n; ++i) d.out[i] = gen.uniform() < p ? T(1) : T(0);
  return next + (prev - next) * d.var;
}

template Var<float> keep_mask(Graph<float>&, const Shape&, double, Generator&);
template Var<double> keep_mask(Graph<double>&, const Shape&, double, Generator&);
template Var<float> zoneout(Var<float>, Var<float>, double, bool, Generator&);
template Var<double> zoneout(Var<double>, Var<double>, double, bool, Generator&);

}  // namespace detail

template <Scalar T>
Var<T> locked_dropout(Var<T> x, double p, Generator& gen, bool training) {
  detail::check_drop_probability("locked_dropout", "p", p);
  const Shape s = x.shape();
  if (s.rank() < 2)
    throw ShapeError(fmt::format(
        "locked_dropout: x must be [time, batch, ...] (rank 2 or more), got shape {}", s.str()));
  if (!training || p == 0.0 || s.numel() == 0) return x;
  const int64_t steps = s[0];
  const int64_t per_step = s.numel() / steps;  // B·F
  // y[t] = x[t] ∘ m for every t, m [B·F] drawn once: a broadcast multiply of [T, B·F] by [B·F].
  Var<T> m = detail::keep_mask(x.graph(), Shape{per_step}, p, gen);
  return reshape(reshape(x, {steps, per_step}) * m, s);
}

template <Scalar T>
Var<T> embedding_dropout(Var<T> table, std::span<const int64_t> ids, double p, Generator& gen,
                         bool training) {
  detail::check_drop_probability("embedding_dropout", "p", p);
  Var<T> rows = embedding(table, ids);  // [N, D]; checks the table and the ids
  if (!training || p == 0.0) return rows;
  // (M ∘ W)[ids] = M[ids] ∘ W[ids] with M [V, 1] one draw per word: gathering the mask's
  // rows costs N instead of a V×D product, and gives the same values and gradients.
  Var<T> word_mask = detail::keep_mask(table.graph(), Shape{table.shape()[0], 1}, p, gen);
  return rows * embedding(word_mask, ids);  // [N, D] ∘ [N, 1]
}

template Var<float> locked_dropout(Var<float>, double, Generator&, bool);
template Var<double> locked_dropout(Var<double>, double, Generator&, bool);
template Var<float> embedding_dropout(Var<float>, std::span<const int64_t>, double, Generator&,
                                      bool);
template Var<double> embedding_dropout(Var<double>, std::span<const int64_t>, double, Generator&,
                                       bool);

}  // namespace rwd
