// The list of built-in ops, so tests can insist that every one has a gradient check.
#pragma once

#include <span>
#include <vector>

namespace rwd {

struct OpInfo {
  const char* name;
  bool differentiable;  // false: no gradient flows through it (detach); nothing to check
};

/// Every built-in op, by family.
std::vector<OpInfo> builtin_ops();

namespace detail {
// One list per ops/ family file, defined next to the ops themselves.
std::span<const OpInfo> elementwise_ops();
std::span<const OpInfo> activation_ops();
std::span<const OpInfo> linalg_ops();
std::span<const OpInfo> shape_ops();
std::span<const OpInfo> index_ops();
std::span<const OpInfo> reduce_ops();
std::span<const OpInfo> norm_ops();
std::span<const OpInfo> loss_ops();
std::span<const OpInfo> embedding_ops();
std::span<const OpInfo> dropout_ops();
std::span<const OpInfo> rnn_ops();
std::span<const OpInfo> side_graph_ops();
}  // namespace detail

}  // namespace rwd
