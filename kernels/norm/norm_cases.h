// The case table of the norm ops: the GPU tests run every test case against the CPU twin, the
// benchmark runs the bench cases (chip-filling sizes included) against the copy ceiling.
#pragma once

#include <cstdint>

namespace hearth::norm_cases {

struct NormCase {
  int64_t num_tokens;
  int hidden;
};

// Odd sizes (769, 5125, 9001) take the scalar path; the rest are hidden sizes of real models and
// of the tiny validation models (64: fewer vectors than one warp's threads). 5125 and 9001 are
// long enough (6 and 9 scalars per thread) for the two-pass kernel, the rest use the
// register-cached one with depths 1, 2 and 4 (RmsNormRegisterVecs).
inline constexpr int kHiddens[] = {576, 769, 2048, 3072, 4096, 5120, 5125, 8192, 9001, 64};
inline constexpr int64_t kTokenCounts[] = {1, 7, 64, 512};

inline constexpr NormCase kBenchCases[] = {
    {1, 4096},    {64, 4096},    {512, 4096},   {4096, 4096}, {16384, 4096},
    {16384, 576}, {16384, 2048}, {16384, 8192}, {8192, 5120},
};

inline constexpr float kEps = 1e-6f;

// Relative L2 bound of GPU vs CPU twin by activation dtype (output rounding dominates).
inline double Tolerance(int dtype_bytes, bool bf16) {
  return dtype_bytes == 4 ? 1e-5 : (bf16 ? 1e-2 : 2e-3);
}

}  // namespace hearth::norm_cases
