// The kernels compiled for AVX2 + FMA (-mavx2 -mfma, set for this file in CMakeLists.txt).
#if !defined(__AVX2__) || !defined(__FMA__)
#error "ops/kernels/avx2.cpp must be compiled with -mavx2 -mfma"
#endif
#define REWIND_KERNEL_ISA avx2
#include "rewind/ops/kernels/kernel_set_body.hpp"

namespace rwd::detail::avx2 {

extern const KernelSet kKernels;  // read by ops/kernels/dispatch.cpp
constinit const KernelSet kKernels{Isa::kAvx2, table<float>(), table<double>()};

}  // namespace rwd::detail::avx2
