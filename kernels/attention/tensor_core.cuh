// Device helpers of the tensor-core attention kernels (prefill_attention.cu,
// prefill_attention_wgmma.cu): ldmatrix, the fast exp2 and the Hopper warpgroup MMA (wgmma,
// sm_90a), plus the generic ones of kernels/core/mma_sync.cuh (cp.async, mma.sync, packing).
// Internal to kernels/attention.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/core/fast_math.cuh"
#include "kernels/core/mma_sync.cuh"

namespace hearth::attention::device {

using tc::CpAsync16;
using tc::CpAsyncCommit;
using tc::CpAsyncWait;
using tc::Mma;
using tc::Pack2;
using tc::SmemAddr;

__device__ __forceinline__ void LdMatrixX4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(p)));
}
__device__ __forceinline__ void LdMatrixX4Trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(p)));
}

// 2^x through the SFU (ex2.approx, ~2 ulp; 2^-inf = 0): the softmax runs on 16-bit inputs.
using ::hearth::cuda::FastExp2;

// ---- Warpgroup MMA (sm_90a) ----------------------------------------------------------------
// Shared-memory operands use the 128-byte swizzle: a tile is stored as [head_dim / 64 chunks]
// [rows][64 elements], each row 128 bytes, 8 rows forming a 1024-byte atom (1024-aligned), and
// the 16-byte piece j of row r stored at piece j ^ (r % 8). The hardware applies the same XOR
// to address bits [4, 7) from bits [7, 10), so a descriptor may start 32/64/96 bytes into a row
// to select a k-step of 16 elements.

// Byte offset of (row, 16-byte piece `piece` of the 64-element chunk) in a swizzled chunk.
__device__ __forceinline__ uint32_t Swizzle128(int row, int piece) {
  return static_cast<uint32_t>(row * 128 + ((piece ^ (row & 7)) << 4));
}

// Matrix descriptor of a 128-byte-swizzled operand at shared address `addr`: `stride_bytes`
// between groups of 8 rows (the stride dimension), `leading_bytes` the leading-dimension offset.
__device__ __forceinline__ uint64_t WgmmaDesc(uint32_t addr, uint32_t leading_bytes,
                                              uint32_t stride_bytes) {
  uint64_t d = (addr & 0x3FFFFu) >> 4;
  d |= uint64_t{(leading_bytes >> 4) & 0x3FFFu} << 16;
  d |= uint64_t{(stride_bytes >> 4) & 0x3FFFu} << 32;
  d |= uint64_t{1} << 62;  // swizzle mode 1: 128-byte
  return d;
}

// Orders this thread's register and shared-memory accesses before the following wgmma.
__device__ __forceinline__ void WgmmaFence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void WgmmaCommit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void WgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// Generic-proxy shared-memory writes (cp.async, st.shared) made visible to the async proxy
// (wgmma operand reads); each writing thread runs it before the barrier.
__device__ __forceinline__ void FenceProxyAsyncShared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Keeps the compiler from moving accesses of `x` across a wgmma wait (accumulator registers).
__device__ __forceinline__ void PinRegister(float& x) { asm volatile("" : "+f"(x)::"memory"); }

// d[64 x 64] += A[64 x 16] * B[16 x 64], f32 accumulators in the wgmma D layout (per warp w of
// the warpgroup, rows 16w + lane/4 (+8), n8 block j holding d[4j..4j+3]).
// SS: A and B both from shared memory, both K-major (the 16-element k extent contiguous).
template <class T>
__device__ __forceinline__ void WgmmaSS(float (&d)[32], uint64_t a_desc, uint64_t b_desc);
// RS, B transposed: A from registers (mma.sync m16n8k16 A layout per warp), B from shared
// memory N-major (the 64-element n extent contiguous, 16 k rows).
template <class T>
__device__ __forceinline__ void WgmmaRSTransB(float (&d)[32], const uint32_t (&a)[4],
                                              uint64_t b_desc);

template <>
__device__ __forceinline__ void WgmmaSS<__nv_bfloat16>(float (&d)[32], uint64_t a_desc,
                                                       uint64_t b_desc) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "%32, %33, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(a_desc), "l"(b_desc), "r"(1));
}

template <>
__device__ __forceinline__ void WgmmaRSTransB<__nv_bfloat16>(float (&d)[32], const uint32_t (&a)[4],
                                                             uint64_t b_desc) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_desc), "r"(1));
}

template <>
__device__ __forceinline__ void WgmmaSS<__half>(float (&d)[32], uint64_t a_desc, uint64_t b_desc) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "%32, %33, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(a_desc), "l"(b_desc), "r"(1));
}

template <>
__device__ __forceinline__ void WgmmaRSTransB<__half>(float (&d)[32], const uint32_t (&a)[4],
                                                      uint64_t b_desc) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_desc), "r"(1));
}

}  // namespace hearth::attention::device
