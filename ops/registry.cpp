// Gathers the per-family op lists.
#include "rewind/ops/registry.hpp"

namespace rwd {

std::vector<OpInfo> builtin_ops() {
  std::vector<OpInfo> all;
  for (auto family : {detail::elementwise_ops(), detail::activation_ops(), detail::linalg_ops(),
                      detail::shape_ops(), detail::index_ops(), detail::reduce_ops(),
                      detail::norm_ops(), detail::loss_ops(), detail::embedding_ops(),
                      detail::dropout_ops(), detail::rnn_ops(), detail::side_graph_ops()})
    all.insert(all.end(), family.begin(), family.end());
  return all;
}

}  // namespace rwd
