// The CUDA block emulation's own contract (cuda_block_emulation.h), on small kernels written here:
// barriers order shared-memory writes across 1024 threads and across blocks, the warp exchanges
// (shuffles, votes) are per warp, threads see their own threadIdx / blockIdx, a barrier some
// threads never reach aborts with a count instead of hanging, in the ThreadSanitizer tree a
// missing __syncthreads is reported as a data race (the racecheck the kernels' emulation tests
// rely on), and in the AddressSanitizer tree a read past a buffer, global or a fiber's local, is
// reported.
#include "tests/support/cuda_block_emulation.h"
// The emulation stands in for the CUDA headers; gtest after it.
#include <gtest/gtest.h>

#include <vector>

namespace {

// Each thread writes its slot, waits, then reads its neighbour's, over `rounds` rounds.
__global__ void RotateKernel(int* out, int rounds) {
  __shared__ int slot[1024];
  const int t = static_cast<int>(threadIdx.x), n = static_cast<int>(blockDim.x);
  int v = t + 10000 * static_cast<int>(blockIdx.x);
  for (int r = 0; r < rounds; ++r) {
    slot[t] = v;
    __syncthreads();
    v = slot[(t + 1) % n];
    __syncthreads();  // every read done before the next round's writes
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

TEST(CudaBlockEmulation, BarriersOrderSharedWrites) {
  for (int threads : {32, 256, 1024}) {
    const int blocks = 3, rounds = 5;
    std::vector<int> out(blocks * threads, -1);
    cuda_emulation::Launch({blocks, 1}, threads, &RotateKernel, out.data(), rounds);
    for (int b = 0; b < blocks; ++b) {
      for (int t = 0; t < threads; ++t) {
        ASSERT_EQ(out[b * threads + t], (t + rounds) % threads + 10000 * b)
            << threads << " threads, block " << b << ", thread " << t;
      }
    }
  }
}

// Per warp: the lane sum by a xor butterfly, a rotation by __shfl_sync, and the ballot of odd
// lanes; the grid's y and z coordinates.
__global__ void WarpKernel(int* sum, int* rotated, unsigned* ballot, unsigned* where) {
  const int t = static_cast<int>(threadIdx.x), lane = t & 31;
  int s = t;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  const int g = static_cast<int>(blockIdx.z * gridDim.y + blockIdx.y) * 64 + t;
  sum[g] = s;
  rotated[g] = __shfl_sync(0xffffffffu, t, (lane + 1) & 31);
  ballot[g] = __ballot_sync(0xffffffffu, lane % 2 == 1);
  where[g] = blockIdx.x * 100 + blockIdx.y * 10 + blockIdx.z;
}

TEST(CudaBlockEmulation, WarpExchangesStayInTheirWarp) {
  const int cells = 2 * 2 * 64;  // grid {1, 2, 2} of 64 threads
  std::vector<int> sum(cells), rotated(cells);
  std::vector<unsigned> ballot(cells), where(cells);
  cuda_emulation::Launch({1, 2, 2}, 64, &WarpKernel, sum.data(), rotated.data(), ballot.data(),
                         where.data());
  for (int g = 0; g < cells; ++g) {
    const int t = g % 64, warp = t / 32, block = g / 64;
    EXPECT_EQ(sum[g], 32 * 32 * warp + 31 * 32 / 2) << g;
    EXPECT_EQ(rotated[g], 32 * warp + (t + 1) % 32) << g;
    EXPECT_EQ(ballot[g], 0xaaaaaaaau) << g;
    EXPECT_EQ(where[g], static_cast<unsigned>(10 * (block % 2) + block / 2)) << g;
  }
}

// Thread 0 returns before the barrier that the others wait at.
__global__ void EarlyReturnKernel(int* out) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

TEST(CudaBlockEmulationDeathTest, BarrierSomeThreadsSkipAbortsWithACount) {
  std::vector<int> out(64);
  EXPECT_DEATH(cuda_emulation::Launch({1, 1}, 64, &EarlyReturnKernel, out.data()),
               "deadlock in block \\(0, 0, 0\\): 63 threads wait at __syncthreads, 0 at a warp "
               "barrier .*, 1 returned");
}

#ifdef HEARTH_EMULATION_TSAN
// The read of the neighbour's slot lacks the barrier after the writes.
__global__ void MissingBarrierKernel(int* out) {
  __shared__ int slot[64];
  slot[threadIdx.x] = static_cast<int>(threadIdx.x);
  out[threadIdx.x] = slot[(threadIdx.x + 1) % 64];
}
#endif

TEST(CudaBlockEmulationDeathTest, MissingBarrierIsADataRaceUnderThreadSanitizer) {
#ifndef HEARTH_EMULATION_TSAN
  GTEST_SKIP() << "the racecheck needs the ThreadSanitizer tree";
#else
  std::vector<int> out(128);
  // ThreadSanitizer exits with 66 after a report (at once with halt_on_error=1, as in CI).
  EXPECT_EXIT(
      {
        cuda_emulation::Launch({1, 1}, 64, &MissingBarrierKernel, out.data());
        std::exit(0);
      },
      testing::ExitedWithCode(66), "ThreadSanitizer: data race");
  // The same kernel with the barrier: no report.
  cuda_emulation::Launch({2, 1}, 64, &RotateKernel, out.data(), 1);
  EXPECT_EQ(out[0], 1);
#endif
}

#ifdef HEARTH_EMULATION_ASAN
// Reads one int past `in`, and one past a local array of thread 63.
__global__ void ReadPastKernel(const int* in, int* out, int local_index) {
  const int local[4] = {1, 2, 3, 4};
  const int* l = local;  // through a pointer: past UBSan's bounds check, to ASan's redzone
  const int i = threadIdx.x == 63 ? local_index : 0;
  out[threadIdx.x] = in[threadIdx.x + 1] + l[i];
}
#endif

TEST(CudaBlockEmulationDeathTest, ReadsPastABufferAreReportedUnderAddressSanitizer) {
#ifndef HEARTH_EMULATION_ASAN
  GTEST_SKIP() << "needs the AddressSanitizer tree";
#else
  std::vector<int> in(65), out(64);
  cuda_emulation::Launch({1, 1}, 64, &ReadPastKernel, in.data(), out.data(), 3);  // in bounds
  in.resize(64);
  in.shrink_to_fit();
  EXPECT_DEATH(cuda_emulation::Launch({1, 1}, 64, &ReadPastKernel, in.data(), out.data(), 3),
               "heap-buffer-overflow");
  in.resize(65);
  EXPECT_DEATH(cuda_emulation::Launch({1, 1}, 64, &ReadPastKernel, in.data(), out.data(), 4),
               "stack-buffer-overflow");
#endif
}

}  // namespace
