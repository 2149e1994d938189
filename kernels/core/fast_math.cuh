// Transcendentals straight through the SFU (ex2.approx / lg2.approx with .ftz). Without
// --use_fast_math, __expf and __logf wrap the same SFU instruction in a fixup for denormal
// results or arguments: about 6 more instructions per call, which made the sampler's split pass
// issue-bound (kernels/sampling/README.md). Where neither a result nor an argument is denormal
// these give exactly __expf's and __logf's values. On the host (the CPU block emulation of
// tests/support) they are std::exp2 / std::exp / std::log.
#pragma once

#ifndef __CUDA_ARCH__
#include <cmath>
#endif

namespace hearth::cuda {

// 2^x: ex2.approx (~2 ulp; 2^-inf = 0), results below 2^-126 flushed to 0.
__device__ __forceinline__ float FastExp2(float x) {
#ifdef __CUDA_ARCH__
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
#else
  return std::exp2(x);
#endif
}

// e^x as __expf computes it, 2^(x * float(log2 e)), for x >= -87.3 (results from 2^-126); 0 below.
__device__ __forceinline__ float FastExp(float x) {
#ifdef __CUDA_ARCH__
  return FastExp2(x * 1.44269504f);
#else
  return std::exp(x);
#endif
}

// ln x as __logf computes it, lg2.approx(x) * float(ln 2), for normal x > 0 (x from 2^-126).
__device__ __forceinline__ float FastLog(float x) {
#ifdef __CUDA_ARCH__
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y * 0.693147182f;
#else
  return std::log(x);
#endif
}

}  // namespace hearth::cuda
