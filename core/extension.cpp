// The per-type indices of graph extensions, and the error for mismatched op attributes.
#include <fmt/format.h>

#include <atomic>

#include "rewind/core/error.hpp"
#include "rewind/core/extension.hpp"
#include "rewind/core/node.hpp"

namespace rwd::detail {

size_t next_extension_slot() {
  static std::atomic<size_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed);
}
void throw_attr_mismatch(const char* op, bool empty) {
  throw GraphError(
      fmt::format("{}: the node's attributes were read as a type other than the "
                  "one recorded{}",
                  op, empty ? " (it recorded none)" : ""));
}
}  // namespace rwd::detail

namespace rwd {

template <Scalar T>
NodeId GraphExtension<T>::backward_group(Graph<T>& /*g*/, NodeId id) {
  throw GraphError(fmt::format(
      "backward: node {} belongs to a backward group, but the extension asked to run it runs "
      "none",
      id));
}

template class GraphExtension<float>;
template class GraphExtension<double>;

}  // namespace rwd
