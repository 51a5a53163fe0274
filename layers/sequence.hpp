// LSTM, GRU and RNN sequence layers: the generic driver over the built-in cells, with
// PyTorch's options, shapes and state_dict names. A bidirectional LSTM is LSTM with
// options.bidirectional = true. Each takes a Generator for the initial weights (and the seed
// of its dropout), or builds one with Generator::kDefaultSeed when none is given: for weights
// that are loaded right after (two layers built that way start with the same weights).
#pragma once

#include "rewind/layers/gru_cell.hpp"
#include "rewind/layers/lstm_cell.hpp"
#include "rewind/layers/recurrent.hpp"
#include "rewind/layers/rnn_cell.hpp"

namespace rwd {

template <Scalar T>
class LSTM : public Recurrent<LSTMCell<T>> {
 public:
  LSTM(const RecurrentOptions& options, Generator& gen);
  explicit LSTM(const RecurrentOptions& options) : LSTM(options, detail::as_lvalue(Generator())) {}
};

template <Scalar T>
class GRU : public Recurrent<GRUCell<T>> {
 public:
  GRU(const RecurrentOptions& options, Generator& gen);
  explicit GRU(const RecurrentOptions& options) : GRU(options, detail::as_lvalue(Generator())) {}
};

template <Scalar T>
class RNN : public Recurrent<RNNCell<T>> {
 public:
  RNN(const RecurrentOptions& options, Generator& gen,
      Nonlinearity nonlinearity = Nonlinearity::kTanh);
  explicit RNN(const RecurrentOptions& options, Nonlinearity nonlinearity = Nonlinearity::kTanh)
      : RNN(options, detail::as_lvalue(Generator()), nonlinearity) {}
};

extern template class Recurrent<LSTMCell<float>>;
extern template class Recurrent<LSTMCell<double>>;
extern template class Recurrent<GRUCell<float>>;
extern template class Recurrent<GRUCell<double>>;
extern template class Recurrent<RNNCell<float>>;
extern template class Recurrent<RNNCell<double>>;
extern template class LSTM<float>;
extern template class LSTM<double>;
extern template class GRU<float>;
extern template class GRU<double>;
extern template class RNN<float>;
extern template class RNN<double>;

}  // namespace rwd
