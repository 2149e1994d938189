// What the host CPU can run, checked once at run time: the CPU kernels' AVX2 paths are compiled
// for every x86-64 build (target attributes) and taken only where this says so.
#pragma once

namespace hearth {

// AVX2 and F16C (x86-64 only; false elsewhere).
bool CpuHasAvx2F16c();

}  // namespace hearth
