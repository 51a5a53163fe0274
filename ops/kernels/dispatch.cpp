// Which KernelSet this process uses: the one of active_isa(), looked up once.
#include "rewind/ops/kernels/kernels.hpp"

namespace rwd::detail {

// Defined in ops/kernels/generic.cpp, avx2.cpp and avx512.cpp.
namespace generic {
extern const KernelSet kKernels;
}  // namespace generic
#if defined(REWIND_X86_KERNELS)
namespace avx2 {
extern const KernelSet kKernels;
}  // namespace avx2
namespace avx512 {
extern const KernelSet kKernels;
}  // namespace avx512
#endif

const KernelSet* kernels_for(Isa isa) {
  if (!isa_supported(isa)) return nullptr;
  switch (isa) {
#if defined(REWIND_X86_KERNELS)
    case Isa::kAvx512:
      return &avx512::kKernels;
    case Isa::kAvx2:
      return &avx2::kKernels;
#endif
    default:
      return &generic::kKernels;
  }
}

const KernelSet& active_kernels() {
  static const KernelSet* const active = kernels_for(active_isa());  // once, thread-safe
  return *active;
}

}  // namespace rwd::detail
