// Device helpers shared by the attention kernels: 8-element vector loads of the activation types
// and float conversions. Internal to kernels/attention.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/core/vec.cuh"

namespace hearth::attention::device {

constexpr float kLog2e = 1.4426950408889634f;

// dtype <-> float conversions are the shared ones of kernels/core/vec.cuh.
using ::hearth::cuda::FromFloat;
using ::hearth::cuda::ToFloat;

// Eight consecutive elements of T as raw bits: one 16-byte load for 16-bit types, two for fp32.
template <class T>
struct Vec8 {
  static constexpr int kWords = sizeof(T) * 8 / 16;  // 16-byte words
  uint4 w[kWords];

  __device__ __forceinline__ void Load(const T* p) {  // p 16-byte aligned
#pragma unroll
    for (int i = 0; i < kWords; ++i) w[i] = __ldg(reinterpret_cast<const uint4*>(p) + i);
  }
  __device__ __forceinline__ void Zero() {
#pragma unroll
    for (int i = 0; i < kWords; ++i) w[i] = make_uint4(0, 0, 0, 0);
  }
  __device__ __forceinline__ void ToFloats(float (&f)[8]) const;
};

template <>
__device__ __forceinline__ void Vec8<float>::ToFloats(float (&f)[8]) const {
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    f[4 * i + 0] = __uint_as_float(w[i].x);
    f[4 * i + 1] = __uint_as_float(w[i].y);
    f[4 * i + 2] = __uint_as_float(w[i].z);
    f[4 * i + 3] = __uint_as_float(w[i].w);
  }
}

template <>
__device__ __forceinline__ void Vec8<__nv_bfloat16>::ToFloats(float (&f)[8]) const {
  const uint32_t u[4] = {w[0].x, w[0].y, w[0].z, w[0].w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i + 0] = __uint_as_float(u[i] << 16);
    f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
  }
}

template <>
__device__ __forceinline__ void Vec8<__half>::ToFloats(float (&f)[8]) const {
  const uint32_t u[4] = {w[0].x, w[0].y, w[0].z, w[0].w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    __half2 h;
    memcpy(&h, &u[i], 4);
    const float2 x = __half22float2(h);
    f[2 * i + 0] = x.x;
    f[2 * i + 1] = x.y;
  }
}

}  // namespace hearth::attention::device
