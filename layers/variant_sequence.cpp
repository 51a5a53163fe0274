// The variant sequence layers, instantiated once here for float and double.
#include "rewind/layers/variant_sequence.hpp"

namespace rwd {

template <Scalar T>
LayerNormLSTM<T>::LayerNormLSTM(const RecurrentOptions& options, Generator& gen)
    : Recurrent<LayerNormLSTMCell<T>>(
          "LayerNormLSTM", options,
          [](int64_t in, int64_t hidden, bool bias, Generator& g) {
            return LayerNormLSTMCell<T>(in, hidden, g, bias);
          },
          gen) {}

template <Scalar T>
LayerNormGRU<T>::LayerNormGRU(const RecurrentOptions& options, Generator& gen)
    : Recurrent<LayerNormGRUCell<T>>(
          "LayerNormGRU", options,
          [](int64_t in, int64_t hidden, bool bias, Generator& g) {
            return LayerNormGRUCell<T>(in, hidden, g, bias);
          },
          gen) {}

template <Scalar T>
PeepholeLSTM<T>::PeepholeLSTM(const RecurrentOptions& options, Generator& gen)
    : Recurrent<PeepholeLSTMCell<T>>(
          "PeepholeLSTM", options,
          [](int64_t in, int64_t hidden, bool bias, Generator& g) {
            return PeepholeLSTMCell<T>(in, hidden, g, bias);
          },
          gen) {}

template class Recurrent<LayerNormLSTMCell<float>>;
template class Recurrent<LayerNormLSTMCell<double>>;
template class Recurrent<LayerNormGRUCell<float>>;
template class Recurrent<LayerNormGRUCell<double>>;
template class Recurrent<PeepholeLSTMCell<float>>;
template class Recurrent<PeepholeLSTMCell<double>>;
template class LayerNormLSTM<float>;
template class LayerNormLSTM<double>;
template class LayerNormGRU<float>;
template class LayerNormGRU<double>;
template class PeepholeLSTM<float>;
template class PeepholeLSTM<double>;

}  // namespace rwd
