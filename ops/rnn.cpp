// lstm_pointwise and gru_pointwise: forward and backward, each one pass over the batch.
#include "rewind/ops/rnn.hpp"

#include <fmt/format.h>

#include "rewind/ops/kernels/kernels.hpp"
#include "rewind/ops/registry.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {
namespace {

// The loops run in the kernel table (ops/kernels/rnn_pointwise_body.hpp, built per instruction
// set); here are the shape checks, the tape and the gradient formulas.

// y = lstm_pointwise(gates, c) = [h', c'];  with i, f, g, o the activated gates:
//   dc_total = dc' + dh' o (1 − tanh²(c'))
//   dgates_i = dc_total g i (1 − i)      dgates_f = dc_total c f (1 − f)
//   dgates_g = dc_total i (1 − g²)       dgates_o = dh' tanh(c') o (1 − o)
//   dc += dc_total f
template <Scalar T>
void lstm_pointwise_backward(const Backward<T>& b) {
  detail::LstmBackward<T> args{};
  args.batch = b.x_shape(1)[0];
  args.hidden = b.x_shape(1)[1];
  const int64_t size = args.batch * args.hidden;
  args.gates = b.x(0);
  args.c = b.x(1);
  args.c_next = b.y() + size;
  args.dh_next = b.dy();
  args.dc_next = b.dy() + size;
  args.dgates = b.dx_for_write(0, args.fresh_dgates);
  args.dc = b.dx_for_write(1, args.fresh_dc);
  detail::kernels<T>().lstm_backward(args);
}

// y = gru_pointwise(xp, hp, h), with r, z, n the activated gates:
//   dn_pre = dh' (1 − z) (1 − n²):  dx_n += dn_pre,  dh_n += dn_pre r
//   dr_pre = dn_pre h_n r (1 − r):  dx_r += dr_pre,  dh_r += dr_pre
//   dz_pre = dh' (h − n) z (1 − z): dx_z += dz_pre,  dh_z += dz_pre;   dh += dh' z
template <Scalar T>
void gru_pointwise_backward(const Backward<T>& b) {
  detail::GruBackward<T> args{};
  args.batch = b.shape()[0];
  args.hidden = b.shape()[1];
  args.xp = b.x(0);
  args.hp = b.x(1);
  args.h = b.x(2);
  args.dh_next = b.dy();
  args.dxp = b.dx_for_write(0, args.fresh_dxp);
  args.dhp = b.dx_for_write(1, args.fresh_dhp);
  args.dh = b.dx_for_write(2, args.fresh_dh);
  detail::kernels<T>().gru_backward(args);
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
  // c' = σ(f) c + σ(i) tanh(g);  h' = σ(o) tanh(c')
  detail::kernels<T>().lstm_forward({batch, hidden, gv, cv, out, out + batch * hidden});
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
  // h' = (1 − z) n + z h, with r = σ(x_r + p_r), z = σ(x_z + p_z), n = tanh(x_n + r p_n)
  detail::kernels<T>().gru_forward({batch, hidden, xv, pv, hv, out});
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
