// Fused pointwise ops for recurrent cells: the elementwise part of an LSTM or GRU step as one
// node each, with the whole backward in one pass. Ordinary ops (a forward, a backward, a
// gradient check), usable outside the layers; the layers build cells from them.
#pragma once

#include "rewind/core/graph.hpp"

namespace rwd {

/// LSTM step after the gate products. gates [B, 4H] holds the pre-activations of i, f, g, o
/// (PyTorch's order); c [B, H] is the previous cell state. Returns [2, B, H]: h' then c',
///   c' = σ(f) ∘ c + σ(i) ∘ tanh(g),   h' = σ(o) ∘ tanh(c').
/// Take h' and c' out with lstm_hidden() and lstm_cell_state() (views, no copies).
template <Scalar T>
Var<T> lstm_pointwise(Var<T> gates, Var<T> c);
/// h' [B, H] from the result of lstm_pointwise (a view).
template <Scalar T>
Var<T> lstm_hidden(Var<T> hc);
/// c' [B, H] from the result of lstm_pointwise (a view).
template <Scalar T>
Var<T> lstm_cell_state(Var<T> hc);

/// GRU step after the products. xp [B, 3H] = x·W_ihᵀ + b_ih and hp [B, 3H] = h·W_hhᵀ + b_hh
/// (gates r, z, n); h [B, H] the previous state. Returns h' [B, H]:
///   r = σ(x_r + h_r),  z = σ(x_z + h_z),  n = tanh(x_n + r ∘ h_n),  h' = (1 − z) ∘ n + z ∘ h.
template <Scalar T>
Var<T> gru_pointwise(Var<T> xp, Var<T> hp, Var<T> h);

}  // namespace rwd
