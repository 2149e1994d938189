// The case table of SiLU-and-multiply (tests against the CPU twin and the benchmark).
#pragma once

#include <cstdint>

namespace hearth::activation_cases {

struct SiluMulCase {
  int64_t num_tokens;
  int ffn;
};

// Intermediate sizes of real models (SmolLM2 1536, Llama-3.2-1B 8192, Llama-3-8B 14336,
// Qwen3-8B 12288), odd ones that take the scalar path, and the tiny validation models' (128, and
// stories260K's 172: 16-byte rows in fp32, 344-byte rows, so scalar, in bf16/fp16).
inline constexpr int kFfns[] = {1536, 769, 5125, 8192, 12288, 14336, 128, 172};
inline constexpr int64_t kTokenCounts[] = {1, 7, 64, 512};

inline constexpr SiluMulCase kBenchCases[] = {
    {1, 14336}, {64, 14336}, {512, 14336}, {4096, 14336}, {16384, 8192}, {16384, 14336},
};

inline double Tolerance(int dtype_bytes, bool bf16) {
  return dtype_bytes == 4 ? 1e-5 : (bf16 ? 1e-2 : 2e-3);
}

}  // namespace hearth::activation_cases
