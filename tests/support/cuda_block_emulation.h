// A small CPU emulation of the CUDA features our kernels use, so that their real sources (the
// sampler's, sampler_kernel_emulation_test; the direct GEMV's, gemv_direct_emulation_test) run in
// CPU tests: one fiber (a ucontext on its own stack) per CUDA thread of a block, all on the
// calling OS thread (blocks run one after another); __syncthreads and __syncwarp as barriers that
// switch to the next runnable fiber, a per-warp exchange for the shuffles (and __reduce_max_sync,
// __any_sync, __ballot_sync), one mutex for the atomics, host math for the fast intrinsics.
// Fibers, not OS threads: a barrier of 1024 OS threads cost ~1024 futex wake-ups on 2 cores (the
// sampler test spent 70% of its time in the kernel); a fiber switch is a few hundred ns.
// It checks the kernel's logic (scans, selections, fallbacks, races), not its timing. The fibers
// of a block run in ascending order between two barriers, then in descending order, alternately,
// so a read that a missing barrier leaves unordered sees either side of the write. Barriers that
// can never complete (a __syncthreads some threads skip or exit before) abort with a count of who
// waits where, rather than hang.
// Built with ThreadSanitizer (the tsan tree, scripts/test.sh) the emulation is a racecheck: each
// fiber is a ThreadSanitizer fiber, switched without synchronization, and a barrier is a
// release by every arriving thread and an acquire by every leaving one, so two threads touching
// the same shared (or global) bytes, one of them writing, with no barrier between them, are
// reported as a data race with both source lines. With AddressSanitizer the fiber switches are
// annotated, so reads past a buffer are found as in a thread. Blind spots: the atomics share one
// mutex (an atomic orders more than on a GPU), and blocks run one after another (no race between
// blocks).
// Also: dynamic shared memory (SetDynamicSmem / DynamicSmem), 16-bit float types (Bf16, Half),
// vec.cuh's ToFloat / FromFloat for them and float, and the tensor-core helpers of
// kernels/core/mma_sync.cuh (hearth::tc): cp.async as a plain copy (so a missing wait goes
// unnoticed here too), mma.sync m16n8k16 through a per-warp exchange of the fragments in the PTX
// ISA's layout.
// Include before the kernel source; nothing else may include CUDA headers in that test.
#pragma once

#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "kernels/core/half.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEARTH_EMULATION_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEARTH_EMULATION_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define HEARTH_EMULATION_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HEARTH_EMULATION_TSAN 1
#endif
#endif
#ifdef HEARTH_EMULATION_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef HEARTH_EMULATION_TSAN
#include <sanitizer/tsan_interface.h>
// In the ThreadSanitizer runtime, not in every version of its header.
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();
#endif

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
// Set by the scheduler before it switches to a fiber (threadIdx) or runs a block (blockIdx).
inline EmulatedDim3 threadIdx, blockIdx;
inline EmulatedDim3 blockDim, gridDim;

