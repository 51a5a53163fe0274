// libFuzzer target for the safetensors reader: any bytes must either parse or throw IoError,
// never crash, over-read or hang. Built with clang++ -fsanitize=fuzzer,address,undefined by
// scripts/run-fuzzer.sh; the g++ builds compile it too, replaying tests/data's files through
// it (replay_main.cpp), so it cannot rot.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "rewind/core/error.hpp"
#include "rewind/core/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    std::map<std::string, std::string> metadata;
    const auto tensors = rwd::parse_safetensors<double>(bytes, "fuzz", &metadata);
    // Touch every element so that a wrong offset would be an over-read ASan sees.
    double sum = 0;
    for (const auto& [name, t] : tensors)
      for (int64_t i = 0; i < t.numel(); ++i) sum += t[i];
    static_cast<void>(sum);
    static_cast<void>(rwd::parse_safetensors<float>(bytes, "fuzz"));
  } catch (const rwd::IoError&) {
    // A clear error is the expected outcome for malformed input.
  }
  return 0;
}
