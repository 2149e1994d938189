#include "kernels/core/device.h"

#ifdef HEARTH_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace hearth {

int GpuCount() {
#ifdef HEARTH_HAVE_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
#else
  return 0;
#endif
}

GpuInfo GetGpuInfo(int device) {
  GpuInfo info;
#ifdef HEARTH_HAVE_CUDA
  if (device < 0 || device >= GpuCount()) return info;
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return info;
  info.device = device;
  info.name = p.name;
  info.sm_count = p.multiProcessorCount;
  info.cc_major = p.major;
  info.cc_minor = p.minor;
  info.total_memory = p.totalGlobalMem;
  info.l2_bytes = p.l2CacheSize;
  info.max_smem_per_block_optin = p.sharedMemPerBlockOptin;
#else
  (void)device;
#endif
  return info;
}

}  // namespace hearth