namespace cuda_emulation {

// A barrier of `expected` emulated threads. Its counters are relaxed atomics: the emulation's
// own bookkeeping, which must not order the kernel's accesses (ThreadSanitizer would otherwise see
// the fibers synchronize through it); the kernel's ordering is tsan_sync's release / acquire.
struct Barrier {
  int expected = 0;
  std::atomic<int> arrived{0};
  std::atomic<uint64_t> generation{0};
  // The happens-before objects of even and odd generations: a thread of generation g + 2 cannot
  // release before every thread has left generation g, so two suffice.
  char tsan_sync[2] = {};
};

struct Fiber {
  ucontext_t context;
  std::atomic<const Barrier*> waiting{nullptr};  // null: runnable
  std::atomic<uint64_t> wait_generation{0};
  std::atomic<bool> done{false};
  void* tsan = nullptr;
  void* asan_fake_stack = nullptr;
};

struct Block {
  Barrier block;
  Barrier warps[32];
  uint64_t shfl[32][32] = {};
  uint32_t mma[32][32][6] = {};  // per warp and lane: an mma.sync's a[4], b0, b1
  std::unique_ptr<Fiber[]> fibers;
  int running = -1;   // the fiber that runs now
  bool quit = false;  // set after the last block: the fibers leave FiberMain
  std::function<void()> kernel;
  ucontext_t scheduler;
  void* scheduler_tsan = nullptr;
  const void* scheduler_stack = nullptr;  // its bounds, for AddressSanitizer's switches
  size_t scheduler_stack_bytes = 0;
};
inline Block* current = nullptr;
inline char tsan_launch = 0;  // released by the host before each block, acquired by its fibers
inline std::mutex atomic_mu;

// The fibers' stacks, kept from launch to launch: kStackBytes each, below a guard page.
inline constexpr size_t kStackBytes = size_t{256} << 10;
inline constexpr size_t kGuardBytes = size_t{4} << 10;
inline uint8_t* FiberStack(int t) {
  static uint8_t* base = nullptr;
  static int count = 0;
  if (t >= count) {
    const int n = std::max(t + 1, 1024);
    void* p = mmap(nullptr, n * (kStackBytes + kGuardBytes), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      std::fprintf(stderr, "cuda emulation: cannot map %d fiber stacks\n", n);
      std::abort();
    }
    base = static_cast<uint8_t*>(p), count = n;  // the smaller old pool stays mapped, unused
    for (int i = 0; i < n; ++i) mprotect(base + i * (kStackBytes + kGuardBytes), kGuardBytes, 0);
  }
  return base + t * (kStackBytes + kGuardBytes) + kGuardBytes;
}

// The running fiber hands control back to the scheduler: waiting at a barrier, having returned
// from the block's kernel (`returned`), or for good (`exiting`, after the launch's last block).
inline void SwitchToScheduler(bool returned, bool exiting) {
  Block& b = *current;
  Fiber& f = b.fibers[b.running];
#ifdef HEARTH_EMULATION_TSAN
  // A thread that returns hands its writes to the host (the scheduler); one that waits hands
  // nothing, or the next fiber the scheduler runs would be ordered after it.
  __tsan_switch_to_fiber(b.scheduler_tsan, returned ? 0 : __tsan_switch_to_fiber_no_sync);
#else
  (void)returned;
#endif
#ifdef HEARTH_EMULATION_ASAN
  __sanitizer_start_switch_fiber(exiting ? nullptr : &f.asan_fake_stack, b.scheduler_stack,
                                 b.scheduler_stack_bytes);
#else
  (void)exiting;
#endif
  swapcontext(&f.context, &b.scheduler);
#ifdef HEARTH_EMULATION_ASAN
  __sanitizer_finish_switch_fiber(f.asan_fake_stack, nullptr, nullptr);
#endif
}

// Thread t of every block of a launch, one block at a time: each block's kernel returns, so the
// fiber's stack (and ThreadSanitizer's record of it) is as at the start when the next begins.
inline void FiberMain() {
#ifdef HEARTH_EMULATION_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &current->scheduler_stack,
                                  &current->scheduler_stack_bytes);
#endif
  for (;;) {
#ifdef HEARTH_EMULATION_TSAN
    __tsan_acquire(&tsan_launch);
#endif
    Block& b = *current;
    if (b.quit) break;
    b.kernel();
    b.fibers[b.running].done.store(true, std::memory_order_relaxed);
    SwitchToScheduler(/*returned=*/true, /*exiting=*/false);
  }
  SwitchToScheduler(/*returned=*/true, /*exiting=*/true);
}

// The scheduler runs fiber t until it waits at a barrier or returns. The switch does not
// synchronize (the scheduler has seen the writes of the fibers that returned); a thread starts
// with an acquire of what the host wrote before the block (blockIdx, the kernel's inputs).
inline void SwitchToFiber(Block& b, int t) {
#ifdef HEARTH_EMULATION_TSAN
  // Unchecked: the scheduler's bookkeeping, which the fibers read unordered.
  __tsan_ignore_thread_begin();
#endif
  b.running = t;
  threadIdx.x = static_cast<unsigned>(t);
#ifdef HEARTH_EMULATION_TSAN
  __tsan_ignore_thread_end();
  __tsan_switch_to_fiber(b.fibers[t].tsan, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef HEARTH_EMULATION_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, FiberStack(t), kStackBytes);
#endif
  swapcontext(&b.scheduler, &b.fibers[t].context);
#ifdef HEARTH_EMULATION_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
}

// Points f at the start of FiberMain on `stack`. Not inlined: getcontext returns twice, which
// would put the caller's locals at risk.
__attribute__((noinline)) inline void StartFiber(Fiber& f, uint8_t* stack) {
#ifdef HEARTH_EMULATION_ASAN
  ASAN_UNPOISON_MEMORY_REGION(stack, kStackBytes);  // the previous launch's FiberMain frames
#endif
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = stack;
  f.context.uc_stack.ss_size = kStackBytes;
  f.context.uc_link = nullptr;
  makecontext(&f.context, &FiberMain, 0);
  // makecontext has placed the stack; with its size left here AddressSanitizer's swapcontext
  // would clear the whole stack's shadow at every switch.
  f.context.uc_stack.ss_size = 0;
}

[[noreturn]] inline void Deadlock(const Block& b, int threads) {
  int at_block = 0, at_warp = 0, returned = 0;
  for (int t = 0; t < threads; ++t) {
    if (b.fibers[t].done.load(std::memory_order_relaxed)) {
      ++returned;
    } else {
      ++(b.fibers[t].waiting.load(std::memory_order_relaxed) == &b.block ? at_block : at_warp);
    }
  }
  std::fprintf(stderr,
               "cuda emulation: deadlock in block (%u, %u, %u): %d threads wait at "
               "__syncthreads, %d at a warp barrier (__syncwarp, a shuffle, a vote), %d returned\n",
               blockIdx.x, blockIdx.y, blockIdx.z, at_block, at_warp, returned);
  std::abort();
}

