// SiLU-and-multiply, the gated MLP activation: out = silu(gate) * up, silu(g) = g / (1 + e^-g).
// Gate and up are taken as two row-strided views so that both layouts work:
//   concatenated (one [num_tokens, 2*ffn] matmul output, gate first):  gate = x, up = x + ffn,
//     gate_stride = up_stride = 2*ffn  (SiluMulConcat* below);
//   separate (two [num_tokens, ffn] outputs):  gate_stride = up_stride = ffn.
#pragma once

#include <cstdint>

#include "kernels/core/dtype.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"

namespace hearth {

// ---- CPU twins (float32) ---------------------------------------------------------------------
Status SiluMulCpu(const float* gate,  // [num_tokens, gate_stride], first ffn columns used
                  int64_t gate_stride,
                  const float* up,  // [num_tokens, up_stride], first ffn columns used
                  int64_t up_stride,
                  float* out,  // [num_tokens, ffn]
                  int64_t num_tokens, int ffn);
Status SiluMulConcatCpu(const float* gate_up,  // [num_tokens, 2*ffn]: gate then up
                        float* out,            // [num_tokens, ffn]
                        int64_t num_tokens, int ffn);

// ---- CUDA (device pointers in `dtype`: F32, F16 or BF16) -------------------------------------
Status SiluMul(DType dtype, const void* gate, int64_t gate_stride, const void* up,
               int64_t up_stride, void* out, int64_t num_tokens, int ffn, cudaStream_t stream);
Status SiluMulConcat(DType dtype, const void* gate_up,  // [num_tokens, 2*ffn]
                     void* out,                         // [num_tokens, ffn]
                     int64_t num_tokens, int ffn, cudaStream_t stream);

AccessPath ChooseSiluMulPath(DType dtype, int ffn, int64_t gate_stride, int64_t up_stride,
                             const void* gate, const void* up, const void* out);

}  // namespace hearth
