// Checkpoints: module and optimizer state in one safetensors file, checked before loading.
#include "rewind/layers/checkpoint.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <system_error>

#include "rewind/core/error.hpp"
#include "rewind/core/safetensors.hpp"
#include "rewind/optim/optimizer.hpp"

namespace rwd {
namespace {

constexpr const char* kOptimizerKey = "optimizer";
constexpr const char* kLrKey = "optimizer.lr";

bool has_prefix(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool is_optimizer_key(const std::string& key) {
  return key == kOptimizerKey || has_prefix(key, kOptimizerPrefix);
}

// The learning rate stored in the metadata, or an IoError naming the file.
double parse_lr(const std::string& path, const std::string& text) {
  double lr = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, lr);
  if (ec != std::errc() || ptr != end || !std::isfinite(lr) || lr < 0)
    throw IoError(fmt::format("'{}': metadata '{}' is '{}', not a finite learning rate >= 0", path,
                              kLrKey, text));
  return lr;
}

}  // namespace

template <Scalar T>
void save_checkpoint(const std::string& path, Module<T>& module,
                     const std::type_identity_t<Optimizer<T>>* optimizer,
                     const CheckpointMetadata& metadata) {
  std::map<std::string, Tensor<T>> tensors = module.state_dict();
  for (const auto& [name, t] : tensors)
    if (has_prefix(name, kOptimizerPrefix))
      throw ValueError(fmt::format(
          "save_checkpoint '{}': module parameter '{}' starts with '{}', which is reserved for "
          "the optimizer's state",
          path, name, kOptimizerPrefix));
  CheckpointMetadata meta = {{"format", "pt"}};
  for (const auto& [key, value] : metadata) {
    if (is_optimizer_key(key))
      throw ValueError(fmt::format(
          "save_checkpoint '{}': metadata key '{}' is reserved for the optimizer's name and "
          "learning rate",
          path, key));
    meta[key] = value;
  }
  if (optimizer != nullptr) {
    for (auto& [key, t] : optimizer->state_dict()) tensors.emplace(kOptimizerPrefix + key, t);
    meta[kOptimizerKey] = optimizer->name();
    meta[kLrKey] = fmt::format("{}", optimizer->lr());  // shortest text that reads back exactly
  }
  save_safetensors(path, tensors, meta);
}

template <Scalar T>
CheckpointMetadata load_checkpoint(const std::string& path, Module<T>& module,
                                   std::type_identity_t<Optimizer<T>>* optimizer) {
  CheckpointMetadata metadata;
  const std::map<std::string, Tensor<T>> file = load_safetensors<T>(path, &metadata);

  // 1. The module: every parameter present with its shape, and nothing else.
  std::map<std::string, Tensor<T>> module_state;
  std::map<std::string, Tensor<T>> optimizer_state;
  for (const auto& [name, t] : file) {
    if (has_prefix(name, kOptimizerPrefix))
      optimizer_state.emplace(name.substr(std::string(kOptimizerPrefix).size()), t);
    else
      module_state.emplace(name, t);
  }
  const std::vector<NamedParameter<T>> params = module.named_parameters();
  for (const auto& [name, p] : params) {
    auto it = module_state.find(name);
    if (it == module_state.end())
      throw IoError(fmt::format(
          "'{}': tensor '{}' (shape {}) that the module needs is missing from the file, which "
          "holds {} module tensors",
          path, name, p->shape().str(), module_state.size()));
    if (!(it->second.shape() == p->shape()))
      throw IoError(fmt::format("'{}': tensor '{}' has shape {} in the file but {} in the module",
                                path, name, it->second.shape().str(), p->shape().str()));
  }
  if (module_state.size() != params.size())
    for (const auto& [name, t] : module_state) {
      bool known = false;
      for (const auto& p : params) known = known || p.name == name;
      if (!known)
        throw IoError(
            fmt::format("'{}': tensor '{}' (shape {}) in the file is not a parameter of the module",
                        path, name, t.shape().str()));
    }

  // 2. The optimizer: its own all-or-nothing load, after the module is known to fit.
  if (optimizer != nullptr) {
    auto name = metadata.find(kOptimizerKey);
    if (name == metadata.end() || optimizer_state.empty())
      throw IoError(fmt::format(
          "'{}': the file holds no optimizer state (it was saved without an optimizer), so "
          "the {} state cannot be restored",
          path, optimizer->name()));
    if (name->second != optimizer->name())
      throw IoError(fmt::format("'{}': the file holds {} state but the optimizer is {}", path,
                                name->second, optimizer->name()));
    auto lr_text = metadata.find(kLrKey);
    if (lr_text == metadata.end())
      throw IoError(fmt::format("'{}': the file holds optimizer state but no '{}' in its metadata",
                                path, kLrKey));
    const double lr = parse_lr(path, lr_text->second);
    try {
      optimizer->load_state_dict(optimizer_state);
    } catch (const Error& e) {
      throw IoError(fmt::format("'{}': the optimizer state does not fit: {}", path, e.what()));
    }
    optimizer->set_lr(lr);  // checked above: cannot throw
  }

  // 3. Copy the module's parameters (checked above: cannot throw).
  module.load_state_dict(module_state);
  return metadata;
}

template void save_checkpoint<float>(const std::string&, Module<float>&, const Optimizer<float>*,
                                     const CheckpointMetadata&);
template void save_checkpoint<double>(const std::string&, Module<double>&, const Optimizer<double>*,
                                      const CheckpointMetadata&);
template CheckpointMetadata load_checkpoint<float>(const std::string&, Module<float>&,
                                                   Optimizer<float>*);
template CheckpointMetadata load_checkpoint<double>(const std::string&, Module<double>&,
                                                    Optimizer<double>*);

}  // namespace rwd
