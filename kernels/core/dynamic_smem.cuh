// A kernel's dynamic shared memory as bytes, 16-byte aligned. Under the CPU block emulation
// (tests/support/cuda_block_emulation.h, included before the kernel's source) it is the
// emulated block's buffer (SetDynamicSmem).
#pragma once

#include <cstdint>

namespace hearth::cuda {

__device__ __forceinline__ uint8_t* DynamicSmem() {
#ifdef __CUDACC__
  extern __shared__ uint4 hearth_dynamic_smem[];
  return reinterpret_cast<uint8_t*>(hearth_dynamic_smem);
#else
  return cuda_emulation::DynamicSmem();
#endif
}

}  // namespace hearth::cuda
