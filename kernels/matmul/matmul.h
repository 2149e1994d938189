// Linear layers: y[num_tokens, n] = x[num_tokens, k] . W^T (+ bias), W [n, k] row-major in any
// weight type (PyTorch Linear layout; a GGUF 2-D tensor with ne0 = k, ne1 = n), each row of W
// being k / block_elems blocks. See README.md for the kernels and the weight layout on the GPU.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"

namespace hearth {

// ---- CPU ------------------------------------------------------------------------------------
// Batch-invariant and thread-count-invariant: each output element is one fixed-order float32
// dot product of a dequantized weight row with one row of x.
Status MatmulCpu(DType w_type,
                 const void* w,      // [n, k] of w_type
                 const float* x,     // [num_tokens, k]
                 const float* bias,  // [n] or nullptr
                 float* y,           // [num_tokens, n]
                 int num_tokens, int n, int k);

// ---- kernel choice (pure; unit-tested on the CPU) ----------------------------------------------
enum class MatmulKernel : uint8_t {
  kCublasLt,         // bf16/f16 weights: cuBLASLt, per-shape algorithm cached
  kQuantGemv,        // block weights, 1..8 tokens: fused dequantize + skinny GEMM
  kDequantCublasLt,  // block weights (or f32), more tokens: dequantize W to scratch, cuBLASLt
  kUnsupported,
};
inline constexpr int kMaxGemvTokens = 8;

MatmulKernel SelectMatmulKernel(DType w, int num_tokens, int n, int k);
std::string_view MatmulKernelName(MatmulKernel kernel);

// ---- GPU ------------------------------------------------------------------------------------
// Owns the cuBLASLt handle, its workspace, the per-shape algorithm cache and the dequantization
// scratch. Not thread-safe: one per stream/worker.
class GpuMatmul {
 public:
  static Result<std::unique_ptr<GpuMatmul>> Create();
  ~GpuMatmul();
  GpuMatmul(const GpuMatmul&) = delete;
  GpuMatmul& operator=(const GpuMatmul&) = delete;

  // Pre-allocates the dequantization scratch for weights of up to max_weight_elems elements so
  // that Run never allocates (needed for CUDA graph capture of large batches).
  Status Reserve(int64_t max_weight_elems);

  // act_type: BF16 or F16 for every kernel; F32 only where the selected kernel is kQuantGemv.
  // x, y, bias are device pointers of act_type; w is device memory in w_type's GGUF layout.
  Status Run(DType w_type,
             const void* w,  // [n, k] of w_type
             DType act_type,
             const void* x,     // [num_tokens, k]
             const void* bias,  // [n] or nullptr
             void* y,           // [num_tokens, n]
             int num_tokens, int n, int k, cudaStream_t stream);

 private:
  struct Impl;
  explicit GpuMatmul(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The fused dequantize + skinny GEMM alone (num_tokens <= kMaxGemvTokens, k a multiple of the
// block size); act_type BF16, F16 or F32. Exposed for tests and benchmarks.
Status LaunchQuantGemv(DType w_type, const void* w, DType act_type, const void* x, const void* bias,
                       void* y, int num_tokens, int n, int k, cudaStream_t stream);

}  // namespace hearth
