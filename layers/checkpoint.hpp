// Checkpoints: a module's parameters in one safetensors file. Tensors keep their state_dict
// names, so a file written by PyTorch's safetensors.torch.save_file(model.state_dict(), path)
// loads into the matching rewind module and a rewind checkpoint loads into PyTorch. Writes
// are atomic; loads are all or nothing. optim/checkpoint.hpp adds overloads that store an
// optimizer's state in the same file, under keys starting with "optimizer.".
#pragma once

#include <map>
#include <string>

#include "rewind/layers/module.hpp"

namespace rwd {

/// String metadata stored in a checkpoint's "__metadata__" (training step, settings, ...).
using CheckpointMetadata = std::map<std::string, std::string>;

/// Prefix of the optimizer's state keys in a checkpoint: "optimizer.exp_avg.weight_ih_l0".
/// Module parameters may not be named so, and metadata keys "optimizer" and "optimizer.*"
/// are reserved too.
inline constexpr const char* kOptimizerPrefix = "optimizer.";

/// Writes `module`'s parameters under their state_dict names (F32 for float, F64 for double)
/// with `metadata` ("format" is "pt" unless it says otherwise, as PyTorch tools expect). The
/// write is atomic (see save_safetensors): a failure leaves any previous file at `path`
/// intact. Throws ValueError when a metadata key is "optimizer" or starts with "optimizer.",
/// or when a module parameter's name starts with "optimizer."; IoError when the write fails.
/// With an optimizer: optim/checkpoint.hpp.
template <Scalar T>
void save_checkpoint(const std::string& path, Module<T>& module,
                     const CheckpointMetadata& metadata = {});

/// Loads a checkpoint into `module`; returns its metadata. F32 and F64 data load into either
/// scalar type. Everything is checked before anything changes, and every error is an IoError
/// naming the file: a malformed file (as load_safetensors), a tensor the module needs that
/// the file lacks, a shape that differs, a tensor the module does not have. Optimizer state
/// in the file is ignored (to restore it too: optim/checkpoint.hpp).
template <Scalar T>
CheckpointMetadata load_checkpoint(const std::string& path, Module<T>& module);

namespace detail {

/// Metadata keys the optimizer overloads (optim/checkpoint.hpp) store its name and lr under.
inline constexpr const char* kOptimizerNameKey = "optimizer";
inline constexpr const char* kOptimizerLrKey = "optimizer.lr";

/// A checkpoint file's content, split into the module's tensors, the optimizer's (keys
/// without kOptimizerPrefix) and the metadata.
template <Scalar T>
struct CheckpointParts {
  std::map<std::string, Tensor<T>> module;
  std::map<std::string, Tensor<T>> optimizer;
  CheckpointMetadata metadata;
};

/// What save_checkpoint(path, module, metadata) writes, checked but not yet written:
/// module.state_dict() and the metadata with "format". Throws ValueError as save_checkpoint.
template <Scalar T>
CheckpointParts<T> checkpoint_parts(const std::string& path, Module<T>& module,
                                    const CheckpointMetadata& metadata);
/// Writes `parts` atomically; the optimizer's tensors get kOptimizerPrefix.
template <Scalar T>
void write_checkpoint(const std::string& path, CheckpointParts<T> parts);
/// Reads `path` and checks that its module tensors fit `module` exactly (IoError naming the
/// file otherwise, as load_checkpoint). Changes nothing.
template <Scalar T>
CheckpointParts<T> read_checkpoint(const std::string& path, Module<T>& module);

}  // namespace detail
}  // namespace rwd
