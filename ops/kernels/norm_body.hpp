// The row loops of layer_norm (ops/norm.cpp, where the gradient formulas are written out),
// forward and backward, over rows of D contiguous elements.
//
// Note [Layer norm partial sums]: each row needs sums over its D elements (the mean and the
// variance forward, Σg and Σg·x̂ backward). One running sum is a chain of dependent adds that
// cannot use the vector lanes, and it made layer_norm a fifth of an LN-LSTM training step.
// Here a sum is kept as P partial sums, P = 128 bytes of T (32 floats, 16 doubles): element
// k of a block of P goes to partial k mod P, and the P partials are added by halving
// (p[j] += p[j + h], h = P/2, ..., 1); the elements after the last full block, fewer than P,
// are summed one by one and added last. P is a multiple of every vector width, so AVX-512
// keeps the partials in 2 vectors, AVX2 in 4 and SSE2 in 8, all in registers, and every
// level adds the same numbers in the same order: the levels differ only by FMA contraction,
// as the other kernels do. Sums are in T (float lanes for float): each partial adds D/P
// terms. A mean far from zero against the spread costs nothing: the mean sums x − x[0], and
// the variance is a second pass, Σ(x − mean)², so nothing cancels. The per-row scalars (mean,
// 1/sqrt(var + eps), the two means of the backward) are finished in double.
#pragma once

#include <cstdint>

#include "rewind/ops/kernels/common_body.hpp"
#include "rewind/ops/kernels/kernels.hpp"

namespace rwd::detail::REWIND_KERNEL_ISA {
namespace norm {

// Σ of the lanes of v by halving: lanes [0, L/2) plus lanes [L/2, L), until one is left.
template <class T, int Bytes>
inline T lane_sum(typename Vec<T, Bytes>::type v) {
  if constexpr (Bytes == 2 * int(sizeof(T))) {
    return v[0] + v[1];
  } else {
    using H = typename Vec<T, Bytes / 2>::type;
    H lo;
    H hi;
    __builtin_memcpy(&lo, &v, sizeof(H));
    __builtin_memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(H), sizeof(H));
    return lane_sum<T, Bytes / 2>(lo + hi);
  }
}

// A sum over a row as partial sums (Note [Layer norm partial sums]).
template <class T>
struct Partials {
  using V = typename Vec<T>::type;
  static constexpr int kLanes = Vec<T>::kLanes;
  static constexpr int kCount = 128 / int(sizeof(T));  // P
  static constexpr int kVectors = kCount / kLanes;     // accumulators in registers: 2, 4 or 8
  static_assert(kCount % kLanes == 0 && (kVectors & (kVectors - 1)) == 0);

  V acc[kVectors] = {};
  T tail = 0;  // the elements after the last full block, one by one

  // The partials added by halving, then the tail.
  [[nodiscard]] T total() const {
    V v[kVectors];
    for (int j = 0; j < kVectors; ++j) v[j] = acc[j];
    for (int n = kVectors / 2; n >= 1; n /= 2)
      for (int j = 0; j < n; ++j) v[j] += v[j + n];
    return lane_sum<T, kVectorBytes>(v[0]) + tail;
  }
};

// y = (x − m)·s·gain + bias over one row; the vector loop and its scalar tail compute the
// same expression.
template <class T, bool kGain, bool kBias>
inline void normalize_row(const T* x, const T* gain, const T* bias, T m, T s, T* y, int64_t d) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::kLanes;
  const V mv = V{} + m, sv = V{} + s;
  int64_t k = 0;
  for (; k + L <= d; k += L) {
    V v = (load<V>(x + k) - mv) * sv;
    if constexpr (kGain) v *= load<V>(gain + k);
    if constexpr (kBias) v += load<V>(bias + k);
    store<V>(y + k, v);
  }
  for (; k < d; ++k) {
    T v = (x[k] - m) * s;
    if constexpr (kGain) v *= gain[k];
    if constexpr (kBias) v += bias[k];
    y[k] = v;
  }
}

template <class T, bool kGain, bool kBias>
void forward_rows(const LayerNormForward<T>& a) {
  using P = Partials<T>;
  using V = typename P::V;
  constexpr int L = P::kLanes;
  const int64_t d = a.d;
  const int64_t full = d - d % P::kCount;  // elements in full blocks
  for (int64_t r = 0; r < a.rows; ++r) {
    const T* x = a.x + r * d;
    // Σ (x − x0), x0 the row's first element: with a mean far from zero against the spread,
    // x − x0 is exact and the sum only as large as the spread, so its rounding cannot move
    // the mean by much of a standard deviation (a float Σx would).
    const T x0 = d > 0 ? x[0] : T(0);
    const V x0v = V{} + x0;
    P sum;
    for (int64_t k = 0; k < full; k += P::kCount)
      for (int j = 0; j < P::kVectors; ++j) sum.acc[j] += load<V>(x + k + int64_t(j) * L) - x0v;
    for (int64_t k = full; k < d; ++k) sum.tail += x[k] - x0;
    const T m = T(double(x0) + double(sum.total()) / double(d));

    P squares;  // Σ (x − m)²
    const V mv = V{} + m;
    for (int64_t k = 0; k < full; k += P::kCount)
      for (int j = 0; j < P::kVectors; ++j) {
        const V c = load<V>(x + k + int64_t(j) * L) - mv;
        squares.acc[j] += c * c;
      }
    for (int64_t k = full; k < d; ++k) {
      const T c = x[k] - m;
      squares.tail += c * c;
    }
    const T s = T(1.0 / sqrt_of(double(squares.total()) / double(d) + double(a.eps)));
    a.mean[r] = m;
    a.rstd[r] = s;
    normalize_row<T, kGain, kBias>(x, a.gain, a.bias, m, s, a.y + r * d, d);
  }
}

