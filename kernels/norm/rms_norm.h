// RMSNorm and fused residual-add + RMSNorm over rows of `hidden` elements:
//   RmsNorm:          out = x / sqrt(mean(x^2) + eps) * weight
//   FusedAddRmsNorm:  residual += x;  out = rmsnorm(residual) * weight   (one pass over the row)
// The weight is float32 on both backends (GGUF stores norm weights as F32; safetensors bf16 norm
// weights are widened at load, they are tiny). Accumulation is always float32.
#pragma once

#include <cstdint>

#include "kernels/core/dtype.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"

namespace hearth {

// ---- CPU twins (float32 activations) --------------------------------------------------------
Status RmsNormCpu(const float* x,       // [num_tokens, hidden]
                  const float* weight,  // [hidden]
                  float* out,           // [num_tokens, hidden]; may alias x
                  int64_t num_tokens, int hidden, float eps);

Status FusedAddRmsNormCpu(const float* x,       // [num_tokens, hidden]
                          float* residual,      // [num_tokens, hidden], updated in place
                          const float* weight,  // [hidden]
                          float* out,           // [num_tokens, hidden]; may alias x
                          int64_t num_tokens, int hidden, float eps);

// ---- CUDA (device pointers; activations in `dtype`: F32, F16 or BF16) ------------------------
Status RmsNorm(DType dtype, const void* x,  // [num_tokens, hidden]
               const float* weight,         // [hidden]
               void* out,                   // [num_tokens, hidden]; may alias x
               int64_t num_tokens, int hidden, float eps, cudaStream_t stream);

Status FusedAddRmsNorm(DType dtype, const void* x,  // [num_tokens, hidden]
                       void* residual,              // [num_tokens, hidden], updated in place
                       const float* weight,         // [hidden]
                       void* out,                   // [num_tokens, hidden]; may alias x
                       int64_t num_tokens, int hidden, float eps, cudaStream_t stream);

// The access path the CUDA adapters take for these arguments (pure; used by tests and logs).
AccessPath ChooseRmsNormPath(DType dtype, int hidden, const void* x, const void* residual,
                             const void* out);

// Register-cache depth of the CUDA kernel for a row of `row_accesses` accesses over `threads`
// threads: the accesses per thread rounded up to 1, 2 or 4 (the row is read once and kept in
// registers), or 0 when a thread would need more (two passes over the row; 8 would spill under
// 1024 threads). Pure.
inline int RmsNormRegisterVecs(int64_t row_accesses, int threads) {
  const int64_t per_thread = (row_accesses + threads - 1) / threads;
  for (int depth : {1, 2, 4})
    if (per_thread <= depth) return depth;
  return 0;
}

}  // namespace hearth
