// The case table of the KV-cache ops (cache write and block copy): layouts of real models.
#pragma once

#include <cstdint>

namespace hearth::kv_cache_cases {

struct KvCase {
  int num_kv_heads;
  int head_dim;
  int block_size;
  int64_t num_tokens;  // tokens written (cache write) or block pairs (block copy)
};

// SmolLM2-135M (3 x 64), Llama-3-8B (8 x 128), Qwen3 (8 x 128), Gemma-like (4 x 256), an odd
// head_dim that forces the scalar path, and the tiny validation models: stories260K (4 x 8: one
// 16-byte vector per bf16/fp16 head, two per fp32 head), tiny-llama3 / qwen2 (2 x 16) and
// tiny-qwen3 (2 x 32).
inline constexpr KvCase kTestCases[] = {
    {3, 64, 16, 1},  {3, 64, 16, 7},  {8, 128, 16, 64}, {8, 128, 16, 512},
    {4, 256, 32, 7}, {2, 80, 16, 64}, {1, 76, 8, 7},    {8, 128, 1, 64},
    {4, 8, 16, 7},   {4, 8, 16, 300}, {2, 16, 16, 64},  {2, 32, 16, 7},
};

inline constexpr KvCase kBenchCases[] = {
    {8, 128, 16, 1},    {8, 128, 16, 64},    {8, 128, 16, 512},
    {8, 128, 16, 4096}, {8, 128, 16, 16384}, {3, 64, 16, 16384},
};

}  // namespace hearth::kv_cache_cases
