// Helpers of the kernel bodies: vector types of the translation unit's width, unaligned
// loads and stores, and builtins in place of <cmath> and <algorithm>. Kernel bodies call
// no inline function from outside their ISA namespace (Note [Runtime ISA dispatch] in
// ops/kernels/kernels.hpp): an out-of-line copy of std::min compiled with -mavx512f could be the
// one the linker keeps for the whole program.
#pragma once

#include <cstdint>

#ifndef REWIND_KERNEL_ISA
#error "kernel bodies are included only by kernels/{generic,avx2,avx512}.cpp"
#endif

namespace rwd::detail::REWIND_KERNEL_ISA {

// The widest vector of this translation unit, in bytes.
#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX2__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif
// Vector registers: 32 with AVX-512, 16 below.
constexpr int kVectorRegisters = kVectorBytes == 64 ? 32 : 16;

template <class T, int Bytes = kVectorBytes>
struct Vec {
  static constexpr int kLanes = Bytes / int(sizeof(T));
  // NOLINTNEXTLINE(modernize-use-using): GCC drops vector_size on a dependent type in `using`.
  typedef T type __attribute__((vector_size(Bytes)));
};

template <class V, class T>
inline V load(const T* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

template <class V, class T>
inline void store(T* p, V v) {
  __builtin_memcpy(p, &v, sizeof(v));
}

inline int64_t min_of(int64_t a, int64_t b) {
  return a < b ? a : b;
}

inline float sqrt_of(float x) {
  return __builtin_sqrtf(x);
}
inline double sqrt_of(double x) {
  return __builtin_sqrt(x);
}

}  // namespace rwd::detail::REWIND_KERNEL_ISA
