// A small CPU emulation of the CUDA features our kernels use, so that their real sources (the
// sampler's, sampler_kernel_emulation_test; the direct GEMV's, gemv_direct_emulation_test) run in
// CPU tests: one OS thread per CUDA thread of a block (blocks run one after another),
// std::barrier for __syncthreads and __syncwarp, a per-warp exchange for the shuffles (and
// __reduce_max_sync, __any_sync, __ballot_sync), one mutex for the atomics, host math for the fast
// intrinsics.
// It checks the kernel's logic (scans, selections, fallbacks, races), not its timing. A missing
// __syncthreads or __syncwarp may go unnoticed in a plain run, as it may on a GPU; built with
// ThreadSanitizer (the tsan tree, scripts/test.sh) the emulation is a racecheck: the barriers and
// shuffles synchronize through std::barrier, which ThreadSanitizer sees, so two threads touching
// the same shared (or global) bytes, one of them writing, with no barrier between them, are
// reported as a data race with both source lines. Blind spots: the atomics share one mutex (an
// atomic orders more than on a GPU), and blocks run one after another (no race between blocks).
// Also: dynamic shared memory (SetDynamicSmem / DynamicSmem), 16-bit float types (Bf16, Half),
// vec.cuh's ToFloat / FromFloat for them and float, and the tensor-core helpers of
// kernels/core/mma_sync.cuh (hearth::tc): cp.async as a plain copy (so a missing wait goes
// unnoticed here too), mma.sync m16n8k16 through a per-warp exchange of the fragments in the PTX
// ISA's layout.
// Include before the kernel source; nothing else may include CUDA headers in that test.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "kernels/core/half.h"

// Device code that the emulation can run checks this where it would check __CUDACC__.
#define HEARTH_CUDA_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static  // one block at a time: a function-local static is the block's

struct EmulatedDim3 {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local EmulatedDim3 threadIdx, blockIdx;
inline EmulatedDim3 blockDim, gridDim;

namespace cuda_emulation {

struct Block {
  std::unique_ptr<std::barrier<>> block;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  uint64_t shfl[32][32] = {};
  uint32_t mma[32][32][6] = {};  // per warp and lane: an mma.sync's a[4], b0, b1
};
inline Block* current = nullptr;
inline std::mutex atomic_mu;

// The kernel's `extern __shared__` memory: one buffer (blocks run one at a time), filled with
// 0xFF bytes (NaN in every float format) at each Launch.
inline std::vector<uint8_t>& DynamicSmemBuffer() {
  static std::vector<uint8_t> buffer;
  return buffer;
}
inline void SetDynamicSmem(size_t bytes) { DynamicSmemBuffer().assign(bytes + 16, 0xFF); }
inline uint8_t* DynamicSmem() {  // 16-byte aligned
  uint8_t* p = DynamicSmemBuffer().data();
  return p + (16 - reinterpret_cast<uintptr_t>(p) % 16) % 16;
}

template <class T>
T Shuffle(T v, int src_lane) {
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31;
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  current->shfl[w][lane] = bits;
  current->warps[w]->arrive_and_wait();
  bits = current->shfl[w][src_lane];
  current->warps[w]->arrive_and_wait();  // every lane has read before the next write
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

// Runs kernel(args...) over a grid of blocks of `threads` threads (a multiple of 32), one block
// after another (x fastest, then y, then z) on a pool of `threads` OS threads started once per
// launch.
template <class Kernel, class... Args>
void Launch(EmulatedDim3 grid, int threads, Kernel kernel, Args... args) {
  blockDim.x = static_cast<unsigned>(threads);
  gridDim = grid;
  const unsigned grid_z = grid.z > 0 ? grid.z : 1;  // {x, y} and {x, y, 0} mean one layer
  const int num_blocks = static_cast<int>(grid.x * grid.y * grid_z);
  std::fill(DynamicSmemBuffer().begin(), DynamicSmemBuffer().end(), uint8_t{0xFF});
  auto b_owner = std::make_unique<Block>();  // ~40 KiB: not on the stack
  Block& b = *b_owner;
  b.block = std::make_unique<std::barrier<>>(threads);
  for (int w = 0; w < threads / 32; ++w) b.warps.push_back(std::make_unique<std::barrier<>>(32));
  current = &b;
  std::barrier<> start(threads + 1), done(threads + 1);
  std::atomic<int> block_id{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      threadIdx.x = static_cast<unsigned>(t);
      for (;;) {
        start.arrive_and_wait();
        const int id = block_id.load();
        if (id >= num_blocks) return;
        blockIdx.x = static_cast<unsigned>(id) % grid.x;
        blockIdx.y = static_cast<unsigned>(id) / grid.x % grid.y;
        blockIdx.z = static_cast<unsigned>(id) / (grid.x * grid.y);
        kernel(args...);
        done.arrive_and_wait();
      }
    });
  }
  for (int id = 0; id <= num_blocks; ++id) {
    block_id.store(id);
    start.arrive_and_wait();
    if (id < num_blocks) done.arrive_and_wait();
  }
  for (std::thread& t : pool) t.join();
  current = nullptr;
}

}  // namespace cuda_emulation

