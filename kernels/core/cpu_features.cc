#include "kernels/core/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace hearth {

bool CpuHasAvx2F16c() {
#if defined(__x86_64__) || defined(__i386__)
  // F16C from CPUID leaf 1 (ECX bit 29): clang before 15 has no "f16c" for
  // __builtin_cpu_supports, and the fuzz build (scripts/fuzz.sh) compiles with clang.
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
    return f16c && __builtin_cpu_supports("avx2");
  }();
  return has;
#else
  return false;
#endif
}

}  // namespace hearth
