// Counts heap allocations made by the whole process (malloc and friends, which operator new
// and the library's aligned_alloc go through). Under AddressSanitizer, which owns malloc,
// only operator new is counted.
#pragma once

#include <cstdint>

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

}  // namespace rwd::test
