// The matmul case table shared by the CPU test, the GPU test and the benchmark.
#pragma once

#include "kernels/core/dtype.h"

namespace hearth::testing {

inline constexpr DType kMatmulWeightTypes[] = {
    DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
    DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K,
    DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

struct MatmulShape {
  int n;  // output features (rows of W)
  int k;  // input features
};
// Odd row counts on purpose; k a multiple of 256 so that every type applies.
inline constexpr MatmulShape kMatmulTestShapes[] = {{769, 512}, {64, 1280}, {5, 256}};

// Float weights at the tiny validation models' sizes (stories260K: hidden 64, ffn 172, fused
// gate/up 344) and an odd small one: F32 rows of k = 172 or 13 take the scalar GEMV, bf16/fp16
// cuBLASLt with leading dimensions that are not multiples of 16 bytes (172 x 2 = 344 bytes).
inline constexpr DType kMatmulFloatWeightTypes[] = {DType::kF32, DType::kF16, DType::kBF16};
inline constexpr MatmulShape kMatmulSmallModelShapes[] = {{64, 172}, {172, 64}, {344, 64}, {7, 13}};

}  // namespace hearth::testing
