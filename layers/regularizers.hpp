// Regularizers of recurrent models, composed from existing ops (a constant mask times a
// value, embedding lookups): locked (variational) dropout, weight drop on W_hh, zoneout and
// embedding dropout. None has gradient code of its own. See docs/recurrent.md, "Regularizers".
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "rewind/core/graph.hpp"
#include "rewind/core/random.hpp"

namespace rwd {

/// The regularizers of a sequence layer (RecurrentOptions::regularizers). Each is a
/// probability in [0, 1); 0 turns it off. All act in training mode only, except zoneout,
/// which in eval mode mixes the old and new state by its expectation. Masks are drawn from
/// the layer's generator (Recurrent::dropout_generator()).
struct RecurrentRegularizers {
  /// Locked dropout of the first layer's input [T, B, I]: one mask [B, I] for all steps.
  double input_dropout = 0.0;
  /// Locked dropout of every layer's output [T, B, D·O], the last layer's included: one
  /// mask [B, D·O] per layer for all steps.
  double output_dropout = 0.0;
  /// Locked dropout of h where it re-enters the cell (for an LSTM or RNN, the h that
  /// multiplies W_hh; a GRU reads it in z∘h too): one mask [B, O] per layer and direction for
  /// all steps. The output and the final states are not masked.
  double state_dropout = 0.0;
  /// DropConnect on W_hh (weight drop): one mask [G·H, O] per layer and direction, per forward.
  double weight_drop = 0.0;
  /// Zoneout of h (state element 0): each unit keeps its previous value with this
  /// probability, a fresh draw at every step.
  double zoneout_h = 0.0;
  /// Zoneout of the other state elements (an LSTM's c); a cell with only h must leave it 0.
  double zoneout_c = 0.0;

  /// True when a forward in training mode draws a mask.
  [[nodiscard]] bool any() const {
    return input_dropout > 0 || output_dropout > 0 || state_dropout > 0 || weight_drop > 0 ||
           zoneout_h > 0 || zoneout_c > 0;
  }
};

/// Locked (variational) dropout (Gal & Ghahramani 2016): x [T, B, F] (any rank >= 2, time
/// first) times one mask over the other dims, the same at every step t. A masked element is
/// 0 at every step; a kept one is scaled by 1/(1-p). In eval (training == false) or with
/// p == 0 it returns x itself. p must be in [0, 1) (ValueError otherwise).
template <Scalar T>
Var<T> locked_dropout(Var<T> x, double p, Generator& gen, bool training);

/// Embedding dropout (Gal & Ghahramani 2016; Merity et al. 2018): the rows `ids` of `table`
/// [V, D], as embedding(table, ids), with whole rows (words) of the table dropped: each of
/// the V rows is kept with probability 1-p and scaled by 1/(1-p), so a word that repeats in
/// `ids` is dropped everywhere or nowhere. One draw per row of the table per call. In eval
/// or with p == 0 it is embedding(table, ids). p must be in [0, 1).
template <Scalar T>
Var<T> embedding_dropout(Var<T> table, std::span<const int64_t> ids, double p, Generator& gen,
                         bool training);

namespace detail {

/// Throws ValueError naming `op`, the option and its value unless p is in [0, 1).
void check_drop_probability(std::string_view op, std::string_view option, double p);
/// Checks every option of `r` for a layer called `layer` whose cell state has `state_size`
/// elements (zoneout_c needs two or more).
void check_regularizers(std::string_view layer, const RecurrentRegularizers& r, size_t state_size);

/// A constant of `shape`, each element 0 with probability p, else 1/(1-p). p < 1.
template <Scalar T>
Var<T> keep_mask(Graph<T>& g, const Shape& shape, double p, Generator& gen);

/// Zoneout of one state element (Krueger et al. 2017): in training, each unit is `prev`
/// with probability p (a fresh draw), else `next`; in eval, p·prev + (1-p)·next.
template <Scalar T>
Var<T> zoneout(Var<T> prev, Var<T> next, double p, bool training, Generator& gen);

/// The regularizers of one layer and direction during one forward: the locked mask of the
/// h fed back, drawn when it is made, and zoneout at each step.
template <Scalar T>
class StepRegularizer {
 public:
  StepRegularizer(const RecurrentRegularizers& r, bool training, Generator& gen, Graph<T>& g,
                  int64_t batch, int64_t h_width)
      : r_(r), training_(training), gen_(gen) {
    if (training && r.state_dropout > 0)
      state_mask_ = keep_mask(g, Shape{batch, h_width}, r.state_dropout, gen);  // [B, O]
  }

  /// The state the cell reads: h masked by the locked state mask, the others as they are.
  template <size_t K>
  [[nodiscard]] std::array<Var<T>, K> fed(const std::array<Var<T>, K>& state) const {
    std::array<Var<T>, K> out = state;
    if (!state_mask_.empty()) out[0] = state[0] * state_mask_;
    return out;
  }
  /// Zoneout of every state element from `prev` to the cell's `next`, in place.
  template <size_t K>
  void zone_out(const std::array<Var<T>, K>& prev, std::array<Var<T>, K>& next) {
    for (size_t k = 0; k < K; ++k) {
      const double p = k == 0 ? r_.zoneout_h : r_.zoneout_c;
      if (p > 0) next[k] = zoneout(prev[k], next[k], p, training_, gen_);
    }
  }

 private:
  const RecurrentRegularizers& r_;
  bool training_;
  Generator& gen_;
  Var<T> state_mask_;  // [B, O], or empty
};

/// A cell whose hidden products can read a masked W_hh (CellWeights::use_hidden_weight).
template <class C, class T>
concept HiddenWeightDroppable = requires(C& cell, Var<T> w) {
  { cell.weight_hh() } -> std::same_as<Parameter<T>&>;
  cell.use_hidden_weight(w);
};

/// Weight drop (Merity et al. 2018) for one layer and direction during one forward: in
/// training with p > 0, makes W' = M ∘ W_hh with one mask M and has the cell use it until
/// this object goes away.
template <class Cell, Scalar T>
class HiddenWeightDrop {
 public:
  HiddenWeightDrop(Cell& cell, Graph<T>& g, double p, bool training, Generator& gen) {
    if constexpr (HiddenWeightDroppable<Cell, T>) {
      if (!training || p == 0.0) return;
      Var<T> w = g.param(cell.weight_hh());                         // [G·H, O]
      cell.use_hidden_weight(w * keep_mask(g, w.shape(), p, gen));  // one mask per forward
      cell_ = &cell;
    }
  }
  ~HiddenWeightDrop() {
    if constexpr (HiddenWeightDroppable<Cell, T>)
      if (cell_ != nullptr) cell_->use_hidden_weight(Var<T>());
  }
  HiddenWeightDrop(const HiddenWeightDrop&) = delete;
  HiddenWeightDrop& operator=(const HiddenWeightDrop&) = delete;
  HiddenWeightDrop(HiddenWeightDrop&&) = delete;
  HiddenWeightDrop& operator=(HiddenWeightDrop&&) = delete;

 private:
  Cell* cell_ = nullptr;
};

}  // namespace detail
}  // namespace rwd
