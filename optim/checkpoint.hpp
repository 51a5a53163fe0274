// Checkpoints with an optimizer: the module's parameters (layers/checkpoint.hpp) and the
// optimizer's state in one safetensors file, the optimizer's keys under "optimizer.".
#pragma once

#include <string>
#include <type_traits>

#include "rewind/layers/checkpoint.hpp"
#include "rewind/layers/module.hpp"
#include "rewind/optim/optimizer.hpp"

namespace rwd {

// The optimizer parameters below are std::type_identity_t so that T is deduced from the
// module alone and `nullptr` or a derived optimizer (Adam<float>*) can be passed.

/// save_checkpoint(path, module, metadata) plus, when `optimizer` is not null, its
/// state_dict() under "optimizer." with its name and learning rate in the metadata
/// ("optimizer", "optimizer.lr"). Atomic; throws as the module-only overload.
template <Scalar T>
void save_checkpoint(const std::string& path, Module<T>& module,
                     const std::type_identity_t<Optimizer<T>>* optimizer,
                     const CheckpointMetadata& metadata = {});

/// load_checkpoint(path, module) plus, when `optimizer` is not null, its state. Everything is
/// checked before anything changes; besides the module-only overload's errors, an IoError
/// naming the file for a file without optimizer state, state of another optimizer, state
/// that does not fit it (as Optimizer::load_state_dict), or a bad learning rate. On success
/// the optimizer's learning rate is the one saved.
template <Scalar T>
CheckpointMetadata load_checkpoint(const std::string& path, Module<T>& module,
                                   std::type_identity_t<Optimizer<T>>* optimizer);

}  // namespace rwd
