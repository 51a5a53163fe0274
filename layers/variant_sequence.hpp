// Sequence layers over the variant cells: LayerNormLSTM, LayerNormGRU and PeepholeLSTM are
// the generic driver Recurrent<Cell> over LayerNormLSTMCell, LayerNormGRUCell and
// PeepholeLSTMCell, with the built-in layers' options (stacking, bidirectional, lengths,
// batch_first, dropout between layers) and names (weight_ih_l0, ln_ih_weight_l0_reverse, ...).
// options.bias = false: the LN cells' norms have no β, the peephole cell no bias_ih/bias_hh.
// options.proj_size must be 0. See docs/recurrent.md.
#pragma once

#include "rewind/layers/layer_norm_gru_cell.hpp"
#include "rewind/layers/layer_norm_lstm_cell.hpp"
#include "rewind/layers/peephole_lstm_cell.hpp"
#include "rewind/layers/recurrent.hpp"

namespace rwd {

template <Scalar T>
class LayerNormLSTM : public Recurrent<LayerNormLSTMCell<T>> {
 public:
  LayerNormLSTM(const RecurrentOptions& options, Generator& gen);
  explicit LayerNormLSTM(const RecurrentOptions& options)
      : LayerNormLSTM(options, detail::as_lvalue(Generator())) {}
};

template <Scalar T>
class LayerNormGRU : public Recurrent<LayerNormGRUCell<T>> {
 public:
  LayerNormGRU(const RecurrentOptions& options, Generator& gen);
  explicit LayerNormGRU(const RecurrentOptions& options)
      : LayerNormGRU(options, detail::as_lvalue(Generator())) {}
};

template <Scalar T>
class PeepholeLSTM : public Recurrent<PeepholeLSTMCell<T>> {
 public:
  PeepholeLSTM(const RecurrentOptions& options, Generator& gen);
  explicit PeepholeLSTM(const RecurrentOptions& options)
      : PeepholeLSTM(options, detail::as_lvalue(Generator())) {}
};

extern template class Recurrent<LayerNormLSTMCell<float>>;
extern template class Recurrent<LayerNormLSTMCell<double>>;
extern template class Recurrent<LayerNormGRUCell<float>>;
extern template class Recurrent<LayerNormGRUCell<double>>;
extern template class Recurrent<PeepholeLSTMCell<float>>;
extern template class Recurrent<PeepholeLSTMCell<double>>;
extern template class LayerNormLSTM<float>;
extern template class LayerNormLSTM<double>;
extern template class LayerNormGRU<float>;
extern template class LayerNormGRU<double>;
extern template class PeepholeLSTM<float>;
extern template class PeepholeLSTM<double>;

}  // namespace rwd
