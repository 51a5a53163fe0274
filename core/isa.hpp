// Which instruction set rewind's hot loops run with. The library is compiled for baseline
// x86-64; its kernels are compiled again for AVX2 + FMA and for AVX-512, and the best level
// this CPU runs is chosen once, at first use (Note [Runtime ISA dispatch] in
// ops/kernels/kernels.hpp). An installed rewind therefore runs on any x86-64 CPU.
#pragma once

namespace rwd {

/// Instruction-set levels of rewind's kernels, lowest first.
enum class Isa { kGeneric, kAvx2, kAvx512 };

/// The level the kernels use in this process: the highest one this CPU supports, or the one
/// the environment variable REWIND_ISA names (generic, avx2 or avx512), lowered to what the
/// CPU supports. Chosen once, at the first call, and fixed for the life of the process.
/// Throws ValueError when REWIND_ISA holds another name.
[[nodiscard]] Isa active_isa();

/// Whether this CPU, and this build of rewind, can run the kernels built for `isa`
/// (AVX2 needs AVX2 and FMA; AVX-512 needs AVX-512 F, BW, VL and DQ).
[[nodiscard]] bool isa_supported(Isa isa);

/// The highest level isa_supported() accepts.
[[nodiscard]] Isa best_supported_isa();

/// "generic", "avx2" or "avx512".
[[nodiscard]] const char* isa_name(Isa isa);

}  // namespace rwd
