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

}  // namespace rwd::test
