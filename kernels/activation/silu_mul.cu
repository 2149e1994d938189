#include <string>

#include "kernels/activation/silu_mul.h"
#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/core/vec.cuh"

namespace hearth {
namespace activation_kernels {

using cuda::FromFloat;
using cuda::ToFloat;
using cuda::Vec;

// Grid (num_tokens, ceil(ffn / (N * blockDim.x))): each thread one N-element access of one row.
template <class T, int N>
__global__ void SiluMulKernel(const T* __restrict__ gate, int64_t gate_stride,
                              const T* __restrict__ up, int64_t up_stride, T* __restrict__ out,
                              int ffn) {
  cuda::PdlBegin();
  const int64_t t = blockIdx.x;
  const int i = (blockIdx.y * blockDim.x + threadIdx.x) * N;
  if (i >= ffn) return;
  const Vec<T, N> g = cuda::LoadVec<T, N>(gate + t * gate_stride + i);
  const Vec<T, N> u = cuda::LoadVec<T, N>(up + t * up_stride + i);
  Vec<T, N> o;
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const float gf = ToFloat(g.v[j]);
    o.v[j] = FromFloat<T>(gf / (1.f + __expf(-gf)) * ToFloat(u.v[j]));
  }
  cuda::StoreVec<T, N>(out + t * int64_t{ffn} + i, o);
}

}  // namespace activation_kernels

namespace {

constexpr int kThreads = 256;

template <class T>
Status LaunchSiluMul(const T* gate, int64_t gate_stride, const T* up, int64_t up_stride, T* out,
                     int64_t num_tokens, int ffn, AccessPath path, cudaStream_t stream) {
  if (num_tokens == 0) return Status::Ok();
  if (num_tokens > 0x7fffffff) return InvalidArgumentError("silu_mul: too many tokens");
  constexpr int kN = cuda::kVec16<T>;
  switch (path) {
    case AccessPath::kVector16: {
      const dim3 grid(static_cast<unsigned>(num_tokens), (ffn / kN + kThreads - 1) / kThreads);
      CUDA_CHECK(cuda::LaunchKernel(activation_kernels::SiluMulKernel<T, kN>, grid, kThreads, 0,
                                    stream, gate, gate_stride, up, up_stride, out, ffn));
      break;
    }
    case AccessPath::kScalar: {
      const dim3 grid(static_cast<unsigned>(num_tokens), (ffn + kThreads - 1) / kThreads);
      CUDA_CHECK(cuda::LaunchKernel(activation_kernels::SiluMulKernel<T, 1>, grid, kThreads, 0,
                                    stream, gate, gate_stride, up, up_stride, out, ffn));
      break;
    }
    default:
      return UnimplementedError("silu_mul: unsupported access path");
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

}  // namespace

Status SiluMul(DType dtype, const void* gate, int64_t gate_stride, const void* up,
               int64_t up_stride, void* out, int64_t num_tokens, int ffn, cudaStream_t stream) {
  if (num_tokens < 0 || ffn <= 0 || gate_stride < ffn || up_stride < ffn)
    return InvalidArgumentError("silu_mul: bad shape: num_tokens " + std::to_string(num_tokens) +
                                ", ffn " + std::to_string(ffn) + ", strides " +
                                std::to_string(gate_stride) + "/" + std::to_string(up_stride));
  if (num_tokens > 0 && (gate == nullptr || up == nullptr || out == nullptr))
    return InvalidArgumentError("silu_mul: null pointer");
  const AccessPath path = ChooseSiluMulPath(dtype, ffn, gate_stride, up_stride, gate, up, out);
  switch (dtype) {
    case DType::kF32:
      return LaunchSiluMul(static_cast<const float*>(gate), gate_stride,
                           static_cast<const float*>(up), up_stride, static_cast<float*>(out),
                           num_tokens, ffn, path, stream);
    case DType::kF16:
      return LaunchSiluMul(static_cast<const __half*>(gate), gate_stride,
                           static_cast<const __half*>(up), up_stride, static_cast<__half*>(out),
                           num_tokens, ffn, path, stream);
    case DType::kBF16:
      return LaunchSiluMul(static_cast<const __nv_bfloat16*>(gate), gate_stride,
                           static_cast<const __nv_bfloat16*>(up), up_stride,
                           static_cast<__nv_bfloat16*>(out), num_tokens, ffn, path, stream);
    default:
      return UnimplementedError("silu_mul: unsupported activation dtype " +
                                std::string(DTypeName(dtype)) + " (F32, F16, BF16)");
  }
}

Status SiluMulConcat(DType dtype, const void* gate_up, void* out, int64_t num_tokens, int ffn,
                     cudaStream_t stream) {
  const char* up =
      static_cast<const char*>(gate_up) + int64_t{ffn} * GetDTypeInfo(dtype).block_bytes;
  return SiluMul(dtype, gate_up, 2 * int64_t{ffn}, up, 2 * int64_t{ffn}, out, num_tokens, ffn,
                 stream);
}

}  // namespace hearth
