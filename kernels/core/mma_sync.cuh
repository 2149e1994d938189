// Device helpers shared by the tensor-core kernels (attention prefill, the quantized matmul's
// fused dequantize + MMA): cp.async into shared memory, mma.sync m16n8k16 with fp32
// accumulation, and packing two floats into one 16-bit pair register.
//
// Fragment layout of mma.sync.m16n8k16.row.col (PTX ISA, "Matrix Fragments for mma.m16n8k16"),
// per lane with g = lane / 4, t = lane % 4; each register holds two consecutive 16-bit values,
// the lower index in the low half:
//   A (16 x 16, row-major):  a[0] = A[g][2t..2t+1],     a[1] = A[g + 8][2t..2t+1],
//                            a[2] = A[g][2t + 8..+9],   a[3] = A[g + 8][2t + 8..+9]
//   B (16 x 8, "col": stored as B^T, 8 rows of 16):  b0 = B^T[g][2t..2t+1], b1 = B^T[g][2t + 8..+9]
//   C, D (16 x 8, f32):      d[0..1] = D[g][2t..2t+1],  d[2..3] = D[g + 8][2t..2t+1]
// tests/support/cuda_block_emulation.h implements the same layout on the CPU.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace hearth::tc {

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy of src_bytes (0..16) bytes from src, the rest of the 16 zero-filled; src
// and dst 16-byte aligned. src_bytes = 0 reads nothing.
__device__ __forceinline__ void CpAsync16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(SmemAddr(dst)), "l"(src),
               "r"(src_bytes));
}
__device__ __forceinline__ void CpAsync16(void* dst, const void* src, bool valid) {
  CpAsync16(dst, src, valid ? 16 : 0);
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most kPending of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// d += a * b for one m16n8k16 tile.
template <class T>
__device__ __forceinline__ void Mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1);
template <>
__device__ __forceinline__ void Mma<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4],
                                                   uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void Mma<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                            uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as one register of two 16-bit values (round to nearest even), the first in the low
// half.
template <class T>
__device__ __forceinline__ uint32_t Pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t Pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t Pack2<__half>(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

}  // namespace hearth::tc
