// What the host CPU can run, checked once at run time: the CPU kernels' AVX2 paths are compiled
// for every x86-64 build (target attributes) and taken only where this says so.
#pragma once

// The target attribute of those paths' functions: AVX2 and F16C, no FMA (the CPU kernels keep
// the portable code's float32 rounding, so nothing may be contracted).
#if defined(__x86_64__) || defined(__i386__)
#define HEARTH_AVX2 __attribute__((target("avx2,f16c")))
#else
#define HEARTH_AVX2
#endif

namespace hearth {

// AVX2 and F16C (x86-64 only; false elsewhere).
bool CpuHasAvx2F16c();

}  // namespace hearth