// The running thread arrives at `bar` and waits until all its threads have.
inline void ArriveAndWait(Barrier& bar) {
  Fiber& f = current->fibers[current->running];
  const uint64_t gen = bar.generation.load(std::memory_order_relaxed);
#ifdef HEARTH_EMULATION_TSAN
  __tsan_release(&bar.tsan_sync[gen & 1]);
#endif
  if (bar.arrived.fetch_add(1, std::memory_order_relaxed) + 1 == bar.expected) {
    bar.arrived.store(0, std::memory_order_relaxed);
    bar.generation.store(gen + 1, std::memory_order_relaxed);
  } else {
    f.wait_generation.store(gen, std::memory_order_relaxed);
    f.waiting.store(&bar, std::memory_order_relaxed);
  }
  SwitchToScheduler(/*returned=*/false, /*exiting=*/false);
#ifdef HEARTH_EMULATION_TSAN
  __tsan_acquire(&bar.tsan_sync[gen & 1]);
#endif
}

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
  ArriveAndWait(current->warps[w]);
  bits = current->shfl[w][src_lane];
  ArriveAndWait(current->warps[w]);  // every lane has read before the next write
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

// Runs kernel(args...) over a grid of blocks of `threads` threads (a multiple of 32, at most
// 1024), one block after another (x fastest, then y, then z), each block's threads as fibers on
// the calling thread.
template <class Kernel, class... Args>
void Launch(EmulatedDim3 grid, int threads, Kernel kernel, Args... args) {
  if (threads <= 0 || threads > 1024 || threads % 32 != 0) {
    std::fprintf(stderr, "cuda emulation: %d threads a block\n", threads);
    std::abort();
  }
  blockDim.x = static_cast<unsigned>(threads);
  gridDim = grid;
  const unsigned grid_z = grid.z > 0 ? grid.z : 1;  // {x, y} and {x, y, 0} mean one layer
  const int num_blocks = static_cast<int>(grid.x * grid.y * grid_z);
  std::fill(DynamicSmemBuffer().begin(), DynamicSmemBuffer().end(), uint8_t{0xFF});
  auto b_owner = std::make_unique<Block>();  // ~40 KiB: not on the stack
  Block& b = *b_owner;
  b.block.expected = threads;
  for (Barrier& w : b.warps) w.expected = 32;
  b.fibers = std::make_unique<Fiber[]>(threads);
  b.kernel = [&] { kernel(args...); };
#ifdef HEARTH_EMULATION_TSAN
  b.scheduler_tsan = __tsan_get_current_fiber();
  for (int t = 0; t < threads; ++t) b.fibers[t].tsan = __tsan_create_fiber(0);
#endif
  for (int t = 0; t < threads; ++t) StartFiber(b.fibers[t], FiberStack(t));
  current = &b;
  for (int id = 0; id < num_blocks; ++id) {
    blockIdx.x = static_cast<unsigned>(id) % grid.x;
    blockIdx.y = static_cast<unsigned>(id) / grid.x % grid.y;
    blockIdx.z = static_cast<unsigned>(id) / (grid.x * grid.y);
#ifdef HEARTH_EMULATION_TSAN
    __tsan_release(&tsan_launch);
#endif
    for (int t = 0; t < threads; ++t) b.fibers[t].done.store(false, std::memory_order_relaxed);
    int running = threads;
    for (bool ascending = true; running > 0; ascending = !ascending) {
      bool progress = false;
      for (int i = 0; i < threads; ++i) {
        const int t = ascending ? i : threads - 1 - i;
        Fiber& f = b.fibers[t];
        if (f.done.load(std::memory_order_relaxed)) continue;
        const Barrier* bar = f.waiting.load(std::memory_order_relaxed);
        if (bar != nullptr && bar->generation.load(std::memory_order_relaxed) ==
                                  f.wait_generation.load(std::memory_order_relaxed)) {
          continue;
        }
        f.waiting.store(nullptr, std::memory_order_relaxed);
        SwitchToFiber(b, t);
        progress = true;
        if (f.done.load(std::memory_order_relaxed)) --running;
      }
      if (!progress) Deadlock(b, threads);
    }
  }
  b.quit = true;
#ifdef HEARTH_EMULATION_TSAN
  __tsan_release(&tsan_launch);
#endif
  for (int t = 0; t < threads; ++t) SwitchToFiber(b, t);
#ifdef HEARTH_EMULATION_TSAN
  for (int t = 0; t < threads; ++t) __tsan_destroy_fiber(b.fibers[t].tsan);
#endif
  current = nullptr;
}

}  // namespace cuda_emulation

inline void __syncthreads() { cuda_emulation::ArriveAndWait(cuda_emulation::current->block); }
inline void __syncwarp(unsigned = 0xffffffffu) {
  cuda_emulation::ArriveAndWait(cuda_emulation::current->warps[threadIdx.x >> 5]);
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
  cuda_emulation::ArriveAndWait(current->warps[w]);
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
  cuda_emulation::ArriveAndWait(current->warps[w]);  // every lane has read before the next write
}
}  // namespace hearth::tc
