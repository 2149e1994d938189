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

}  // namespace hearth::testing
