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

double MeasureGpuCopyGbps(int device, size_t bytes) {
#ifdef HEARTH_HAVE_CUDA
  if (device < 0 || device >= GpuCount() || cudaSetDevice(device) != cudaSuccess) return 0;
  void* src = nullptr;
  void* dst = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  double gbps = 0;
  constexpr int kCopies = 10;
  if (cudaMalloc(&src, bytes) == cudaSuccess && cudaMalloc(&dst, bytes) == cudaSuccess &&
      cudaEventCreate(&start) == cudaSuccess && cudaEventCreate(&stop) == cudaSuccess &&
      cudaMemset(src, 1, bytes) == cudaSuccess &&
      cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice) == cudaSuccess) {  // warm-up
    bool ok = cudaEventRecord(start) == cudaSuccess;
    for (int i = 0; ok && i < kCopies; ++i) {
      ok = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice) == cudaSuccess;
    }
    float ms = 0;
    if (ok && cudaEventRecord(stop) == cudaSuccess && cudaEventSynchronize(stop) == cudaSuccess &&
        cudaEventElapsedTime(&ms, start, stop) == cudaSuccess && ms > 0) {
      gbps = 2.0 * static_cast<double>(bytes) * kCopies / (ms / 1e3) / 1e9;
    }
  }
  if (start != nullptr) cudaEventDestroy(start);
  if (stop != nullptr) cudaEventDestroy(stop);
  if (src != nullptr) cudaFree(src);
  if (dst != nullptr) cudaFree(dst);
  (void)cudaGetLastError();  // an allocation that failed leaves its error behind
  return gbps;
#else
  (void)device;
  (void)bytes;
  return 0;
#endif
}

}  // namespace hearth
