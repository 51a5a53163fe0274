// lstm_pointwise and gru_pointwise: forward and backward, each one pass over the batch.
#include "rewind/ops/rnn.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "rewind/ops/fast_math.hpp"
#include "rewind/ops/registry.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {
namespace {

// Activations are recomputed in backward from the pre-activations (cheap with the vectorized
// kernels) rather than kept: a saved copy would cost 5H values per row and time step. Rows
// are processed in column chunks with the activations in stack buffers.
constexpr int64_t kChunk = 256;

// Activates chunk [j0, j0 + w) of one row of LSTM gates: i, f, g, o and tanh(c_next).
template <Scalar T>
void lstm_activate(const T* gates_row, int64_t hidden, int64_t j0, int64_t w, T (&act)[4][kChunk]) {
  detail::sigmoid_kernel(gates_row + j0, act[0], w);               // i
  detail::sigmoid_kernel(gates_row + hidden + j0, act[1], w);      // f
  detail::tanh_kernel(gates_row + 2 * hidden + j0, act[2], w);     // g
  detail::sigmoid_kernel(gates_row + 3 * hidden + j0, act[3], w);  // o
}

// y = lstm_pointwise(gates, c) = [h', c'];  with i, f, g, o the activated gates:
//   dc_total = dc' + dh' o (1 − tanh²(c'))
//   dgates_i = dc_total g i (1 − i)      dgates_f = dc_total c f (1 − f)
//   dgates_g = dc_total i (1 − g²)       dgates_o = dh' tanh(c') o (1 − o)
//   dc += dc_total f
template <Scalar T>
void lstm_pointwise_backward(const Backward<T>& b) {
  const int64_t batch = b.x_shape(1)[0];
  const int64_t hidden = b.x_shape(1)[1];
  const T* gates = b.x(0);
  const T* c = b.x(1);
  const T* c_next = b.y() + batch * hidden;
  const T* dh = b.dy();
  const T* dc_next = b.dy() + batch * hidden;
  bool fresh_g = false;
  bool fresh_c = false;
  T* dgates = b.dx_for_write(0, fresh_g);
  T* dc = b.dx_for_write(1, fresh_c);
  T act[4][kChunk];
  T tc[kChunk];
  for (int64_t r = 0; r < batch; ++r) {
    const T* gr = gates + r * 4 * hidden;
    for (int64_t j0 = 0; j0 < hidden; j0 += kChunk) {
      const int64_t w = std::min(kChunk, hidden - j0);
      lstm_activate(gr, hidden, j0, w, act);
      detail::tanh_kernel(c_next + r * hidden + j0, tc, w);
      const T* dhr = dh + r * hidden + j0;
      const T* dcr = dc_next + r * hidden + j0;
      const T* cr = c + r * hidden + j0;
      T* dgr = dgates ? dgates + r * 4 * hidden + j0 : nullptr;
      T* dcp = dc ? dc + r * hidden + j0 : nullptr;
      for (int64_t j = 0; j < w; ++j) {
        const T i = act[0][j], f = act[1][j], g = act[2][j], o = act[3][j];
        const T dct = dcr[j] + dhr[j] * o * (T(1) - tc[j] * tc[j]);
        const T d_i = dct * g * i * (T(1) - i);
        const T d_f = dct * cr[j] * f * (T(1) - f);
        const T d_g = dct * i * (T(1) - g * g);
        const T d_o = dhr[j] * tc[j] * o * (T(1) - o);
        if (dgr) {
          if (fresh_g) {
            dgr[j] = d_i;
            dgr[hidden + j] = d_f;
            dgr[2 * hidden + j] = d_g;
            dgr[3 * hidden + j] = d_o;
          } else {
            dgr[j] += d_i;
            dgr[hidden + j] += d_f;
            dgr[2 * hidden + j] += d_g;
            dgr[3 * hidden + j] += d_o;
          }
        }
        if (dcp) dcp[j] = (fresh_c ? T(0) : dcp[j]) + dct * f;
      }
    }
  }
}

// Activates chunk [j0, j0 + w) of one GRU row: r, z, n.
template <Scalar T>
void gru_activate(const T* xr, const T* pr, int64_t hidden, int64_t j0, int64_t w,
                  T (&act)[3][kChunk]) {
  for (int64_t j = 0; j < w; ++j) {
    act[0][j] = xr[j0 + j] + pr[j0 + j];
    act[1][j] = xr[hidden + j0 + j] + pr[hidden + j0 + j];
  }
  detail::sigmoid_kernel(act[0], act[0], w);
  detail::sigmoid_kernel(act[1], act[1], w);
  for (int64_t j = 0; j < w; ++j)
    act[2][j] = xr[2 * hidden + j0 + j] + act[0][j] * pr[2 * hidden + j0 + j];
  detail::tanh_kernel(act[2], act[2], w);
}

// y = gru_pointwise(xp, hp, h), with r, z, n the activated gates:
//   dn_pre = dh' (1 − z) (1 − n²):  dx_n += dn_pre,  dh_n += dn_pre r
//   dr_pre = dn_pre h_n r (1 − r):  dx_r += dr_pre,  dh_r += dr_pre
//   dz_pre = dh' (h − n) z (1 − z): dx_z += dz_pre,  dh_z += dz_pre;   dh += dh' z
template <Scalar T>
void gru_pointwise_backward(const Backward<T>& b) {
  const int64_t batch = b.shape()[0];
  const int64_t hidden = b.shape()[1];
  const T* xp = b.x(0);
  const T* hp = b.x(1);
  const T* h = b.x(2);
  const T* dy = b.dy();
  bool fresh_x = false, fresh_p = false, fresh_h = false;
  T* dxp = b.dx_for_write(0, fresh_x);
  T* dhp = b.dx_for_write(1, fresh_p);
  T* dh = b.dx_for_write(2, fresh_h);
  T act[3][kChunk];
  for (int64_t row = 0; row < batch; ++row) {
    const T* xr = xp + row * 3 * hidden;
    const T* pr = hp + row * 3 * hidden;
    for (int64_t j0 = 0; j0 < hidden; j0 += kChunk) {
      const int64_t w = std::min(kChunk, hidden - j0);
      gru_activate(xr, pr, hidden, j0, w, act);
      const T* hn = pr + 2 * hidden + j0;
      const T* hr = h + row * hidden + j0;
      const T* d = dy + row * hidden + j0;
      T* dx_row = dxp ? dxp + row * 3 * hidden + j0 : nullptr;
      T* dh_row = dhp ? dhp + row * 3 * hidden + j0 : nullptr;
      T* dprev = dh ? dh + row * hidden + j0 : nullptr;
      for (int64_t j = 0; j < w; ++j) {
        const T r = act[0][j], z = act[1][j], n = act[2][j];
        const T dn_pre = d[j] * (T(1) - z) * (T(1) - n * n);
        const T dr_pre = dn_pre * hn[j] * r * (T(1) - r);
        const T dz_pre = d[j] * (hr[j] - n) * z * (T(1) - z);
        if (dx_row) {
          dx_row[j] = (fresh_x ? T(0) : dx_row[j]) + dr_pre;
          dx_row[hidden + j] = (fresh_x ? T(0) : dx_row[hidden + j]) + dz_pre;
          dx_row[2 * hidden + j] = (fresh_x ? T(0) : dx_row[2 * hidden + j]) + dn_pre;
        }
        if (dh_row) {
          dh_row[j] = (fresh_p ? T(0) : dh_row[j]) + dr_pre;
          dh_row[hidden + j] = (fresh_p ? T(0) : dh_row[hidden + j]) + dz_pre;
          dh_row[2 * hidden + j] = (fresh_p ? T(0) : dh_row[2 * hidden + j]) + dn_pre * r;
        }
        if (dprev) dprev[j] = (fresh_h ? T(0) : dprev[j]) + d[j] * z;
      }
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
  const T* gv = g.node(gates.id()).value;
  const T* cv = g.node(c.id()).value;
  auto [y, out] = g.record(kLstmPointwise<T>, {gates, c}, Shape{2, batch, hidden});
  T* h_out = out;
  T* c_out = out + batch * hidden;
  T act[4][kChunk];
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t j0 = 0; j0 < hidden; j0 += kChunk) {
      const int64_t w = std::min(kChunk, hidden - j0);
      lstm_activate(gv + r * 4 * hidden, hidden, j0, w, act);
      const T* cr = cv + r * hidden + j0;
      T* cn = c_out + r * hidden + j0;
      T* hn = h_out + r * hidden + j0;
      for (int64_t j = 0; j < w; ++j) cn[j] = act[1][j] * cr[j] + act[0][j] * act[2][j];
      detail::tanh_kernel(cn, hn, w);
      for (int64_t j = 0; j < w; ++j) hn[j] *= act[3][j];
    }
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
  const T* xv = g.node(xp.id()).value;
  const T* pv = g.node(hp.id()).value;
  const T* hv = g.node(h.id()).value;
  auto [y, out] = g.record(kGruPointwise<T>, {xp, hp, h}, Shape{batch, hidden});
  T act[3][kChunk];
  for (int64_t row = 0; row < batch; ++row) {
    for (int64_t j0 = 0; j0 < hidden; j0 += kChunk) {
      const int64_t w = std::min(kChunk, hidden - j0);
      gru_activate(xv + row * 3 * hidden, pv + row * 3 * hidden, hidden, j0, w, act);
      const T* hr = hv + row * hidden + j0;
      T* o = out + row * hidden + j0;
      for (int64_t j = 0; j < w; ++j) o[j] = act[2][j] + act[1][j] * (hr[j] - act[2][j]);
    }
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
