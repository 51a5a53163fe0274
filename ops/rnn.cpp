// lstm_pointwise and gru_pointwise: forward and backward. Activations are kept in the graph's
// arena for backward, so backward does no transcendental function at all.
#include "rewind/ops/rnn.hpp"

#include <fmt/format.h>

#include "rewind/ops/fast_math.hpp"
#include "rewind/ops/registry.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {
namespace {

using detail::sigmoid_of;
using detail::tanh_of;

// attrs.ptr: saved [B, 5H] per row: σ(i), σ(f), tanh(g), σ(o), tanh(c').
//   dc_total = dc' + dh' σ(o) (1 − tanh²(c'))
//   dgates_i += dc_total tanh(g) σ(i)(1 − σ(i))     dgates_f += dc_total c σ(f)(1 − σ(f))
//   dgates_g += dc_total σ(i) (1 − tanh²(g))         dgates_o += dh' tanh(c') σ(o)(1 − σ(o))
//   dc += dc_total σ(f)
template <Scalar T>
void lstm_pointwise_backward(const Backward<T>& b) {
  const int64_t batch = b.x_shape(1)[0];
  const int64_t hidden = b.x_shape(1)[1];
  const T* saved = static_cast<const T*>(b.attrs().ptr);
  const T* dh = b.dy();
  const T* dc_next = b.dy() + batch * hidden;
  const T* c = b.x(1);
  T* dgates = b.dx(0);
  T* dc = b.dx(1);
  for (int64_t r = 0; r < batch; ++r) {
    const T* s = saved + r * 5 * hidden;
    const T* si = s;
    const T* sf = s + hidden;
    const T* sg = s + 2 * hidden;
    const T* so = s + 3 * hidden;
    const T* tc = s + 4 * hidden;
    const T* dhr = dh + r * hidden;
    const T* dcr = dc_next + r * hidden;
    const T* cr = c + r * hidden;
    T* dgr = dgates ? dgates + r * 4 * hidden : nullptr;
    T* dcp = dc ? dc + r * hidden : nullptr;
    for (int64_t j = 0; j < hidden; ++j) {
      const T dct = dcr[j] + dhr[j] * so[j] * (T(1) - tc[j] * tc[j]);
      if (dgr) {
        dgr[j] += dct * sg[j] * si[j] * (T(1) - si[j]);
        dgr[hidden + j] += dct * cr[j] * sf[j] * (T(1) - sf[j]);
        dgr[2 * hidden + j] += dct * si[j] * (T(1) - sg[j] * sg[j]);
        dgr[3 * hidden + j] += dhr[j] * tc[j] * so[j] * (T(1) - so[j]);
      }
      if (dcp) dcp[j] += dct * sf[j];
    }
  }
}

// attrs.ptr: saved [B, 3H] per row: r, z, n.
//   dn = dh' (1 − z),  dz = dh' (h − n),  dh += dh' z
//   dn_pre = dn (1 − n²):  dx_n += dn_pre,  dh_n += dn_pre r,  dr = dn_pre h_n
//   dr_pre = dr r (1 − r): dx_r += dr_pre,  dh_r += dr_pre;   dz_pre = dz z (1 − z): likewise
template <Scalar T>
void gru_pointwise_backward(const Backward<T>& b) {
  const int64_t batch = b.shape()[0];
  const int64_t hidden = b.shape()[1];
  const T* saved = static_cast<const T*>(b.attrs().ptr);
  const T* dy = b.dy();
  const T* hp = b.x(1);
  const T* h = b.x(2);
  T* dxp = b.dx(0);
  T* dhp = b.dx(1);
  T* dh = b.dx(2);
  for (int64_t row = 0; row < batch; ++row) {
    const T* r = saved + row * 3 * hidden;
    const T* z = r + hidden;
    const T* n = r + 2 * hidden;
    const T* hn = hp + row * 3 * hidden + 2 * hidden;
    const T* hr = h + row * hidden;
    const T* d = dy + row * hidden;
    T* dx_row = dxp ? dxp + row * 3 * hidden : nullptr;
    T* dh_row = dhp ? dhp + row * 3 * hidden : nullptr;
    T* dprev = dh ? dh + row * hidden : nullptr;
    for (int64_t j = 0; j < hidden; ++j) {
      const T dn_pre = d[j] * (T(1) - z[j]) * (T(1) - n[j] * n[j]);
      const T dr_pre = dn_pre * hn[j] * r[j] * (T(1) - r[j]);
      const T dz_pre = d[j] * (hr[j] - n[j]) * z[j] * (T(1) - z[j]);
      if (dx_row) {
        dx_row[j] += dr_pre;
        dx_row[hidden + j] += dz_pre;
        dx_row[2 * hidden + j] += dn_pre;
      }
      if (dh_row) {
        dh_row[j] += dr_pre;
        dh_row[hidden + j] += dz_pre;
        dh_row[2 * hidden + j] += dn_pre * r[j];
      }
      if (dprev) dprev[j] += d[j] * z[j];
    }
  }
}

template <Scalar T>
const OpDef<T> kLstmPointwise{"lstm_pointwise", &lstm_pointwise_backward<T>};
template <Scalar T>
const OpDef<T> kGruPointwise{"gru_pointwise", &gru_pointwise_backward<T>};

}  // namespace

