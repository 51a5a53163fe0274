// Fusion of elementwise ops (docs/fusion.md): consecutive elementwise ops on the tape (add,
// sub, mul, div with row, column or scalar broadcasts; neg, the scalar ops, square, sigmoid,
// tanh, relu, exp, log; slices along the last axis) form one fused region, whose backward runs
// as one pass over cache-sized blocks of rows. The gradients the region's ops pass to each
// other stay in that block and are never written to memory or zero-filled; only the
// gradients it hands on (to its inputs, and of values used outside it) are.
//
// The switch: on by default; REWIND_FUSION=0 (or off, false) in the environment turns it off
// for the process, set_fusion_default() at run time, set_fusion(g, on) for one graph. Off,
// every elementwise op runs its own backward with the same kernels, so results agree to float
// rounding either way (the order of sums over broadcast dimensions may differ).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>

#include "rewind/core/graph.hpp"

namespace rwd {

/// The process-wide default, read from REWIND_FUSION on first use (on unless it is 0, off
/// or false).
[[nodiscard]] bool fusion_default();
/// Sets the process-wide default for ops recorded from now on (by graphs without their own
/// setting). Safe to call from any thread.
void set_fusion_default(bool on);

/// Fusion for ops recorded on g from now on; std::nullopt goes back to the process default.
template <Scalar T>
void set_fusion(Graph<T>& g, std::optional<bool> on);
/// Whether ops recorded on g now are fused.
template <Scalar T>
[[nodiscard]] bool fusion_enabled(Graph<T>& g);

/// What fusion made of the current round of g.
struct FusionStats {
  size_t regions = 0;    // fused regions of two or more ops
  size_t fused_ops = 0;  // ops inside those regions
  size_t largest = 0;    // ops in the largest region
};
template <Scalar T>
[[nodiscard]] FusionStats fusion_stats(Graph<T>& g);

// ---- Elementwise ops of your own, fused like the built-in ones ----

namespace detail {
template <Scalar T>
void elementwise_backward(const Backward<T>& b);
}

/// An elementwise op of 1 to 3 inputs that fusion may put inside a region (docs/adding-an-op.md).
/// Both functions work on one row of n elements: input k's element c is x[k][c * stride[k]]
/// (stride 0 when the input is one value broadcast along the row, else 1).
///   forward:  y[c] = f(x_0[c], ...)
///   backward: dx[k][c] = ∂f/∂x_k · dy[c], stored (=) into a contiguous row of n; dx[k] is
///             null when input k needs no gradient. y is the forward's output.
/// Declare one per op with static storage duration (nodes keep its address), for example
/// `static const rwd::ElementwiseOp<float> kLerp("lerp", 3, &lerp_fwd, &lerp_bwd);`.
template <Scalar T>
struct ElementwiseOp {
  using Forward = void (*)(int64_t n, const T* const* x, const int64_t* stride, T* y);
  using BackwardRow = void (*)(int64_t n, const T* dy, const T* y, const T* const* x,
                               const int64_t* stride, T* const* dx);
  ElementwiseOp(const char* name, int inputs, Forward forward_row, BackwardRow backward_row)
      : def{name, &detail::elementwise_backward<T>},
        arity(inputs),
        forward(forward_row),
        backward(backward_row) {}
  OpDef<T> def;  // what the tape records: the name, and the backward that runs the op alone
  int arity;
  Forward forward;
  BackwardRow backward;
};

/// Records `op` over `inputs` (op.arity of them, live Vars of one graph). The inputs broadcast
/// as add's do, as long as each is the output's shape, a row of it ([H] against [B, H]), a
/// column ([B, 1]) or one value; anything else is a ShapeError naming the op and the shapes.
template <Scalar T>
Var<T> elementwise(const ElementwiseOp<T>& op, std::span<const Var<T>> inputs);
template <Scalar T>
Var<T> elementwise(const ElementwiseOp<T>& op, std::initializer_list<Var<T>> inputs) {
  return elementwise(op, std::span<const Var<T>>(inputs.begin(), inputs.size()));
}

}  // namespace rwd

namespace rwd::detail {

enum class EwOp : uint8_t;  // ops/kernels/kernels.hpp

/// Whether an operand of shape `in` maps onto the [rows, cols] space of `out` (rows: every
/// axis but the last): equal leading axes or none, and the last axis equal or 1.
[[nodiscard]] bool fits_rows(const Shape& out, const Shape& in);

/// For the elementwise ops of ops/: checks nothing, records node `op` with `inputs` (one
/// or two, each fits_rows(out, ·)), computes it with the instruction `code` (s: the scalar
/// of the scalar ops; offset: a last-axis slice's first column) and joins it to the open
/// fused region. The op's backward must be elementwise_backward<T>.
template <Scalar T>
Var<T> record_elementwise(Graph<T>& g, const OpDef<T>& op, EwOp code,
                          std::span<const Var<T>> inputs, const Shape& out, T s = T(0),
                          int64_t offset = 0);
template <Scalar T>
Var<T> record_elementwise(Graph<T>& g, const OpDef<T>& op, EwOp code,
                          std::initializer_list<Var<T>> inputs, const Shape& out, T s = T(0),
                          int64_t offset = 0) {
  return record_elementwise(g, op, code, std::span<const Var<T>>(inputs.begin(), inputs.size()),
                            out, s, offset);
}

/// record_elementwise for an op of one input x, whose output has x's shape.
template <Scalar T>
Var<T> record_unary_elementwise(const OpDef<T>& op, EwOp code, Var<T> x, T s = T(0)) {
  Graph<T>& g = graph_of(op.name, {x});
  const Shape shape = x.shape();  // a copy: recording may move the node array
  return record_elementwise(g, op, code, {x}, shape, s);
}

/// The backward of one elementwise node outside any region (fusion off).
template <Scalar T>
void elementwise_backward(const Backward<T>& b);

}  // namespace rwd::detail
