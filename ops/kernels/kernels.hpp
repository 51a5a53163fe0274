// The table of rewind's hot loops, one entry per kernel, and the one in use in this process.
// Ops and optimizers call kernels<T>().name(...); the bodies are in ops/kernels/*_body.hpp.
//
// Note [Runtime ISA dispatch]: the library is compiled for baseline x86-64 and must run on
// any x86-64 CPU, but its hot loops (the thin products, the fused LSTM/GRU cell ops, the
// float sigmoid/tanh, the optimizer updates) want the vector width of the machine. The
// kernel bodies are written once, as templates in ops/kernels/*_body.hpp, and compiled three
// times: ops/kernels/generic.cpp with the library's flags, ops/kernels/avx2.cpp with -mavx2 -mfma
// and ops/kernels/avx512.cpp with -mavx512f/bw/vl/dq (CMakeLists.txt). Each translation unit
// puts its copy in its own namespace (rwd::detail::generic, ::avx2, ::avx512), so the linker
// never merges an AVX-512 copy of an inline function into the generic code, and fills one
// KernelSet of function pointers at compile time. kernels<T>() picks the set of
// active_isa() (core/isa.hpp) at its first call, a thread-safe static initialization; after
// that nothing changes, so graphs on different threads share the table without races.
// Only the per-ISA files may include the *_body.hpp headers.
#pragma once

#include <cstdint>
#include <type_traits>

#include "rewind/core/isa.hpp"

