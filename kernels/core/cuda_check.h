// CUDA error handling for .cu files and CUDA host code: every runtime call is checked and a
// failure becomes a Status naming the statement, file and line.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "kernels/core/status.h"

namespace hearth::internal {
inline Status CudaError(cudaError_t err, const char* stmt, const char* file, int line) {
  return InternalError(std::string(stmt) + " failed at " + file + ":" + std::to_string(line) +
                       ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}
}  // namespace hearth::internal

// Evaluates a CUDA runtime call; on error returns a Status from the enclosing function.
#define CUDA_CHECK(stmt)                                                            \
  do {                                                                              \
    const cudaError_t hearth_err_ = (stmt);                                         \
    if (hearth_err_ != cudaSuccess)                                                 \
      return ::hearth::internal::CudaError(hearth_err_, #stmt, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: returns the launch error (bad configuration, missing image) if any.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

namespace hearth {
// The current device's attribute kAttr (a value >= 0), queried once per device (devices 0..63;
// others every call): for host code that plans every launch with it.
template <cudaDeviceAttr kAttr>
Result<int> CurrentDeviceAttribute() {
  static std::array<std::atomic<int>, 64> known{};  // the value + 1; 0: not yet queried
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::atomic<int>* slot = device < static_cast<int>(known.size()) ? &known[device] : nullptr;
  if (slot != nullptr) {
    const int v = slot->load(std::memory_order_relaxed);
    if (v > 0) return v - 1;
  }
  int value = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&value, kAttr, device));
  if (slot != nullptr) slot->store(value + 1, std::memory_order_relaxed);
  return value;
}

// Raises kKernel's dynamic shared memory limit to `bytes` (and, with max_carveout, asks for all of
// the unified L1 / shared storage as shared memory) once per device (devices 0..63 in one bitmask;
// others every call). The calls are not stream operations; skipping them afterwards keeps
// launches legal inside CUDA graph capture.
template <auto kKernel>
Status ConfigureSharedMemoryOnce(int bytes, bool max_carveout = false) {
  static std::atomic<uint64_t> configured{0};
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  const uint64_t bit = device < 64 ? uint64_t{1} << device : 0;
  if (bit != 0 && (configured.load(std::memory_order_relaxed) & bit) != 0) return Status::Ok();
  CUDA_CHECK(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  if (max_carveout) {
    CUDA_CHECK(cudaFuncSetAttribute(kKernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                    cudaSharedmemCarveoutMaxShared));
  }
  configured.fetch_or(bit, std::memory_order_relaxed);
  return Status::Ok();
}
}  // namespace hearth
