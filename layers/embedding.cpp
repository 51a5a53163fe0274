// Embedding layer.
#include "rewind/layers/embedding.hpp"

#include <fmt/format.h>

#include "rewind/ops/embedding.hpp"

namespace rwd {

template <Scalar T>
Embedding<T>::Embedding(int64_t num_embeddings, int64_t dim, Generator& gen) {
  if (num_embeddings <= 0 || dim <= 0)
    throw ValueError(
        fmt::format("Embedding: sizes must be positive, got {} x {}", num_embeddings, dim));
  weight_ = Parameter<T>(Tensor<T>::normal({num_embeddings, dim}, 0.0, 1.0, gen));
}

template <Scalar T>
Var<T> Embedding<T>::forward(Graph<T>& g, std::span<const int64_t> ids) {
  return embedding(g.param(weight_), ids);
}

template class Embedding<float>;
template class Embedding<double>;

}  // namespace rwd
