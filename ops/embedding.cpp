// embedding: forward (gather rows) and backward (scatter-add rows).
#include "rewind/ops/embedding.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

struct EmbeddingAttrs {
  const int64_t* ids;  // [count] in the graph's arena
};

// y[k] = W[ids[k]];  dW[ids[k]] += dy[k]
template <Scalar T>
void embedding_backward(const Backward<T>& b) {
  T* dw = b.dx(0);
  if (dw == nullptr) return;
  const int64_t* ids = b.template attrs<EmbeddingAttrs>().ids;
  const int64_t count = b.shape()[0];
  const int64_t dim = b.shape()[1];
  const T* dy = b.dy();
  for (int64_t k = 0; k < count; ++k) {
    T* row = dw + ids[k] * dim;
    const T* g = dy + k * dim;
    for (int64_t j = 0; j < dim; ++j) row[j] += g[j];
  }
}

template <Scalar T>
const OpDef<T> kEmbedding{"embedding", &embedding_backward<T>};

}  // namespace

template <Scalar T>
Var<T> embedding(Var<T> table, std::span<const int64_t> ids) {
  Graph<T>& g = graph_of("embedding", {table});
  const Node<T>& n = g.node(table.id());
  if (n.shape.rank() != 2)
    throw ShapeError(
        fmt::format("embedding: the table must be [vocab, dim], got {}", n.shape.str()));
  const int64_t vocab = n.shape[0];
  const int64_t dim = n.shape[1];
  for (size_t k = 0; k < ids.size(); ++k)
    if (ids[k] < 0 || ids[k] >= vocab)
      throw IndexError(fmt::format(
          "embedding: id {} at position {} is out of range for a table of {} rows (shape {})",
          ids[k], k, vocab, n.shape.str()));
  auto* saved = g.template allocate<int64_t>(std::max<size_t>(ids.size(), 1));
  std::copy(ids.begin(), ids.end(), saved);
  const T* w = n.value;
  auto [y, out] =
      g.record(kEmbedding<T>, {table}, Shape{int64_t(ids.size()), dim}, EmbeddingAttrs{saved});
  for (size_t k = 0; k < ids.size(); ++k)
    std::memcpy(out + int64_t(k) * dim, w + ids[k] * dim, size_t(dim) * sizeof(T));
  return y;
}

template Var<float> embedding(Var<float>, std::span<const int64_t>);
template Var<double> embedding(Var<double>, std::span<const int64_t>);

namespace detail {
const OpInfo kEmbeddingOps[] = {{kEmbedding<double>.name, true}};
std::span<const OpInfo> embedding_ops() {
  return kEmbeddingOps;
}
}  // namespace detail

}  // namespace rwd
