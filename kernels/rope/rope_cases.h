// The case table of the RoPE ops (tests against the CPU twin and the benchmark).
#pragma once

#include <cstdint>

#include "kernels/rope/rope.h"

namespace hearth::rope_cases {

struct RopeCase {
  const char* model;
  int num_heads;
  int num_kv_heads;
  int head_dim;
  RopeStyle style;
  RopeScaling scaling;
  float theta;
};

inline constexpr RopeScaling kLlama31Scaling{RopeScalingType::kLlama3, 8.0, 1.0, 4.0, 8192};
// tests/data/tiny-llama3's: llama3 scaling over a short original context.
inline constexpr RopeScaling kTinyLlama3Scaling{RopeScalingType::kLlama3, 8.0, 1.0, 4.0, 64};

inline constexpr RopeCase kModels[] = {
    {"smollm2_135m_gguf", 9, 3, 64, RopeStyle::kAdjacentPairs, {}, 100000.f},
    {"llama3_8b_hf", 32, 8, 128, RopeStyle::kHalves, kLlama31Scaling, 500000.f},
    {"llama3_8b_gguf", 32, 8, 128, RopeStyle::kAdjacentPairs, kLlama31Scaling, 500000.f},
    {"qwen3_8b_hf", 32, 8, 128, RopeStyle::kHalves, {}, 1000000.f},
    {"gemma_like", 8, 4, 256, RopeStyle::kHalves, {}, 10000.f},
    // The tiny validation models (thread-per-head kernel): stories260K (GGUF, head_dim 8),
    // tiny-llama3 (16), tiny-qwen3 (32).
    {"stories260k_gguf", 8, 4, 8, RopeStyle::kAdjacentPairs, {}, 10000.f},
    {"tiny_llama3_hf", 4, 2, 16, RopeStyle::kHalves, kTinyLlama3Scaling, 500000.f},
    {"tiny_qwen3_hf", 4, 2, 32, RopeStyle::kHalves, {}, 1000000.f},
};

inline constexpr int64_t kTokenCounts[] = {1, 7, 64, 512};
inline constexpr int64_t kBenchTokenCounts[] = {1, 64, 512, 4096, 16384};
inline constexpr int kMaxPosition = 8192;  // positions drawn from [0, kMaxPosition)

inline double Tolerance(int dtype_bytes, bool bf16) {
  return dtype_bytes == 4 ? 2e-5 : (bf16 ? 1e-2 : 2e-3);
}

}  // namespace hearth::rope_cases