inline void __syncthreads() { cuda_emulation::current->block->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) {
  cuda_emulation::current->warps[threadIdx.x >> 5]->arrive_and_wait();
}
template <class T>
T __shfl_xor_sync(unsigned, T v, int o) {
  return cuda_emulation::Shuffle(v, static_cast<int>(threadIdx.x & 31) ^ o);
}
template <class T>
T __shfl_sync(unsigned, T v, int src_lane) {
  return cuda_emulation::Shuffle(v, src_lane & 31);
}
template <class T>
T __shfl_up_sync(unsigned, T v, int o) {
  const int lane = threadIdx.x & 31;
  return cuda_emulation::Shuffle(v, lane >= o ? lane - o : lane);
}
template <class T>
T __shfl_down_sync(unsigned, T v, int o) {
  const int lane = threadIdx.x & 31;
  return cuda_emulation::Shuffle(v, lane + o < 32 ? lane + o : lane);
}
// redux.sync's max over the 32 lanes (every lane must call it, as with the full mask on a GPU).
template <class T>  // int or unsigned
T __reduce_max_sync(unsigned, T v) {
  T m = v;
  for (int o = 16; o > 0; o >>= 1) m = std::max(m, __shfl_xor_sync(0xffffffffu, m, o));
  return m;
}
inline bool __any_sync(unsigned, bool p) {
  return __reduce_max_sync(0xffffffffu, static_cast<unsigned>(p)) != 0u;
}
inline unsigned __ballot_sync(unsigned, bool p) {  // every lane must call it (full mask)
  unsigned v = p ? 1u << (threadIdx.x & 31) : 0u;
  for (int o = 16; o > 0; o >>= 1) v |= __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
inline int __ffs(unsigned x) { return x == 0u ? 0 : __builtin_ctz(x) + 1; }
namespace cuda_emulation {
// Every atomic: *p = f(*p) under the one mutex, returning the old value.
template <class T, class F>
T AtomicUpdate(T* p, F f) {
  std::lock_guard<std::mutex> l(atomic_mu);
  const T old = *p;
  *p = f(old);
  return old;
}
}  // namespace cuda_emulation
template <class T>
T atomicAdd(T* p, T v) {
  return cuda_emulation::AtomicUpdate(p, [v](T o) { return o + v; });
}
template <class T>
T atomicMin(T* p, T v) {
  return cuda_emulation::AtomicUpdate(p, [v](T o) { return std::min(o, v); });
}
template <class T>
T atomicMax(T* p, T v) {
  return cuda_emulation::AtomicUpdate(p, [v](T o) { return std::max(o, v); });
}
template <class T>
T atomicOr(T* p, T v) {
  return cuda_emulation::AtomicUpdate(p, [v](T o) { return o | v; });
}
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline uint32_t __float_as_uint(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __uint_as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline int __float_as_int(float f) { return static_cast<int>(__float_as_uint(f)); }
inline float __int_as_float(int i) { return __uint_as_float(static_cast<uint32_t>(i)); }
// 16-byte vector types and the read-only load (memcpy: kernels load them from byte buffers).
struct alignas(16) uint4 {
  uint32_t x, y, z, w;
};
struct alignas(8) uint2 {
  uint32_t x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
template <class T>
T __ldg(const T* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
using std::max;
using std::min;

// ---- 16-bit floats and the tensor-core helpers (kernels/core/mma_sync.cuh) -------------------
namespace cuda_emulation {
struct Bf16 {
  uint16_t bits;
};
struct Half {
  uint16_t bits;
};
inline float BitsToFloat(Bf16, uint16_t h) { return hearth::Bf16ToFloat(h); }
inline float BitsToFloat(Half, uint16_t h) { return hearth::Fp16ToFloat(h); }
inline uint16_t FloatToBits(Bf16, float f) { return hearth::FloatToBf16(f); }
inline uint16_t FloatToBits(Half, float f) { return hearth::FloatToFp16(f); }
}  // namespace cuda_emulation

// kernels/core/vec.cuh's activation conversions, for the emulated activation types.
namespace hearth::cuda {
inline float ToFloat(float x) { return x; }
inline float ToFloat(cuda_emulation::Bf16 v) { return Bf16ToFloat(v.bits); }
inline float ToFloat(cuda_emulation::Half v) { return Fp16ToFloat(v.bits); }
template <class T>
inline T FromFloat(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    return T{cuda_emulation::FloatToBits(T{}, x)};
  }
}
}  // namespace hearth::cuda

namespace hearth::tc {
inline void CpAsync16(void* dst, const void* src, int src_bytes) {
  auto* d = static_cast<uint8_t*>(dst);
  std::memcpy(d, src, static_cast<size_t>(src_bytes));
  std::memset(d + src_bytes, 0, static_cast<size_t>(16 - src_bytes));
}
inline void CpAsync16(void* dst, const void* src, bool valid) {
  CpAsync16(dst, src, valid ? 16 : 0);
}
inline void CpAsyncCommit() {}
template <int kPending>
void CpAsyncWait() {}

template <class T>
uint32_t Pack2(float lo, float hi) {
  return static_cast<uint32_t>(cuda_emulation::FloatToBits(T{}, lo)) |
         static_cast<uint32_t>(cuda_emulation::FloatToBits(T{}, hi)) << 16;
}

// d += A * B for one m16n8k16 tile, every lane of the warp calling it (mma_sync.cuh has the
// fragment layout). Each output is d + the 16 products added in k order, in float.
template <class T>
void Mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  using cuda_emulation::current;
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31;
  uint32_t* mine = current->mma[w][lane];
  for (int i = 0; i < 4; ++i) mine[i] = a[i];
  mine[4] = b0;
  mine[5] = b1;
  current->warps[w]->arrive_and_wait();
  const auto half_of = [](uint32_t reg, int i) { return static_cast<uint16_t>(reg >> (16 * i)); };
  // A[r][c]: register (r / 8) + 2 (c / 8) of lane 4 (r % 8) + (c % 8) / 2, half c % 2.
  const auto a_at = [&](int r, int c) {
    const uint32_t reg = current->mma[w][4 * (r % 8) + (c % 8) / 2][r / 8 + 2 * (c / 8)];
    return cuda_emulation::BitsToFloat(T{}, half_of(reg, c % 2));
  };
  // B[k][n] = B^T[n][k]: b0 (k < 8) or b1 of lane 4n + (k % 8) / 2, half k % 2.
  const auto b_at = [&](int k, int n) {
    const uint32_t reg = current->mma[w][4 * n + (k % 8) / 2][4 + k / 8];
    return cuda_emulation::BitsToFloat(T{}, half_of(reg, k % 2));
  };
  const int g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; ++i) {
    const int r = g + 8 * (i / 2), n = 2 * t + i % 2;
    float acc = d[i];
    for (int k = 0; k < 16; ++k) acc += a_at(r, k) * b_at(k, n);
    d[i] = acc;
  }
  current->warps[w]->arrive_and_wait();  // every lane has read before the next write
}
}  // namespace hearth::tc
