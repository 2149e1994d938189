// A small CPU emulation of the CUDA features our kernels use, so that their real sources (the
// sampler's, sampler_kernel_emulation_test; the direct GEMV's, gemv_direct_emulation_test) run in
// CPU tests: one OS thread per CUDA thread of a block
// (blocks run one after another), std::barrier for __syncthreads and __syncwarp, a per-warp
// exchange for the shuffles, one mutex for the atomics, host math for the fast intrinsics.
// It checks the kernel's logic (scans, selections, fallbacks, races), not its timing: a missing
// __syncthreads may go unnoticed here, as it may on a GPU; racecheck on a GPU covers that.
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
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
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
};
inline Block* current = nullptr;
inline std::mutex atomic_mu;

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
// after another (x fastest) on a pool of `threads` OS threads started once per launch.
template <class Kernel, class... Args>
void Launch(EmulatedDim3 grid, int threads, Kernel kernel, Args... args) {
  blockDim.x = static_cast<unsigned>(threads);
  gridDim = grid;
  const int num_blocks = static_cast<int>(grid.x * grid.y);
  Block b;
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
        blockIdx.y = static_cast<unsigned>(id) / grid.x;
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
T __shfl_up_sync(unsigned, T v, int o) {
  const int lane = threadIdx.x & 31;
  return cuda_emulation::Shuffle(v, lane >= o ? lane - o : lane);
}
template <class T>
T __shfl_down_sync(unsigned, T v, int o) {
  const int lane = threadIdx.x & 31;
  return cuda_emulation::Shuffle(v, lane + o < 32 ? lane + o : lane);
}
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
