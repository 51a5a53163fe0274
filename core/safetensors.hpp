// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, "__metadata__": {}},
// then the raw little-endian data. Files written by safetensors.torch.save_file load here and
// the reverse. Reading validates everything before trusting any offset; writing is atomic.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>

#include "rewind/core/tensor.hpp"

namespace rwd {

/// Reads every tensor of a safetensors file, converting F32 or F64 data to T. Throws IoError
/// naming the file and what is wrong: unreadable or truncated file, header length past the
/// end, malformed JSON, unknown or unsupported dtype, rank above 4, offsets outside the data
/// or overlapping or leaving gaps, a shape that does not match its byte count. When
/// `metadata` is given it receives the "__metadata__" strings from the same read of the file,
/// so tensors and metadata match even while another process replaces the file.
template <Scalar T>
std::map<std::string, Tensor<T>> load_safetensors(
    const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

/// The same from bytes in memory; `source` names them in error messages. When `metadata`
/// is given it receives the "__metadata__" strings (empty when absent), from the same bytes.
template <Scalar T>
std::map<std::string, Tensor<T>> parse_safetensors(
    std::span<const std::byte> bytes, const std::string& source,
    std::map<std::string, std::string>* metadata = nullptr);

/// Writes `tensors` (F32 for float, F64 for double) and string metadata. The file is written
/// to a temporary name in the same directory, flushed to disk and renamed over `path`, so a
/// failure at any point leaves any previous file at `path` intact. Throws IoError (a write
/// that fails; a tensor named "__metadata__"; a name or metadata string that is not UTF-8,
/// which JSON requires), before creating any file for the argument errors.
template <Scalar T>
void save_safetensors(const std::string& path, const std::map<std::string, Tensor<T>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Reads just the "__metadata__" strings (empty when absent).
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

}  // namespace rwd
