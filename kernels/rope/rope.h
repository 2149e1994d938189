// Rotary position embedding, applied in place to q and k given each token's position.
//
// Styles (the op takes the style; weights are never permuted at load):
//   kAdjacentPairs  GGUF / llama.cpp "normal": rotates (x[2i], x[2i+1])
//   kHalves         HF / NeoX: rotates (x[i], x[i + head_dim/2])
// Pair i turns by angle position * inv_freq[i]:  (a, b) -> (a cos - b sin, a sin + b cos).
// inv_freq [head_dim/2] is computed once per model on the host (RopeInvFreq, double precision,
// stored as float) and uploaded; both backends read the same table, so they agree to sin/cos
// rounding. Frequency scaling (linear, llama3) is folded into that table.
//
// QkNormRope fuses Qwen3's per-head RMSNorm of q and k (weights [head_dim], shared by heads)
// with the rotation: one read and one write of each head.
//
// q, k are row-strided views: token t's heads start at q + t * q_token_stride (so q and k can be
// column ranges of a fused QKV output). Only full rotary (rotary_dim == head_dim) is supported.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/core/dtype.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"
#include "kernels/rope/rope_types.h"

namespace hearth {

struct RopeConfig {
  int head_dim = 0;
  float theta = 10000.f;
  RopeStyle style = RopeStyle::kHalves;
  RopeScaling scaling = {};
  // kFreqFactors: inv_freq[i] is divided by freq_factors[i] (each > 0), [head_dim / 2].
  const float* freq_factors = nullptr;
};

// inv_freq[i] = theta^(-2i/head_dim), then scaled: linear divides by factor; llama3 divides
// long wavelengths (> original_max / low_freq_factor) by factor, keeps short ones
// (< original_max / high_freq_factor), and interpolates smoothly in between.
Result<std::vector<float>> RopeInvFreq(const RopeConfig& config);

// The access path of the CUDA ops: kVector16 (block per token, 16-byte accesses, cos/sin shared
// by the token's heads) when q and k are 16-byte aligned with 16-byte-multiple token strides,
// else kScalar (warp per head, one element per access). Pure.
AccessPath ChooseRopePath(DType dtype, const void* q, int64_t q_token_stride, const void* k,
                          int64_t k_token_stride);

// The CUDA kernel a call runs (pure; the launcher switches on it):
//   kVector        head_dim 64, 128, 256 (compiled sizes) on the kVector16 path;
//   kWarpPerHead   the same sizes on the kScalar path;
//   kThreadPerHead any other even head_dim up to 256 (the tiny validation models' 8, 16, 32):
//                  one thread walks a head's pairs (slow; validation models only);
//   kUnsupported   odd, non-positive or above 256: the op returns an error.
enum class RopeGpuKernel : uint8_t { kVector, kWarpPerHead, kThreadPerHead, kUnsupported };
inline constexpr int kRopeMaxGpuHeadDim = 256;
RopeGpuKernel SelectRopeGpuKernel(int head_dim, AccessPath path);
const char* RopeGpuKernelName(RopeGpuKernel kernel);

// Threads per block of the vector path: head_dim / 2 / (16 / elem_bytes) threads per head, one
// round over all heads where that fits in 512 threads, rounded up to a warp. Pure.
int RopeVecThreads(int head_dim, int elem_bytes, int num_heads_total);

// ---- CPU twins (float32) ---------------------------------------------------------------------
Status RopeCpu(RopeStyle style, int head_dim,
               const float* inv_freq,     // [head_dim / 2]
               const int32_t* positions,  // [num_tokens]
               int64_t num_tokens,
               float* q,  // [num_tokens, num_heads, head_dim], row q_token_stride
               int64_t q_token_stride, int num_heads,
               float* k,  // [num_tokens, num_kv_heads, head_dim], row k_token_stride
               int64_t k_token_stride, int num_kv_heads);

Status QkNormRopeCpu(RopeStyle style, int head_dim, const float* inv_freq, const int32_t* positions,
                     int64_t num_tokens, float* q, int64_t q_token_stride, int num_heads, float* k,
                     int64_t k_token_stride, int num_kv_heads,
                     const float* q_norm_weight,  // [head_dim]
                     const float* k_norm_weight,  // [head_dim]
                     float eps);

// ---- CUDA (device pointers; q, k in `dtype`: F32, F16 or BF16; inv_freq, weights float32) ----
Status Rope(DType dtype, RopeStyle style, int head_dim, const float* inv_freq,
            const int32_t* positions, int64_t num_tokens, void* q, int64_t q_token_stride,
            int num_heads, void* k, int64_t k_token_stride, int num_kv_heads, cudaStream_t stream);

Status QkNormRope(DType dtype, RopeStyle style, int head_dim, const float* inv_freq,
                  const int32_t* positions, int64_t num_tokens, void* q, int64_t q_token_stride,
                  int num_heads, void* k, int64_t k_token_stride, int num_kv_heads,
                  const float* q_norm_weight, const float* k_norm_weight, float eps,
                  cudaStream_t stream);

}  // namespace hearth
