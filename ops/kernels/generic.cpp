// The kernels compiled with the library's own flags (baseline x86-64, or any other CPU):
// the fallback every CPU runs.
#define REWIND_KERNEL_ISA generic
#include "rewind/ops/kernels/kernel_set_body.hpp"

namespace rwd::detail::generic {

extern const KernelSet kKernels;  // read by ops/kernels/dispatch.cpp
constinit const KernelSet kKernels{Isa::kGeneric, table<float>(), table<double>()};

}  // namespace rwd::detail::generic
