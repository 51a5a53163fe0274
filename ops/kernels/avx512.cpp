// The kernels compiled for AVX-512 (-mavx512f -mavx512bw -mavx512vl -mavx512dq, with AVX2
// and FMA; set for this file in CMakeLists.txt).
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || \
    !defined(__AVX512DQ__) || !defined(__FMA__)
#error \
    "ops/kernels/avx512.cpp must be compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma"
#endif
#define REWIND_KERNEL_ISA avx512
#include "rewind/ops/kernels/kernel_set_body.hpp"

namespace rwd::detail::avx512 {

extern const KernelSet kKernels;  // read by ops/kernels/dispatch.cpp
constinit const KernelSet kKernels{Isa::kAvx512, table<float>(), table<double>()};

}  // namespace rwd::detail::avx512
