// Counts heap allocations made by the whole process (malloc and friends, which operator new
// and the library's aligned_alloc go through). Under AddressSanitizer, which owns malloc,
// only operator new is counted.
#pragma once

#include <cstdint>

#include <rewind/ops/blas.hpp>

namespace rwd::test {

/// Allocations so far.
int64_t allocation_count();
/// True when malloc-level calls are counted (not only operator new).
bool counts_malloc();

/// Heap bytes currently allocated (malloc level only; 0 under ASan).
int64_t live_bytes();
/// Starts a new peak measurement at the current live bytes.
void reset_peak();
/// The most live bytes since the last reset_peak(), minus the live bytes at that reset.
int64_t peak_bytes_since_reset();

/// Pins the OpenBLAS GEMM provider while it lives. rewind makes no heap allocation in a
/// steady-state step; oneDNN's sgemm, the default float provider when built, allocates its
/// packing buffers inside some products (ops/blas.hpp), so the tests of that promise run
/// the products in OpenBLAS, and tests/ops/test_blas.cpp checks what oneDNN adds.
class PinOpenBLAS {
 public:
  PinOpenBLAS() : before_(gemm_provider()) { set_gemm_provider(GemmProvider::kOpenBLAS); }
  ~PinOpenBLAS() { set_gemm_provider(before_); }
  PinOpenBLAS(const PinOpenBLAS&) = delete;
  PinOpenBLAS& operator=(const PinOpenBLAS&) = delete;

 private:
  GemmProvider before_;
};

}  // namespace rwd::test
