// Dequantization of GGUF weight data (any type in blocks.h, plus F32/F16/BF16) to float32 on the
// CPU, and to float32/bf16/fp16 on the GPU. Bit-exact with ggml's reference dequantizers.
#pragma once

#include <cstdint>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"

namespace hearth {

// dst[num_elems] = the values of `src` (num_elems / block_elems blocks of `type`).
// Errors: num_elems not a whole number of blocks, a non-weight type, null pointers.
Status DequantizeCpu(DType type,
                     const void* src,  // [num_elems / block_elems] blocks
                     float* dst,       // [num_elems]
                     int64_t num_elems);

// The same on the device; `out_type` is F32 (bit-identical to DequantizeCpu), BF16 or F16 (the
// float32 value rounded to nearest even). src and dst are device pointers.
Status DequantizeGpu(DType type,
                     const void* src,  // [num_elems / block_elems] blocks
                     DType out_type,
                     void* dst,  // [num_elems] of out_type
                     int64_t num_elems, cudaStream_t stream);

}  // namespace hearth
