// LSTM, GRU and RNN sequence layers: the generic driver over the built-in cells, with
// PyTorch's options, shapes and state_dict names. A bidirectional LSTM is LSTM with
// options.bidirectional = true.
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
};

template <Scalar T>
class GRU : public Recurrent<GRUCell<T>> {
 public:
  GRU(const RecurrentOptions& options, Generator& gen);
};

template <Scalar T>
class RNN : public Recurrent<RNNCell<T>> {
 public:
  RNN(const RecurrentOptions& options, Generator& gen,
      Nonlinearity nonlinearity = Nonlinearity::kTanh);
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
