// Device helpers shared by the elementwise and row kernels: dtype conversion to and from float,
// 16-byte vectors, warp and block reductions. Included by .cu files only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth::cuda {

template <class T>
__device__ __forceinline__ float ToFloat(T x);
template <>
__device__ __forceinline__ float ToFloat<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ float ToFloat<__half>(__half x) {
  return __half2float(x);
}
template <>
__device__ __forceinline__ float ToFloat<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <class T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half FromFloat<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// N elements moved as one aligned access (16 bytes when N = 16 / sizeof(T)).
template <class T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

template <class T>
constexpr int kVec16 = 16 / static_cast<int>(sizeof(T));

template <class T, int N>
__device__ __forceinline__ Vec<T, N> LoadVec(const T* p) {
  return *reinterpret_cast<const Vec<T, N>*>(p);
}
template <class T, int N>
__device__ __forceinline__ void StoreVec(T* p, const Vec<T, N>& v) {
  *reinterpret_cast<Vec<T, N>*>(p) = v;
}

__device__ __forceinline__ float WarpReduceSum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Sum over the block, returned to every thread. blockDim.x must be a multiple of 32.
__device__ __forceinline__ float BlockReduceSum(float x) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  x = WarpReduceSum(x);
  __syncthreads();  // partial[] may still be read by a previous call
  if (lane == 0) partial[warp] = x;
  __syncthreads();
  const int num_warps = blockDim.x >> 5;
  x = lane < num_warps ? partial[lane] : 0.f;
  return WarpReduceSum(x);
}

// The one switch over 16-bit activation types (host side): fn(__nv_bfloat16{}) for BF16,
// fn(__half{}) for F16, else an Unimplemented error naming `who`.
template <class Fn>
Status VisitAct16(DType act, const char* who, Fn&& fn) {
  switch (act) {
    case DType::kBF16:
      return fn(__nv_bfloat16{});
    case DType::kF16:
      return fn(__half{});
    default:
      return UnimplementedError(std::string(who) + ": activations must be BF16 or F16, got " +
                                std::string(DTypeName(act)));
  }
}

}  // namespace hearth::cuda
