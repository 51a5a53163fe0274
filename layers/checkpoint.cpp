// Checkpoints of a module: the file's layout, the reserved names, and the checks before
// loading. The optimizer's part is in optim/checkpoint.cpp.
#include "rewind/layers/checkpoint.hpp"

#include <fmt/format.h>

#include <utility>

#include "rewind/core/error.hpp"
#include "rewind/core/safetensors.hpp"

namespace rwd {
namespace {

bool has_prefix(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool is_optimizer_key(const std::string& key) {
  return key == detail::kOptimizerNameKey || has_prefix(key, kOptimizerPrefix);
}

}  // namespace

template <Scalar T>
detail::CheckpointParts<T> detail::checkpoint_parts(const std::string& path, Module<T>& module,
                                                    const CheckpointMetadata& metadata) {
  CheckpointParts<T> parts{module.state_dict(), {}, {{"format", "pt"}}};
  for (const auto& [name, t] : parts.module)
    if (has_prefix(name, kOptimizerPrefix))
      throw ValueError(fmt::format(
          "save_checkpoint '{}': module parameter '{}' starts with '{}', which is reserved for "
          "the optimizer's state",
          path, name, kOptimizerPrefix));
  for (const auto& [key, value] : metadata) {
    if (is_optimizer_key(key))
      throw ValueError(fmt::format(
          "save_checkpoint '{}': metadata key '{}' is reserved for the optimizer's name and "
          "learning rate",
          path, key));
    parts.metadata[key] = value;
  }
  return parts;
}

template <Scalar T>
void detail::write_checkpoint(const std::string& path, CheckpointParts<T> parts) {
  std::map<std::string, Tensor<T>> tensors = std::move(parts.module);
  for (auto& [key, t] : parts.optimizer) tensors.emplace(kOptimizerPrefix + key, std::move(t));
  save_safetensors(path, tensors, parts.metadata);
}

template <Scalar T>
detail::CheckpointParts<T> detail::read_checkpoint(const std::string& path, Module<T>& module) {
  CheckpointParts<T> parts;
  const std::map<std::string, Tensor<T>> file = load_safetensors<T>(path, &parts.metadata);
  const size_t prefix_size = std::string(kOptimizerPrefix).size();
  for (const auto& [name, t] : file) {
    if (has_prefix(name, kOptimizerPrefix))
      parts.optimizer.emplace(name.substr(prefix_size), t);
    else
      parts.module.emplace(name, t);
  }
  // Every parameter present with its shape, and nothing else.
  const std::vector<NamedParameter<T>> params = module.named_parameters();
  for (const auto& [name, p] : params) {
    auto it = parts.module.find(name);
    if (it == parts.module.end())
      throw IoError(fmt::format(
          "'{}': tensor '{}' (shape {}) that the module needs is missing from the file, which "
          "holds {} module tensors",
          path, name, p->shape().str(), parts.module.size()));
    if (!(it->second.shape() == p->shape()))
      throw IoError(fmt::format("'{}': tensor '{}' has shape {} in the file but {} in the module",
                                path, name, it->second.shape().str(), p->shape().str()));
  }
  if (parts.module.size() != params.size())
    for (const auto& [name, t] : parts.module) {
      bool known = false;
      for (const auto& p : params) known = known || p.name == name;
      if (!known)
        throw IoError(
            fmt::format("'{}': tensor '{}' (shape {}) in the file is not a parameter of the module",
                        path, name, t.shape().str()));
    }
  return parts;
}

template <Scalar T>
void save_checkpoint(const std::string& path, Module<T>& module,
                     const CheckpointMetadata& metadata) {
  detail::write_checkpoint(path, detail::checkpoint_parts(path, module, metadata));
}

template <Scalar T>
CheckpointMetadata load_checkpoint(const std::string& path, Module<T>& module) {
  detail::CheckpointParts<T> parts = detail::read_checkpoint(path, module);
  module.load_state_dict(parts.module);  // checked by read_checkpoint: cannot throw
  return std::move(parts.metadata);
}

#define REWIND_INSTANTIATE(T)                                                                  \
  template detail::CheckpointParts<T> detail::checkpoint_parts(const std::string&, Module<T>&, \
                                                               const CheckpointMetadata&);     \
  template void detail::write_checkpoint(const std::string&, CheckpointParts<T>);              \
  template detail::CheckpointParts<T> detail::read_checkpoint(const std::string&, Module<T>&); \
  template void save_checkpoint(const std::string&, Module<T>&, const CheckpointMetadata&);    \
  template CheckpointMetadata load_checkpoint(const std::string&, Module<T>&);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

}  // namespace rwd