template <Scalar T>
Var<T> lstm_pointwise(Var<T> gates, Var<T> c) {
  Graph<T>& g = graph_of("lstm_pointwise", {gates, c});
  const Shape sg = g.node(gates.id()).shape;
  const Shape sc = g.node(c.id()).shape;
  if (sc.rank() != 2 || !(sg == Shape{sc[0], 4 * sc[1]}))
    throw ShapeError(fmt::format(
        "lstm_pointwise: gates must be [B, 4H] for a cell state c [B, H]; got gates {} and c {}",
        sg.str(), sc.str()));
  const int64_t batch = sc[0];
  const int64_t hidden = sc[1];
  T* saved = g.template allocate<T>(size_t(std::max<int64_t>(batch * 5 * hidden, 1)));
  OpAttrs attrs;
  attrs.ptr = saved;
  const T* gv = g.node(gates.id()).value;
  const T* cv = g.node(c.id()).value;
  auto [y, out] = g.record(kLstmPointwise<T>, {gates, c}, Shape{2, batch, hidden}, attrs);
  T* h_out = out;
  T* c_out = out + batch * hidden;
  for (int64_t r = 0; r < batch; ++r) {
    const T* gr = gv + r * 4 * hidden;
    T* s = saved + r * 5 * hidden;
    // Activate the four gate blocks in place in the saved buffer (vectorized kernels).
    detail::sigmoid_kernel(gr, s, 2 * hidden);                        // i, f
    detail::tanh_kernel(gr + 2 * hidden, s + 2 * hidden, hidden);     // g
    detail::sigmoid_kernel(gr + 3 * hidden, s + 3 * hidden, hidden);  // o
    const T* cr = cv + r * hidden;
    T* cn = c_out + r * hidden;
    for (int64_t j = 0; j < hidden; ++j) cn[j] = s[hidden + j] * cr[j] + s[j] * s[2 * hidden + j];
    detail::tanh_kernel(cn, s + 4 * hidden, hidden);  // tanh(c')
    T* hn = h_out + r * hidden;
    for (int64_t j = 0; j < hidden; ++j) hn[j] = s[3 * hidden + j] * s[4 * hidden + j];
  }
  return y;
}

template <Scalar T>
Var<T> lstm_hidden(Var<T> hc) {
  const Shape s = hc.shape();
  if (s.rank() != 3 || s[0] != 2)
    throw ShapeError(
        fmt::format("lstm_hidden: expects the [2, B, H] result of lstm_pointwise, "
                    "got {}",
                    s.str()));
  return reshape(slice(hc, 0, 0, 1), Shape{s[1], s[2]});
}

template <Scalar T>
Var<T> lstm_cell_state(Var<T> hc) {
  const Shape s = hc.shape();
  if (s.rank() != 3 || s[0] != 2)
    throw ShapeError(
        fmt::format("lstm_cell_state: expects the [2, B, H] result of "
                    "lstm_pointwise, got {}",
                    s.str()));
  return reshape(slice(hc, 0, 1, 2), Shape{s[1], s[2]});
}

template <Scalar T>
Var<T> gru_pointwise(Var<T> xp, Var<T> hp, Var<T> h) {
  Graph<T>& g = graph_of("gru_pointwise", {xp, hp, h});
  const Shape sx = g.node(xp.id()).shape;
  const Shape sp = g.node(hp.id()).shape;
  const Shape sh = g.node(h.id()).shape;
  if (sh.rank() != 2 || !(sx == Shape{sh[0], 3 * sh[1]}) || !(sp == sx))
    throw ShapeError(
        fmt::format("gru_pointwise: xp and hp must be [B, 3H] for h [B, H]; got xp "
                    "{}, hp {}, h {}",
                    sx.str(), sp.str(), sh.str()));
  const int64_t batch = sh[0];
  const int64_t hidden = sh[1];
  T* saved = g.template allocate<T>(size_t(std::max<int64_t>(batch * 3 * hidden, 1)));
  OpAttrs attrs;
  attrs.ptr = saved;
  const T* xv = g.node(xp.id()).value;
  const T* pv = g.node(hp.id()).value;
  const T* hv = g.node(h.id()).value;
  auto [y, out] = g.record(kGruPointwise<T>, {xp, hp, h}, Shape{batch, hidden}, attrs);
  for (int64_t row = 0; row < batch; ++row) {
    const T* xr = xv + row * 3 * hidden;
    const T* pr = pv + row * 3 * hidden;
    T* s = saved + row * 3 * hidden;  // r, z, then n
    for (int64_t j = 0; j < 2 * hidden; ++j) s[j] = xr[j] + pr[j];
    detail::sigmoid_kernel(s, s, 2 * hidden);
    T* n = s + 2 * hidden;
    for (int64_t j = 0; j < hidden; ++j) n[j] = xr[2 * hidden + j] + s[j] * pr[2 * hidden + j];
    detail::tanh_kernel(n, n, hidden);
    const T* z = s + hidden;
    const T* hr = hv + row * hidden;
    T* o = out + row * hidden;
    for (int64_t j = 0; j < hidden; ++j) o[j] = n[j] + z[j] * (hr[j] - n[j]);
  }
  return y;
}

#define REWIND_INSTANTIATE(T)                     \
  template Var<T> lstm_pointwise(Var<T>, Var<T>); \
  template Var<T> lstm_hidden(Var<T>);            \
  template Var<T> lstm_cell_state(Var<T>);        \
  template Var<T> gru_pointwise(Var<T>, Var<T>, Var<T>);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

namespace detail {
const OpInfo kRnnOps[] = {{kLstmPointwise<double>.name, true}, {kGruPointwise<double>.name, true}};
std::span<const OpInfo> rnn_ops() {
  return kRnnOps;
}
}  // namespace detail

}  // namespace rwd
