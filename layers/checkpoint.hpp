// Checkpoints: a module's parameters, and optionally an optimizer's state, in one safetensors
// file. Module tensors keep their state_dict names, so a file written by PyTorch's
// safetensors.torch.save_file(model.state_dict(), path) loads into the matching rewind module
// and a rewind checkpoint loads into PyTorch. Writes are atomic; loads are all or nothing.
#pragma once

#include <map>
#include <string>
#include <type_traits>

#include "rewind/layers/module.hpp"

namespace rwd {

template <Scalar T>
class Optimizer;

// The optimizer parameters below are std::type_identity_t so that T is deduced from the
// module alone and `nullptr` or a derived optimizer (Adam<float>*) can be passed.

/// String metadata stored in a checkpoint's "__metadata__" (training step, settings, ...).
using CheckpointMetadata = std::map<std::string, std::string>;

/// Prefix of the optimizer's state keys in a checkpoint: "optimizer.exp_avg.weight_ih_l0".
inline constexpr const char* kOptimizerPrefix = "optimizer.";

/// Writes `module`'s parameters under their state_dict names (F32 for float, F64 for double)
/// and, when `optimizer` is given, its state_dict() under "optimizer." with its name and
/// learning rate in the metadata ("optimizer", "optimizer.lr"). `metadata` is stored as well
/// ("format" is "pt" unless it says otherwise, as PyTorch tools expect). The write is atomic
/// (see save_safetensors): a failure leaves any previous file at `path` intact.
/// Throws ValueError when a metadata key is "optimizer" or starts with "optimizer.", or when
/// a module parameter's name starts with "optimizer."; IoError when the write fails.
template <Scalar T>
void save_checkpoint(const std::string& path, Module<T>& module,
                     const std::type_identity_t<Optimizer<T>>* optimizer = nullptr,
                     const CheckpointMetadata& metadata = {});

/// Loads a checkpoint into `module` and, when given, `optimizer`; returns its metadata.
/// F32 and F64 data load into either scalar type. Everything is checked before anything
/// changes, and every error is an IoError naming the file: a malformed file (as
/// load_safetensors), a tensor the module needs that the file lacks, a shape that differs, a
/// tensor the module does not have; with an optimizer, a file without optimizer state, state
/// of another optimizer, or state that does not fit it (as Optimizer::load_state_dict), or a
/// bad learning rate. Optimizer state in the file is ignored when no optimizer is given.
/// On success the optimizer's learning rate is the one saved.
template <Scalar T>
CheckpointMetadata load_checkpoint(const std::string& path, Module<T>& module,
                                   std::type_identity_t<Optimizer<T>>* optimizer = nullptr);

}  // namespace rwd