// dx = (fresh ? 0 : dx) + s·(g − mean_g − x̂·mean_gx) over one row, g = dy·gain.
template <class T, bool kGain, bool kFresh>
inline void dx_row(const T* x, const T* dy, const T* gain, T m, T s, T mean_g, T mean_gx, T* dx,
                   int64_t d) {
  using V = typename Vec<T>::type;
  constexpr int L = Vec<T>::kLanes;
  const V mv = V{} + m, sv = V{} + s, mgv = V{} + mean_g, mgxv = V{} + mean_gx;
  int64_t k = 0;
  for (; k + L <= d; k += L) {
    const V g = kGain ? load<V>(dy + k) * load<V>(gain + k) : load<V>(dy + k);
    const V xh = (load<V>(x + k) - mv) * sv;
    const V v = sv * (g - mgv - xh * mgxv);
    store<V>(dx + k, kFresh ? v : load<V>(dx + k) + v);
  }
  for (; k < d; ++k) {
    const T g = kGain ? dy[k] * gain[k] : dy[k];
    const T xh = (x[k] - m) * s;
    const T v = s * (g - mean_g - xh * mean_gx);
    dx[k] = kFresh ? v : dx[k] + v;
  }
}

// One pass per row for dbias, dgain and the sums Σg, Σg·x̂, then one for dx. dgain and dbias
// may be one buffer (gain and bias one node), and with one row dx may be it too (x its own
// gain or bias): each is read and written in turn, vector by vector, and dx then adds.
template <class T, bool kGain, bool kDgain, bool kDbias, bool kDx>
void backward_rows(const LayerNormBackward<T>& a) {
  using P = Partials<T>;
  using V = typename P::V;
  constexpr int L = P::kLanes;
  const int64_t d = a.d;
  const int64_t full = d - d % P::kCount;
  const T* gain = a.gain;
  T* dgain = a.dgain;
  T* dbias = a.dbias;
  for (int64_t r = 0; r < a.rows; ++r) {
    const T* x = a.x + r * d;
    const T* dy = a.dy + r * d;
    const T m = a.mean[r];
    const T s = a.rstd[r];
    const V mv = V{} + m, sv = V{} + s;
    P sum_g, sum_gx;
    for (int64_t k = 0; k < full; k += P::kCount)
      for (int j = 0; j < P::kVectors; ++j) {
        const int64_t i = k + int64_t(j) * L;
        const V dyv = load<V>(dy + i);
        const V xh = (load<V>(x + i) - mv) * sv;
        if constexpr (kDbias) store<V>(dbias + i, load<V>(dbias + i) + dyv);
        if constexpr (kDgain) store<V>(dgain + i, load<V>(dgain + i) + dyv * xh);
        if constexpr (kDx) {
          const V g = kGain ? dyv * load<V>(gain + i) : dyv;
          sum_g.acc[j] += g;
          sum_gx.acc[j] += g * xh;
        }
      }
    for (int64_t k = full; k < d; ++k) {
      const T xh = (x[k] - m) * s;
      if constexpr (kDbias) dbias[k] += dy[k];
      if constexpr (kDgain) dgain[k] += dy[k] * xh;
      if constexpr (kDx) {
        const T g = kGain ? dy[k] * gain[k] : dy[k];
        sum_g.tail += g;
        sum_gx.tail += g * xh;
      }
    }
    if constexpr (kDx) {
      const T mean_g = T(double(sum_g.total()) / double(d));
      const T mean_gx = T(double(sum_gx.total()) / double(d));
      T* dx = a.dx + r * d;
      if (a.fresh_dx)
        dx_row<T, kGain, true>(x, dy, gain, m, s, mean_g, mean_gx, dx, d);
      else
        dx_row<T, kGain, false>(x, dy, gain, m, s, mean_g, mean_gx, dx, d);
    }
  }
}

// The backward_rows of `mask` (bit 0 gain, 1 dgain, 2 dbias, 3 dx), found from kMask up.
template <class T, int kMask = 0>
void backward_masked(const LayerNormBackward<T>& a, int mask) {
  if constexpr (kMask < 16) {
    if (mask == kMask)
      backward_rows<T, (kMask & 1) != 0, (kMask & 2) != 0, (kMask & 4) != 0, (kMask & 8) != 0>(a);
    else
      backward_masked<T, kMask + 1>(a, mask);
  }
}

}  // namespace norm

template <class T>
void layer_norm_forward(const LayerNormForward<T>& a) {
  if (a.gain != nullptr)
    a.bias != nullptr ? norm::forward_rows<T, true, true>(a)
                      : norm::forward_rows<T, true, false>(a);
  else
    a.bias != nullptr ? norm::forward_rows<T, false, true>(a)
                      : norm::forward_rows<T, false, false>(a);
}

template <class T>
void layer_norm_backward(const LayerNormBackward<T>& a) {
  const int mask = (a.gain != nullptr ? 1 : 0) | (a.dgain != nullptr ? 2 : 0) |
                   (a.dbias != nullptr ? 4 : 0) | (a.dx != nullptr ? 8 : 0);
  if ((mask & ~1) != 0) norm::backward_masked<T>(a, mask);
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
