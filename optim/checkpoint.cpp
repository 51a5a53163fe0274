// Checkpoints with an optimizer: its state and learning rate beside the module's tensors,
// restored only when the module's tensors fit too.
#include "rewind/optim/checkpoint.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <system_error>
#include <utility>

#include "rewind/core/error.hpp"

namespace rwd {
namespace {

// The learning rate stored in the metadata, or an IoError naming the file.
double parse_lr(const std::string& path, const std::string& text) {
  double lr = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, lr);
  if (ec != std::errc() || ptr != end || !std::isfinite(lr) || lr < 0)
    throw IoError(fmt::format("'{}': metadata '{}' is '{}', not a finite learning rate >= 0", path,
                              detail::kOptimizerLrKey, text));
  return lr;
}

}  // namespace

template <Scalar T>
void save_checkpoint(const std::string& path, Module<T>& module,
                     const std::type_identity_t<Optimizer<T>>* optimizer,
                     const CheckpointMetadata& metadata) {
  detail::CheckpointParts<T> parts = detail::checkpoint_parts(path, module, metadata);
  if (optimizer != nullptr) {
    parts.optimizer = optimizer->state_dict();
    parts.metadata[detail::kOptimizerNameKey] = optimizer->name();
    // The shortest text that reads back to the same double.
    parts.metadata[detail::kOptimizerLrKey] = fmt::format("{}", optimizer->lr());
  }
  detail::write_checkpoint(path, std::move(parts));
}

template <Scalar T>
CheckpointMetadata load_checkpoint(const std::string& path, Module<T>& module,
                                   std::type_identity_t<Optimizer<T>>* optimizer) {
  // 1. The module: every parameter present with its shape, and nothing else.
  detail::CheckpointParts<T> parts = detail::read_checkpoint(path, module);

  // 2. The optimizer: its own all-or-nothing load, after the module is known to fit.
  if (optimizer != nullptr) {
    const CheckpointMetadata& metadata = parts.metadata;
    auto name = metadata.find(detail::kOptimizerNameKey);
    if (name == metadata.end() || parts.optimizer.empty())
      throw IoError(fmt::format(
          "'{}': the file holds no optimizer state (it was saved without an optimizer), so "
          "the {} state cannot be restored",
          path, optimizer->name()));
    if (name->second != optimizer->name())
      throw IoError(fmt::format("'{}': the file holds {} state but the optimizer is {}", path,
                                name->second, optimizer->name()));
    auto lr_text = metadata.find(detail::kOptimizerLrKey);
    if (lr_text == metadata.end())
      throw IoError(fmt::format("'{}': the file holds optimizer state but no '{}' in its metadata",
                                path, detail::kOptimizerLrKey));
    const double lr = parse_lr(path, lr_text->second);
    try {
      optimizer->load_state_dict(parts.optimizer);
    } catch (const Error& e) {
      throw IoError(fmt::format("'{}': the optimizer state does not fit: {}", path, e.what()));
    }
    optimizer->set_lr(lr);  // checked above: cannot throw
  }

  // 3. Copy the module's parameters (checked above: cannot throw).
  module.load_state_dict(parts.module);
  return std::move(parts.metadata);
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
