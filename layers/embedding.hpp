// Embedding: a table of vectors looked up by integer ids.
#pragma once

#include <cstdint>
#include <span>

#include "rewind/core/graph.hpp"
#include "rewind/core/random.hpp"
#include "rewind/layers/module.hpp"

namespace rwd {

template <Scalar T>
class Embedding : public Module<T> {
 public:
  /// A [num_embeddings, dim] table initialised from N(0, 1), as PyTorch's nn.Embedding.
  Embedding(int64_t num_embeddings, int64_t dim, Generator& gen);
  /// The same, drawing from Generator(Generator::kDefaultSeed) (see Linear's constructor).
  Embedding(int64_t num_embeddings, int64_t dim)
      : Embedding(num_embeddings, dim, detail::as_lvalue(Generator())) {}

  /// The rows for `ids`, as [ids.size(), dim]; throws IndexError for an id out of range.
  Var<T> forward(Graph<T>& g, std::span<const int64_t> ids);

  [[nodiscard]] int64_t num_embeddings() const { return weight_.shape()[0]; }
  [[nodiscard]] int64_t dim() const { return weight_.shape()[1]; }
  [[nodiscard]] Parameter<T>& weight() { return weight_; }

  void visit(ModuleVisitor<T>& v) override { v.parameter("weight", weight_); }

 private:
  Parameter<T> weight_;  // [num_embeddings, dim]
};

extern template class Embedding<float>;
extern template class Embedding<double>;

}  // namespace rwd
