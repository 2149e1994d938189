// Internal to MatmulCpu: its AVX2 + F16C kernels (matmul_cpu_avx2.cc), the 16-sum combine every
// path shares, and the argument check MatmulCpuInt8 shares. On other CPUs CpuHasAvx2F16c()
// (kernels/core/cpu_features.h) is false and the kernels are never called.
#pragma once

#include <cstdint>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth::matmul_cpu {

// The argument check both CPU matmuls (MatmulCpu, MatmulCpuInt8) make before their parallel
// region: shapes, k a whole number of w_type's blocks, pointers, the type known.
Status CheckArgs(DType w_type, const void* w, const float* x, float* y, int num_tokens, int n,
                 int k);

// Dot()'s final step: partial sums 0..15 combined pairwise (8 + 8, 4 + 4, 2 + 2, 1 + 1).
inline float SumPairwise16(float acc[16]) {
  for (int w = 8; w >= 1; w /= 2) {
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  }
  return acc[0];
}

// y[t][r] += bias[r] for rows r0 .. r_end of every token (nothing for a null bias): after the
// dots, as the last float32 operation of every CPU path.
inline void AddBias(const float* bias, int num_tokens, int64_t n, int r0, int r_end, float* y) {
  if (bias == nullptr) return;
  for (int t = 0; t < num_tokens; ++t) {
    float* yt = y + t * n;
    for (int r = r0; r < r_end; ++r) yt[r] += bias[r];
  }
}

// Rows of any quantized type, F16 or BF16 decoded to floats, bit for bit as DequantizeCpu would;
// false (nothing written) for the other types.
bool DecodeAvx2(DType type, const uint8_t* src, float* dst, int64_t num_elems);

// y[t * y_stride + r] = Dot(w row r, x row t) for r < num_rows, t < num_tokens, with up to
// max_token_group tokens (1..3) sharing each loaded weight vector.
void DotsAvx2(const float* w,  // [num_rows, k] (decoded)
              int num_rows,
              const float* x,  // [num_tokens, k]
              int num_tokens, int k, int max_token_group, int64_t y_stride, float* y);

// y[t * y_stride + r] for rows r0 .. r_end of every token, each block of W decoded in registers
// straight into the dots (quantized types, k a multiple of the block), max_token_group (1..3)
// tokens sharing each decoded block.
using FusedRowsFn = void (*)(const uint8_t* w, int64_t row_bytes, const float* x, int num_tokens,
                             int k, int max_token_group, int r0, int r_end, int64_t y_stride,
                             float* y);
// The fused kernel of a quantized type, or null (F32, F16, BF16).
FusedRowsFn FusedRowsFor(DType type);

}  // namespace hearth::matmul_cpu
