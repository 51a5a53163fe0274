// The instructions of fused regions (ops/fusion.cpp): one elementwise op over a [rows, cols]
// iteration space whose operands may repeat a row (row broadcast), an element per row (column
// broadcast) or one element (scalar). Each op's forward and backward formulas are written once
// here and instantiated for every combination of full and column-broadcast operands, so a
// broadcast in any position runs the same vectorized loop as two operands of one shape.
#pragma once

#include <cstdint>

#include "rewind/ops/kernels/common_body.hpp"
#include "rewind/ops/kernels/fast_math_body.hpp"
#include "rewind/ops/kernels/kernels.hpp"

namespace rwd::detail::REWIND_KERNEL_ISA {

template <EwOp Op>
inline constexpr bool kBinaryOp =
    Op == EwOp::kAdd || Op == EwOp::kSub || Op == EwOp::kMul || Op == EwOp::kDiv;

// Operand b at column c of its row; unary ops have no b and never read one.
template <EwOp Op, bool Full, class T>
inline T at_b(const T* row, int64_t c) {
  if constexpr (!kBinaryOp<Op>)
    return T(0);
  else if constexpr (Full)
    return row[c];
  else
    return row[0];
}

// exp and log as builtins: no <cmath> inline function may leave this ISA's namespace
// (Note [Runtime ISA dispatch]).
inline float ew_exp(float x) {
  return __builtin_expf(x);
}
inline double ew_exp(double x) {
  return __builtin_exp(x);
}
inline float ew_log(float x) {
  return __builtin_logf(x);
}
inline double ew_log(double x) {
  return __builtin_log(x);
}

template <EwOp Op, class T>
inline T ew_apply(T a, T b, T s) {
  if constexpr (Op == EwOp::kAdd) return a + b;
  if constexpr (Op == EwOp::kSub) return a - b;
  if constexpr (Op == EwOp::kMul) return a * b;
  if constexpr (Op == EwOp::kDiv) return a / b;
  if constexpr (Op == EwOp::kNeg) return -a;
  if constexpr (Op == EwOp::kAddScalar) return a + s;
  if constexpr (Op == EwOp::kMulScalar) return a * s;
  if constexpr (Op == EwOp::kSquare) return a * a;
  if constexpr (Op == EwOp::kRelu) return a > T(0) ? a : T(0);
  if constexpr (Op == EwOp::kExp) return ew_exp(a);
  if constexpr (Op == EwOp::kLog) return ew_log(a);
  if constexpr (Op == EwOp::kCopy) return a;
  return b;  // unreachable: sigmoid and tanh run whole rows through their kernels
}

// Row r of an operand at column c, with the column stride fixed at compile time (Full: 1,
// else 0).
template <bool Full, class T>
inline T at(const T* row, int64_t c) {
  if constexpr (Full)
    return row[c];
  else
    return row[0];
}

template <EwOp Op, bool AFull, bool BFull, class T>
void ew_forward_rows(const EwForward<T>& f) {
  const int64_t cols = f.cols;
  for (int64_t r = 0; r < f.rows; ++r) {
    const T* a = f.a.p + r * f.a.rs;
    const T* b = kBinaryOp<Op> ? f.b.p + r * f.b.rs : nullptr;
    T* y = f.y + r * cols;
    for (int64_t c = 0; c < cols; ++c)
      y[c] = ew_apply<Op>(at<AFull>(a, c), at_b<Op, BFull>(b, c), f.s);
  }
}

// A whole-row kernel (σ, tanh) over each row of the operand.
template <class T, class Kernel>
void ew_forward_kernel(const EwForward<T>& f, Kernel kernel) {
  if (f.a.rs == f.cols || f.rows == 1) {
    kernel(f.a.p, f.y, f.rows * f.cols);
    return;
  }
  for (int64_t r = 0; r < f.rows; ++r) kernel(f.a.p + r * f.a.rs, f.y + r * f.cols, f.cols);
}

template <EwOp Op, class T>
void ew_forward_op(const EwForward<T>& f) {
  const bool a_full = f.a.cs != 0 || f.cols == 1;
  const bool b_full = f.b.cs != 0 || f.cols == 1;
  // One row of rows·cols when every operand is contiguous over the whole space.
  if (f.rows > 1 && a_full && f.a.rs == f.cols &&
      (f.b.p == nullptr || (b_full && f.b.rs == f.cols))) {
    EwForward<T> flat = f;
    flat.cols = f.rows * f.cols;
    flat.rows = 1;
    ew_forward_rows<Op, true, true>(flat);
    return;
  }
  if (a_full && b_full)
    ew_forward_rows<Op, true, true>(f);
  else if (a_full)
    ew_forward_rows<Op, true, false>(f);
  else if (b_full)
    ew_forward_rows<Op, false, true>(f);
  else
    ew_forward_rows<Op, false, false>(f);
}

template <class T>
void ew_forward(const EwForward<T>& f) {
  switch (f.op) {
    case EwOp::kAdd:
      return ew_forward_op<EwOp::kAdd>(f);
    case EwOp::kSub:
      return ew_forward_op<EwOp::kSub>(f);
    case EwOp::kMul:
      return ew_forward_op<EwOp::kMul>(f);
    case EwOp::kDiv:
      return ew_forward_op<EwOp::kDiv>(f);
    case EwOp::kNeg:
      return ew_forward_op<EwOp::kNeg>(f);
    case EwOp::kAddScalar:
      return ew_forward_op<EwOp::kAddScalar>(f);
    case EwOp::kMulScalar:
      return ew_forward_op<EwOp::kMulScalar>(f);
    case EwOp::kSquare:
      return ew_forward_op<EwOp::kSquare>(f);
    case EwOp::kRelu:
      return ew_forward_op<EwOp::kRelu>(f);
    case EwOp::kExp:
      return ew_forward_op<EwOp::kExp>(f);
    case EwOp::kLog:
      return ew_forward_op<EwOp::kLog>(f);
    case EwOp::kCopy:
      return ew_forward_op<EwOp::kCopy>(f);
    case EwOp::kSigmoid:
      return ew_forward_kernel(f, [](const T* x, T* y, int64_t n) { sigmoid_kernel(x, y, n); });
    case EwOp::kTanh:
      return ew_forward_kernel(f, [](const T* x, T* y, int64_t n) { tanh_kernel(x, y, n); });
    case EwOp::kUser:
      return;
  }
}

// ∂y/∂a · dy and ∂y/∂b · dy at one element (y the forward's output, s the scalar).
template <EwOp Op, class T>
inline T ew_grad_a(T dy, T y, T a, T b, T s) {
  if constexpr (Op == EwOp::kAdd || Op == EwOp::kAddScalar || Op == EwOp::kCopy) return dy;
  if constexpr (Op == EwOp::kSub) return dy;
  if constexpr (Op == EwOp::kMul) return dy * b;
  if constexpr (Op == EwOp::kDiv) return dy / b;
  if constexpr (Op == EwOp::kNeg) return -dy;
  if constexpr (Op == EwOp::kMulScalar) return dy * s;
  if constexpr (Op == EwOp::kSquare) return T(2) * a * dy;
  if constexpr (Op == EwOp::kSigmoid) return dy * y * (T(1) - y);
  if constexpr (Op == EwOp::kTanh) return dy * (T(1) - y * y);
  if constexpr (Op == EwOp::kRelu) return a > T(0) ? dy : T(0);
  if constexpr (Op == EwOp::kExp) return dy * y;
  if constexpr (Op == EwOp::kLog) return dy / a;
  return T(0);
}
template <EwOp Op, class T>
inline T ew_grad_b(T dy, T y, T a, T b) {
  if constexpr (Op == EwOp::kAdd) return dy;
  if constexpr (Op == EwOp::kSub) return -dy;
  if constexpr (Op == EwOp::kMul) return dy * a;
  if constexpr (Op == EwOp::kDiv) return -dy * y / b;
  return T(0);
}

// Adds (or, with assign, stores) g(c) for c in [0, cols) into dst with column stride 1
// (Full) or sums them into dst[0] (a column-broadcast operand).
template <bool Full, class T, class G>
inline void ew_put(T* dst, int64_t cols, bool assign, G g) {
  if constexpr (Full) {
    if (assign)
      for (int64_t c = 0; c < cols; ++c) dst[c] = g(c);
    else
      for (int64_t c = 0; c < cols; ++c) dst[c] += g(c);
  } else {
    constexpr int kLanes = 16;  // independent partial sums, so the loop vectorizes
    T part[kLanes] = {};
    int64_t c = 0;
    for (; c + kLanes <= cols; c += kLanes)
      for (int k = 0; k < kLanes; ++k) part[k] += g(c + k);
    T sum = T(0);
    for (; c < cols; ++c) sum += g(c);
    for (const T lane : part) sum += lane;
    if (assign)
      dst[0] = sum;
    else
      dst[0] += sum;
  }
}

template <EwOp Op, bool AFull, bool BFull, class T>
void ew_backward_rows(const EwBackward<T>& w) {
  const int64_t cols = w.cols;
  for (int64_t r = 0; r < w.rows; ++r) {
    const T* dy = w.dy + r * cols;
    const T* y = w.y + r * cols;
    const T* a = w.a.p + r * w.a.rs;
    const T* b = kBinaryOp<Op> ? w.b.p + r * w.b.rs : nullptr;
    if (w.da.p != nullptr)
      ew_put<AFull>(w.da.p + r * w.da.rs, cols, w.da.assign, [&](int64_t c) {
        return ew_grad_a<Op>(dy[c], y[c], at<AFull>(a, c), at_b<Op, BFull>(b, c), w.s);
      });
    if constexpr (kBinaryOp<Op>)
      if (w.db.p != nullptr)
        ew_put<BFull>(w.db.p + r * w.db.rs, cols, w.db.assign, [&](int64_t c) {
          return ew_grad_b<Op>(dy[c], y[c], at<AFull>(a, c), at_b<Op, BFull>(b, c));
        });
  }
}

template <EwOp Op, class T>
void ew_backward_op(const EwBackward<T>& w) {
  const bool a_full = w.a.cs != 0 || w.cols == 1;
  const bool b_full = w.b.cs != 0 || w.cols == 1;
  const bool binary = w.b.p != nullptr;
  // One row of rows·cols when operands and gradients are all contiguous over the space.
  auto contiguous = [&](const EwOperand<T>& v, const EwGrad<T>& g, bool full) {
    return full && v.rs == w.cols &&
           (g.p == nullptr || (g.rs == w.cols && g.cs != 0) || w.cols == 1);
  };
  if (w.rows > 1 && contiguous(w.a, w.da, a_full) && (!binary || contiguous(w.b, w.db, b_full))) {
    EwBackward<T> flat = w;
    flat.cols = w.rows * w.cols;
    flat.rows = 1;
    ew_backward_rows<Op, true, true>(flat);
    return;
  }
  if (a_full && b_full)
    ew_backward_rows<Op, true, true>(w);
  else if (a_full)
    ew_backward_rows<Op, true, false>(w);
  else if (b_full)
    ew_backward_rows<Op, false, true>(w);
  else
    ew_backward_rows<Op, false, false>(w);
}

template <class T>
void ew_backward(const EwBackward<T>& w) {
  switch (w.op) {
    case EwOp::kAdd:
      return ew_backward_op<EwOp::kAdd>(w);
    case EwOp::kSub:
      return ew_backward_op<EwOp::kSub>(w);
    case EwOp::kMul:
      return ew_backward_op<EwOp::kMul>(w);
    case EwOp::kDiv:
      return ew_backward_op<EwOp::kDiv>(w);
    case EwOp::kNeg:
      return ew_backward_op<EwOp::kNeg>(w);
    case EwOp::kAddScalar:
      return ew_backward_op<EwOp::kAddScalar>(w);
    case EwOp::kMulScalar:
      return ew_backward_op<EwOp::kMulScalar>(w);
    case EwOp::kSquare:
      return ew_backward_op<EwOp::kSquare>(w);
    case EwOp::kSigmoid:
      return ew_backward_op<EwOp::kSigmoid>(w);
    case EwOp::kTanh:
      return ew_backward_op<EwOp::kTanh>(w);
    case EwOp::kRelu:
      return ew_backward_op<EwOp::kRelu>(w);
    case EwOp::kExp:
      return ew_backward_op<EwOp::kExp>(w);
    case EwOp::kLog:
      return ew_backward_op<EwOp::kLog>(w);
    case EwOp::kCopy:
      return ew_backward_op<EwOp::kCopy>(w);
    case EwOp::kUser:
      return;
  }
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
