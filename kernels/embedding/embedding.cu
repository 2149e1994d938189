#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/core/vec.cuh"
#include "kernels/embedding/embedding.h"

namespace hearth {
namespace embedding_kernels {

using cuda::FromFloat;
using cuda::ToFloat;
using cuda::Vec;

// One block per output row: out[r] = table[ids[r]], converted from TIn to TOut through float;
// a zero row where ids[r] is outside [0, vocab).
template <class TIn, class TOut, int N>
__global__ void GatherKernel(const TIn* __restrict__ table, int64_t vocab, int hidden,
                             const int32_t* __restrict__ ids, TOut* __restrict__ out) {
  cuda::PdlBegin();
  const int64_t r = blockIdx.x;
  const int32_t id = ids[r];
  const bool valid = id >= 0 && id < vocab;
  const TIn* src = table + (valid ? int64_t{id} * hidden : 0);
  TOut* dst = out + r * hidden;
  for (int i = threadIdx.x * N; i < hidden; i += blockDim.x * N) {
    Vec<TOut, N> o;
    if (valid) {
      const Vec<TIn, N> a = cuda::LoadVec<TIn, N>(src + i);
#pragma unroll
      for (int j = 0; j < N; ++j) o.v[j] = FromFloat<TOut>(ToFloat(a.v[j]));
    } else {
#pragma unroll
      for (int j = 0; j < N; ++j) o.v[j] = FromFloat<TOut>(0.f);
    }
    cuda::StoreVec<TOut, N>(dst + i, o);
  }
}

}  // namespace embedding_kernels

namespace {

template <class TIn, class TOut>
Status LaunchGather(const TIn* table, int64_t vocab, int hidden, const int32_t* ids,
                    int64_t num_rows, TOut* out, AccessPath path, cudaStream_t stream) {
  if (num_rows == 0) return Status::Ok();
  if (num_rows > 0x7fffffff) return InvalidArgumentError("embedding: too many rows");
  constexpr int kN = 16 / (sizeof(TIn) > sizeof(TOut) ? sizeof(TIn) : sizeof(TOut));
  const unsigned grid = static_cast<unsigned>(num_rows);
  switch (path) {
    case AccessPath::kVector16:
      CUDA_CHECK(cuda::LaunchKernel(embedding_kernels::GatherKernel<TIn, TOut, kN>, grid,
                                    RowThreads(hidden / kN), 0, stream, table, vocab, hidden, ids,
                                    out));
      break;
    case AccessPath::kScalar:
      CUDA_CHECK(cuda::LaunchKernel(embedding_kernels::GatherKernel<TIn, TOut, 1>, grid,
                                    RowThreads(hidden), 0, stream, table, vocab, hidden, ids, out));
      break;
    default:
      return UnimplementedError("embedding: unsupported access path");
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

template <class TIn>
Status DispatchOut(const TIn* table, int64_t vocab, int hidden, const int32_t* ids,
                   int64_t num_rows, DType out_dtype, void* out, AccessPath path,
                   cudaStream_t stream) {
  switch (out_dtype) {
    case DType::kF32:
      return LaunchGather(table, vocab, hidden, ids, num_rows, static_cast<float*>(out), path,
                          stream);
    case DType::kF16:
      return LaunchGather(table, vocab, hidden, ids, num_rows, static_cast<__half*>(out), path,
                          stream);
    case DType::kBF16:
      return LaunchGather(table, vocab, hidden, ids, num_rows, static_cast<__nv_bfloat16*>(out),
                          path, stream);
    default:
      return UnimplementedError("embedding: unsupported output dtype " +
                                std::string(DTypeName(out_dtype)) + " (F32, F16, BF16)");
  }
}

Status GatherAdapter(const char* op, DType table_dtype, const void* table, int64_t vocab,
                     int hidden, const int32_t* ids, int64_t num_rows, DType out_dtype, void* out,
                     cudaStream_t stream) {
  if (vocab < 0 || hidden <= 0 || num_rows < 0)
    return InvalidArgumentError(std::string(op) + ": bad shape: rows " + std::to_string(vocab) +
                                ", hidden " + std::to_string(hidden) + ", gathered " +
                                std::to_string(num_rows));
  if (num_rows > 0 && (table == nullptr || ids == nullptr || out == nullptr))
    return InvalidArgumentError(std::string(op) + ": null pointer");
  const AccessPath path = ChooseEmbeddingPath(table_dtype, out_dtype, hidden, table, out);
  switch (table_dtype) {
    case DType::kF32:
      return DispatchOut(static_cast<const float*>(table), vocab, hidden, ids, num_rows, out_dtype,
                         out, path, stream);
    case DType::kF16:
      return DispatchOut(static_cast<const __half*>(table), vocab, hidden, ids, num_rows, out_dtype,
                         out, path, stream);
    case DType::kBF16:
      return DispatchOut(static_cast<const __nv_bfloat16*>(table), vocab, hidden, ids, num_rows,
                         out_dtype, out, path, stream);
    default:
      return UnimplementedError(
          std::string(op) + ": unsupported table dtype " + std::string(DTypeName(table_dtype)) +
          " (F32, F16, BF16; dequantize quantized tables with kernels/quant)");
  }
}

}  // namespace

Status Embedding(DType table_dtype, const void* table, int64_t vocab, int hidden,
                 const int32_t* ids, int64_t num_tokens, DType out_dtype, void* out,
                 cudaStream_t stream) {
  return GatherAdapter("embedding", table_dtype, table, vocab, hidden, ids, num_tokens, out_dtype,
                       out, stream);
}

Status GatherRows(DType dtype, const void* x, int64_t num_tokens, int hidden,
                  const int32_t* indices, int64_t num_rows, void* out, cudaStream_t stream) {
  return GatherAdapter("gather_rows", dtype, x, num_tokens, hidden, indices, num_rows, dtype, out,
                       stream);
}

}  // namespace hearth
