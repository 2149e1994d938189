// Row gathers: the embedding lookup (token ids -> rows of the embedding table) and the gather of
// the hidden rows that sample (the last token of each sequence) before the LM head.
//
// Embedding tables are F32, F16 or BF16 here. Quantized GGUF tables (Q8_0, Q4_K, ...) are
// dequantized row-wise by kernels/quant (the matmul helper's code); this op does not read them.
// Out-of-range ids: the CPU twin returns OutOfRange; the CUDA kernel cannot report per element,
// so it writes a zero row (the engine validates ids when a request is admitted).
#pragma once

#include <cstdint>

#include "kernels/core/dtype.h"
#include "kernels/core/launch.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"

namespace hearth {

// ---- CPU twins (float32 output) --------------------------------------------------------------
// `table_dtype` F32, F16 or BF16; the table is host memory.
Status EmbeddingCpu(DType table_dtype, const void* table,  // [vocab, hidden]
                    int64_t vocab, int hidden,
                    const int32_t* ids,  // [num_tokens]
                    int64_t num_tokens,
                    float* out);  // [num_tokens, hidden]

Status GatherRowsCpu(const float* x,  // [num_tokens, hidden]
                     int64_t num_tokens, int hidden,
                     const int32_t* indices,  // [num_rows], each in [0, num_tokens)
                     int64_t num_rows,
                     float* out);  // [num_rows, hidden]

// ---- CUDA (device pointers) ------------------------------------------------------------------
// Table in `table_dtype`, output in `out_dtype` (each F32, F16 or BF16; converted through f32).
Status Embedding(DType table_dtype, const void* table,  // [vocab, hidden]
                 int64_t vocab, int hidden,
                 const int32_t* ids,  // [num_tokens]
                 int64_t num_tokens, DType out_dtype,
                 void* out,  // [num_tokens, hidden]
                 cudaStream_t stream);

// Same dtype in and out; indices out of [0, num_tokens) give zero rows.
Status GatherRows(DType dtype, const void* x,  // [num_tokens, hidden]
                  int64_t num_tokens, int hidden,
                  const int32_t* indices,  // [num_rows]
                  int64_t num_rows,
                  void* out,  // [num_rows, hidden]
                  cudaStream_t stream);

// Vector path iff both rows are whole 16-byte vectors and both pointers are 16-byte aligned.
AccessPath ChooseEmbeddingPath(DType table_dtype, DType out_dtype, int hidden, const void* table,
                               const void* out);

}  // namespace hearth
