// CUDA error handling for .cu files and CUDA host code: every runtime call is checked and a
// failure becomes a Status naming the statement, file and line.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "kernels/core/status.h"

namespace hearth::internal {
inline Status CudaError(cudaError_t err, const char* stmt, const char* file, int line) {
  return InternalError(std::string(stmt) + " failed at " + file + ":" + std::to_string(line) +
                       ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}
}  // namespace hearth::internal

// Evaluates a CUDA runtime call; on error returns a Status from the enclosing function.
#define CUDA_CHECK(stmt)                                                                \
  do {                                                                                  \
    const cudaError_t hearth_err_ = (stmt);                                             \
    if (hearth_err_ != cudaSuccess)                                                     \
      return ::hearth::internal::CudaError(hearth_err_, #stmt, __FILE__, __LINE__);     \
  } while (0)

// After a kernel launch: returns the launch error (bad configuration, missing image) if any.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
