// The loops of lstm_pointwise and gru_pointwise (ops/rnn.cpp, where the gradient formulas
// are written out), forward and backward, each one pass over the batch.
//
// Activations are recomputed in backward from the pre-activations (cheap with the vectorized
// kernels) rather than kept: a saved copy would cost 5H values per row and time step. Rows
// are processed in column chunks with the activations in stack buffers.
#pragma once

#include <cstdint>

#include "rewind/ops/kernels/common_body.hpp"
#include "rewind/ops/kernels/fast_math_body.hpp"
#include "rewind/ops/kernels/kernels.hpp"

namespace rwd::detail::REWIND_KERNEL_ISA {
namespace cell {

constexpr int64_t kChunk = 256;

// Activates chunk [j0, j0 + w) of one row of LSTM gates: i, f, g, o.
template <class T>
void lstm_activate(const T* gates_row, int64_t hidden, int64_t j0, int64_t w, T (&act)[4][kChunk]) {
  sigmoid_kernel(gates_row + j0, act[0], w);               // i
  sigmoid_kernel(gates_row + hidden + j0, act[1], w);      // f
  tanh_kernel(gates_row + 2 * hidden + j0, act[2], w);     // g
  sigmoid_kernel(gates_row + 3 * hidden + j0, act[3], w);  // o
}

// Activates chunk [j0, j0 + w) of one GRU row: r, z, n.
template <class T>
void gru_activate(const T* xr, const T* pr, int64_t hidden, int64_t j0, int64_t w,
                  T (&act)[3][kChunk]) {
  for (int64_t j = 0; j < w; ++j) {
    act[0][j] = xr[j0 + j] + pr[j0 + j];
    act[1][j] = xr[hidden + j0 + j] + pr[hidden + j0 + j];
  }
  sigmoid_kernel(act[0], act[0], w);
  sigmoid_kernel(act[1], act[1], w);
  for (int64_t j = 0; j < w; ++j)
    act[2][j] = xr[2 * hidden + j0 + j] + act[0][j] * pr[2 * hidden + j0 + j];
  tanh_kernel(act[2], act[2], w);
}

}  // namespace cell

// c' = f c + i g;  h' = o tanh(c')
template <class T>
void lstm_forward(const LstmForward<T>& a) {
  using cell::kChunk;
  const int64_t hidden = a.hidden;
  T act[4][kChunk];
  for (int64_t r = 0; r < a.batch; ++r) {
    for (int64_t j0 = 0; j0 < hidden; j0 += kChunk) {
      const int64_t w = min_of(kChunk, hidden - j0);
      cell::lstm_activate(a.gates + r * 4 * hidden, hidden, j0, w, act);
      const T* cr = a.c + r * hidden + j0;
      T* cn = a.c_next + r * hidden + j0;
      T* hn = a.h_next + r * hidden + j0;
      for (int64_t j = 0; j < w; ++j) cn[j] = act[1][j] * cr[j] + act[0][j] * act[2][j];
      tanh_kernel(cn, hn, w);
      for (int64_t j = 0; j < w; ++j) hn[j] *= act[3][j];
    }
  }
}

// The gradients of lstm_pointwise (formulas above lstm_pointwise_backward in ops/rnn.cpp).
template <class T>
void lstm_backward(const LstmBackward<T>& a) {
  using cell::kChunk;
  const int64_t hidden = a.hidden;
  const bool fresh_g = a.fresh_dgates, fresh_c = a.fresh_dc;
  T act[4][kChunk];
  T tc[kChunk];
  for (int64_t r = 0; r < a.batch; ++r) {
    const T* gr = a.gates + r * 4 * hidden;
    for (int64_t j0 = 0; j0 < hidden; j0 += kChunk) {
      const int64_t w = min_of(kChunk, hidden - j0);
      cell::lstm_activate(gr, hidden, j0, w, act);
      tanh_kernel(a.c_next + r * hidden + j0, tc, w);
      const T* dhr = a.dh_next + r * hidden + j0;
      const T* dcr = a.dc_next + r * hidden + j0;
      const T* cr = a.c + r * hidden + j0;
      T* dgr = a.dgates ? a.dgates + r * 4 * hidden + j0 : nullptr;
      T* dcp = a.dc ? a.dc + r * hidden + j0 : nullptr;
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

// h' = n + z (h − n) = (1 − z) n + z h
template <class T>
void gru_forward(const GruForward<T>& a) {
  using cell::kChunk;
  const int64_t hidden = a.hidden;
  T act[3][kChunk];
  for (int64_t row = 0; row < a.batch; ++row) {
    for (int64_t j0 = 0; j0 < hidden; j0 += kChunk) {
      const int64_t w = min_of(kChunk, hidden - j0);
      cell::gru_activate(a.xp + row * 3 * hidden, a.hp + row * 3 * hidden, hidden, j0, w, act);
      const T* hr = a.h + row * hidden + j0;
      T* o = a.h_next + row * hidden + j0;
      for (int64_t j = 0; j < w; ++j) o[j] = act[2][j] + act[1][j] * (hr[j] - act[2][j]);
    }
  }
}

namespace cell {

// dst = (fresh ? 0 : dst) + src
template <class T>
void put(T* dst, const T* src, int64_t w, bool fresh) {
  if (fresh)
    for (int64_t j = 0; j < w; ++j) dst[j] = src[j];
  else
    for (int64_t j = 0; j < w; ++j) dst[j] += src[j];
}

}  // namespace cell

// The gradients of gru_pointwise (formulas above gru_pointwise_backward in ops/rnn.cpp). The
// three pre-activation gradients of a chunk go to stack buffers first, then to the up to
// seven gradient rows one loop each: one loop writing all seven rows, which may alias (xp
// and hp can be one node), does not vectorize. Each address sees its additions in the order
// of the one-loop form (dxp before dhp).
template <class T>
void gru_backward(const GruBackward<T>& a) {
  using cell::kChunk;
  const int64_t hidden = a.hidden;
  T act[3][kChunk];
  T pre[3][kChunk];  // dr_pre, dz_pre, dn_pre
  T tmp[kChunk];
  for (int64_t row = 0; row < a.batch; ++row) {
    const T* xr = a.xp + row * 3 * hidden;
    const T* pr = a.hp + row * 3 * hidden;
    for (int64_t j0 = 0; j0 < hidden; j0 += kChunk) {
      const int64_t w = min_of(kChunk, hidden - j0);
      cell::gru_activate(xr, pr, hidden, j0, w, act);
      const T* hn = pr + 2 * hidden + j0;
      const T* hr = a.h + row * hidden + j0;
      const T* d = a.dh_next + row * hidden + j0;
      for (int64_t j = 0; j < w; ++j) {
        const T r = act[0][j], z = act[1][j], n = act[2][j];
        const T dn_pre = d[j] * (T(1) - z) * (T(1) - n * n);
        pre[0][j] = dn_pre * hn[j] * r * (T(1) - r);
        pre[1][j] = d[j] * (hr[j] - n) * z * (T(1) - z);
        pre[2][j] = dn_pre;
      }
      if (a.dxp) {
        T* dx_row = a.dxp + row * 3 * hidden + j0;
        for (int k = 0; k < 3; ++k) cell::put(dx_row + k * hidden, pre[k], w, a.fresh_dxp);
      }
      if (a.dhp) {
        T* dh_row = a.dhp + row * 3 * hidden + j0;
        cell::put(dh_row, pre[0], w, a.fresh_dhp);
        cell::put(dh_row + hidden, pre[1], w, a.fresh_dhp);
        for (int64_t j = 0; j < w; ++j) tmp[j] = pre[2][j] * act[0][j];
        cell::put(dh_row + 2 * hidden, tmp, w, a.fresh_dhp);
      }
      if (a.dh) {
        for (int64_t j = 0; j < w; ++j) tmp[j] = d[j] * act[1][j];
        cell::put(a.dh + row * hidden + j0, tmp, w, a.fresh_dh);
      }
    }
  }
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