namespace rwd::detail {

/// lstm_pointwise forward. With i, f, g, o = σ(gates_i), σ(gates_f), tanh(gates_g), σ(gates_o):
/// c_next = f c + i g, h_next = o tanh(c_next).
template <class T>
struct LstmForward {
  int64_t batch, hidden;
  const T* gates;  // [B, 4H], blocks i, f, g, o
  const T* c;      // [B, H]
  T* h_next;       // [B, H]
  T* c_next;       // [B, H]
};

/// lstm_pointwise backward (formulas in ops/rnn.cpp). A null gradient pointer is skipped;
/// a fresh one is written, otherwise added to.
template <class T>
struct LstmBackward {
  int64_t batch, hidden;
  const T* gates;    // [B, 4H]
  const T* c;        // [B, H]
  const T* c_next;   // [B, H], the forward's output
  const T* dh_next;  // [B, H]
  const T* dc_next;  // [B, H]
  T* dgates;         // [B, 4H] or null
  bool fresh_dgates;
  T* dc;  // [B, H] or null
  bool fresh_dc;
};

/// gru_pointwise forward. With r = σ(x_r + p_r), z = σ(x_z + p_z), n = tanh(x_n + r p_n):
/// h_next = (1 − z) n + z h.
template <class T>
struct GruForward {
  int64_t batch, hidden;
  const T* xp;  // [B, 3H], input projections r, z, n
  const T* hp;  // [B, 3H], hidden projections r, z, n
  const T* h;   // [B, H]
  T* h_next;    // [B, H]
};

/// gru_pointwise backward (formulas in ops/rnn.cpp); null and fresh as for LstmBackward.
template <class T>
struct GruBackward {
  int64_t batch, hidden;
  const T* xp;       // [B, 3H]
  const T* hp;       // [B, 3H]
  const T* h;        // [B, H]
  const T* dh_next;  // [B, H]
  T* dxp;            // [B, 3H] or null
  bool fresh_dxp;
  T* dhp;  // [B, 3H] or null
  bool fresh_dhp;
  T* dh;  // [B, H] or null
  bool fresh_dh;
};

/// One Adam / AdamW update of n elements (formulas in optim/adam.cpp).
template <class T>
struct AdamUpdate {
  int64_t n;
  T* w;
  const T* grad;
  T* m;
  T* v;
  T* v_max;  // AMSGrad's running maximum, or null
  T beta1, beta2, eps, weight_decay;
  T shrink;        // 1 − lr · weight_decay (AdamW)
  T step_size;     // lr / (1 − β1^t)
  T bias2_sqrt;    // sqrt(1 − β2^t)
  bool l2;         // Adam's weight decay, added to the gradient
  bool decoupled;  // AdamW's weight decay, applied to the weight
};

/// One SGD update (formulas in optim/sgd.cpp).
template <class T>
struct SgdUpdate {
  int64_t n;
  T* w;
  const T* grad;
  T* buffer;                           // the momentum buffer, or null without momentum
  T lr, weight_decay, momentum, keep;  // keep = 1 − dampening
  bool decay, first_step, nesterov;
};

/// One RMSprop update (formulas in optim/rmsprop.cpp).
template <class T>
struct RmspropUpdate {
  int64_t n;
  T* w;
  const T* grad;
  T* square_avg;
  T* grad_avg;  // centered only, else null
  T* buffer;    // momentum > 0 only, else null
  T lr, alpha, eps, weight_decay, momentum;
  bool decay;
};

/// One Adagrad update (formulas in optim/adagrad.cpp).
template <class T>
struct AdagradUpdate {
  int64_t n;
  T* w;
  const T* grad;
  T* sum;
  T lr, eps, weight_decay;
  bool decay;
};

/// The elementwise ops a fused region runs (ops/fusion.cpp), by code.
enum class EwOp : uint8_t {
  kAdd,
  kSub,
  kMul,
  kDiv,  // binary, broadcasting
  kNeg,
  kAddScalar,
  kMulScalar,
  kSquare,
  kSigmoid,
  kTanh,
  kRelu,
  kExp,
  kLog,   // unary
  kCopy,  // a slice along the last axis: y = a, read at a column offset
  kUser,  // an ElementwiseOp of ops/fusion.hpp: run by ops/fusion.cpp, never by these kernels
};

/// An operand over a [rows, cols] iteration space: element (r, c) is p[r·rs + c·cs]. rs = 0
/// repeats one row for every row (a row broadcast), cs = 0 one element for every column (a
/// column broadcast); both 0: a scalar.
template <class T>
struct EwOperand {
  const T* p = nullptr;
  int64_t rs = 0, cs = 0;
};

/// Where the gradient of an operand goes, with the operand's geometry: element (r, c) adds
/// into p[r·rs + c·cs], so broadcast operands sum over what they were repeated across. With
/// `assign` (only for a full, contiguous destination) the first write stores instead of adds.
/// A null p: the operand needs no gradient.
template <class T>
struct EwGrad {
  T* p = nullptr;
  int64_t rs = 0, cs = 0;
  bool assign = false;
};

/// y[r, c] = op(a[r, c], b[r, c]) (or op(a[r, c]; s)) over rows × cols; y contiguous.
template <class T>
struct EwForward {
  EwOp op;
  int64_t rows, cols;
  T* y;
  EwOperand<T> a, b;
  T s;  // add_scalar's and mul_scalar's scalar
};

/// The gradients of op's operands from dy (contiguous, rows × cols) and the forward's values
/// (y contiguous): da += ∂y/∂a · dy, db += ∂y/∂b · dy. The formulas are beside each op in
/// ops/elementwise.cpp and ops/activation.cpp.
template <class T>
struct EwBackward {
  EwOp op;
  int64_t rows, cols;
  const T* dy;
  const T* y;
  EwOperand<T> a, b;
  T s;
  EwGrad<T> da, db;
};

/// layer_norm forward over rows of d elements (formulas in ops/norm.cpp): per row the mean m
/// and s = 1 / sqrt(var + eps) (biased variance), y = (x − m)·s·gain + bias.
template <class T>
struct LayerNormForward {
  int64_t rows, d;
  const T* x;     // [rows, d]
  const T* gain;  // [d] or null
  const T* bias;  // [d] or null
  T eps;
  T* y;     // [rows, d]
  T* mean;  // [rows]
  T* rstd;  // [rows]
};

/// layer_norm backward (formulas in ops/norm.cpp). A null gradient pointer is skipped; dx is
/// written when fresh, otherwise added to; dgain and dbias are added to.
template <class T>
struct LayerNormBackward {
  int64_t rows, d;
  const T* x;     // [rows, d]
  const T* dy;    // [rows, d]
  const T* gain;  // [d] or null
  const T* mean;  // [rows], from the forward
  const T* rstd;  // [rows]
  T* dx;          // [rows, d] or null
  bool fresh_dx;
  T* dgain;  // [d] or null
  T* dbias;  // [d] or null
};

/// The kernels of one scalar type, built for one instruction set.
template <class T>
struct KernelTable {
  /// C[m, n] = (accumulate ? C : 0) + A[m, k] · B[k, n], row-major with row strides lda,
  /// ldb, ldc; for few rows (Note [Thin products] in ops/linalg.cpp).
  void (*thin_gemm)(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
                    int64_t ldb, T* c, int64_t ldc, bool accumulate);
  /// y[i] = σ(x[i]) and y[i] = tanh(x[i]); float uses the fast ~1 ulp functions of
  /// ops/kernels/fast_math_body.hpp, double libm's.
  void (*sigmoid)(const T* x, T* y, int64_t n);
  void (*tanh)(const T* x, T* y, int64_t n);
  void (*lstm_forward)(const LstmForward<T>& args);
  void (*lstm_backward)(const LstmBackward<T>& args);
  void (*gru_forward)(const GruForward<T>& args);
  void (*gru_backward)(const GruBackward<T>& args);
  void (*adam)(const AdamUpdate<T>& args);
  void (*sgd)(const SgdUpdate<T>& args);
  void (*rmsprop)(const RmspropUpdate<T>& args);
  void (*adagrad)(const AdagradUpdate<T>& args);
  /// x[i] *= factor.
  void (*scale)(T* x, int64_t n, T factor);
  /// x[i] = clamp(x[i], -c, c), NaN kept; returns whether any element changed.
  bool (*clamp)(T* x, int64_t n, T c);
  /// Gradient loops of elementwise ops: dst[i] += src[i]; dx[i] += dy[i] (1 − y[i]²);
  /// dx[i] += dy[i] y[i] (1 − y[i]); dx[i] += 2 x[i] dy[i].
  void (*add_into)(T* dst, const T* src, int64_t n);
  void (*tanh_grad)(T* dx, const T* dy, const T* y, int64_t n);
  void (*sigmoid_grad)(T* dx, const T* dy, const T* y, int64_t n);
  void (*square_grad)(T* dx, const T* dy, const T* x, int64_t n);
  /// One elementwise op over a [rows, cols] space with broadcast operands, forward and
  /// backward: the instructions of fused regions (ops/fusion.cpp), fused or alone.
  void (*ew_forward)(const EwForward<T>& args);
  void (*ew_backward)(const EwBackward<T>& args);
  /// The rows of layer_norm, forward and backward (ops/kernels/norm_body.hpp).
  void (*layer_norm_forward)(const LayerNormForward<T>& args);
  void (*layer_norm_backward)(const LayerNormBackward<T>& args);
};

/// The float and double tables of one instruction set.
struct KernelSet {
  Isa isa;
  KernelTable<float> f32;
  KernelTable<double> f64;

  template <class T>
  [[nodiscard]] const KernelTable<T>& get() const {
    if constexpr (std::is_same_v<T, float>)
      return f32;
    else
      return f64;
  }
};

/// The kernels of active_isa(), chosen at the first call.
[[nodiscard]] const KernelSet& active_kernels();

/// The kernels built for `isa`, or null when this CPU or this build cannot run them. For
/// tests that compare the levels; everything else uses kernels<T>().
[[nodiscard]] const KernelSet* kernels_for(Isa isa);

template <class T>
[[nodiscard]] const KernelTable<T>& kernels() {
  return active_kernels().get<T>();
}

/// thin_gemm through the active table (see KernelTable::thin_gemm).
template <class T>
void thin_gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
               T* c, int64_t ldc, bool accumulate) {
  kernels<T>().thin_gemm(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

/// Whole-array σ and tanh through the active table.
template <class T>
void sigmoid_kernel(const T* x, T* y, int64_t n) {
  kernels<T>().sigmoid(x, y, n);
}
template <class T>
void tanh_kernel(const T* x, T* y, int64_t n) {
  kernels<T>().tanh(x, y, n);
}

}  // namespace rwd::detail
