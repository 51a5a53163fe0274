// The built-in sequence layers, instantiated once here for float and double.
#include "rewind/layers/sequence.hpp"

namespace rwd {

template <Scalar T>
LSTM<T>::LSTM(const RecurrentOptions& options, Generator& gen)
    : Recurrent<LSTMCell<T>>(
          "LSTM", options,
          [proj_size = options.proj_size](int64_t in, int64_t hidden, bool bias, Generator& g) {
            return LSTMCell<T>(in, hidden, g, bias, proj_size);
          },
          gen) {}

template <Scalar T>
GRU<T>::GRU(const RecurrentOptions& options, Generator& gen)
    : Recurrent<GRUCell<T>>(
          "GRU", options,
          [](int64_t in, int64_t hidden, bool bias, Generator& g) {
            return GRUCell<T>(in, hidden, g, bias);
          },
          gen) {}

template <Scalar T>
RNN<T>::RNN(const RecurrentOptions& options, Generator& gen, Nonlinearity nonlinearity)
    : Recurrent<RNNCell<T>>(
          "RNN", options,
          [nonlinearity](int64_t in, int64_t hidden, bool bias, Generator& g) {
            return RNNCell<T>(in, hidden, g, bias, nonlinearity);
          },
          gen) {}

template class Recurrent<LSTMCell<float>>;
template class Recurrent<LSTMCell<double>>;
template class Recurrent<GRUCell<float>>;
template class Recurrent<GRUCell<double>>;
template class Recurrent<RNNCell<float>>;
template class Recurrent<RNNCell<double>>;
template class LSTM<float>;
template class LSTM<double>;
template class GRU<float>;
template class GRU<double>;
template class RNN<float>;
template class RNN<double>;

}  // namespace rwd
