// CPU detection and the choice of kernel level (REWIND_ISA), made once per process.
#include "rewind/core/isa.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

#include "rewind/core/error.hpp"

namespace rwd {
namespace {

// What this CPU runs, asked once. __builtin_cpu_supports also checks that the OS saves
// the vector registers (XCR0), so a level it reports can be used.
Isa detect_best() {
#if defined(REWIND_X86_KERNELS)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx512 && avx2) return Isa::kAvx512;
  if (avx2) return Isa::kAvx2;
#endif
  return Isa::kGeneric;
}

// REWIND_ISA, lowered to what the CPU runs; unset or empty: the best level.
Isa choose() {
  const Isa best = best_supported_isa();
  const char* env = std::getenv("REWIND_ISA");
  if (env == nullptr || *env == '\0') return best;
  const std::string_view name(env);
  for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512})
    if (name == isa_name(isa)) return isa < best ? isa : best;
  throw ValueError(
      fmt::format("REWIND_ISA: unknown level '{}'; expected generic, avx2 or avx512", name));
}

}  // namespace

Isa best_supported_isa() {
  static const Isa best = detect_best();
  return best;
}

bool isa_supported(Isa isa) {
  return isa <= best_supported_isa();
}

Isa active_isa() {
  static const Isa active = choose();  // thread-safe initialization, then read-only
  return active;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kGeneric:
      break;
  }
  return "generic";
}

}  // namespace rwd
