// Programmatic dependent launch (kernels/core/pdl.h) on the GPU: a kernel launched through
// LaunchKernel after a slow one starts early where PDL is on (sm_90+), yet sees all of its
// writes; the ordering carries through a kernel that only waits, through many launches in a row
// and through a captured CUDA graph. Skips without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "tests/support/device_buffer.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

constexpr int kCtas = 8, kThreads = 128, kElems = kCtas * kThreads;

__device__ uint64_t GlobalNs() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Lets its successor launch, spins for spin_ns, then writes buf[i] = value and records when
// its last write was issued.
__global__ void SlowWriter(int* buf, int value, uint64_t spin_ns, unsigned long long* end_ns) {
  cuda::PdlBegin();
  const uint64_t start = GlobalNs();
  while (GlobalNs() - start < spin_ns) {
  }
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  buf[i] = value;
  __threadfence();
  if (end_ns != nullptr) atomicMax(end_ns, static_cast<unsigned long long>(GlobalNs()));
}

// Records when its first thread ran (before waiting), waits, then out[i] = buf[i] + 1.
__global__ void Reader(const int* buf, int* out, unsigned long long* start_ns) {
  if (start_ns != nullptr) atomicMin(start_ns, static_cast<unsigned long long>(GlobalNs()));
  cuda::PdlBegin();
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = buf[i] + 1;
}

// Touches nothing: only keeps the contract (waits for its predecessor).
__global__ void Passthrough() { cuda::PdlBegin(); }

std::vector<int> Download(const testing::DeviceBuffer& b) {
  std::vector<int> v(kElems);
  EXPECT_EQ(cudaMemcpy(v.data(), b.get(), kElems * sizeof(int), cudaMemcpyDeviceToHost),
            cudaSuccess);
  return v;
}

bool Launched(cudaError_t e) {
  EXPECT_EQ(e, cudaSuccess) << cudaGetErrorString(e);
  return e == cudaSuccess;
}

class PdlGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::GpuAvailable()) GTEST_SKIP() << "no CUDA device";
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess);
  }
  void TearDown() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  cudaStream_t stream_ = nullptr;
};

TEST_F(PdlGpu, DependentStartsEarlyAndSeesEveryWrite) {
  testing::DeviceBuffer buf(kElems * sizeof(int)), out(kElems * sizeof(int)), times(16);
  buf.Poison();
  out.Poison();
  // Both kernels run once first: a kernel's first launch loads its module (CUDA's lazy loading),
  // which on the H100 (2026-11-25) held the reader's launch back until the writer had ended.
  ASSERT_TRUE(Launched(cuda::LaunchKernel(SlowWriter, kCtas, kThreads, 0, stream_,
                                          static_cast<int*>(buf.get()), 7, 0ull,
                                          static_cast<unsigned long long*>(nullptr))));
  ASSERT_TRUE(Launched(
      cuda::LaunchKernel(Reader, kCtas, kThreads, 0, stream_, static_cast<const int*>(buf.get()),
                         static_cast<int*>(out.get()), static_cast<unsigned long long*>(nullptr))));
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  out.Poison();
  auto* t = static_cast<unsigned long long*>(times.get());
  const unsigned long long init[2] = {0ull, ~0ull};  // writer end (max), reader start (min)
  ASSERT_EQ(cudaMemcpy(t, init, sizeof(init), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_TRUE(Launched(cuda::LaunchKernel(SlowWriter, kCtas, kThreads, 0, stream_,
                                          static_cast<int*>(buf.get()), 7, 2'000'000ull, t)));
  ASSERT_TRUE(Launched(cuda::LaunchKernel(Reader, kCtas, kThreads, 0, stream_,
                                          static_cast<const int*>(buf.get()),
                                          static_cast<int*>(out.get()), t + 1)));
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  for (int v : Download(out)) ASSERT_EQ(v, 8);
  unsigned long long got[2];
  ASSERT_EQ(cudaMemcpy(got, t, sizeof(got), cudaMemcpyDeviceToHost), cudaSuccess);
  if (cuda::PdlEnabled()) {
    // The reader's CTAs ran while the writer spun (2 ms): launched as a dependent, not after.
    EXPECT_LT(got[1], got[0]) << "the dependent did not start before its predecessor ended";
  } else {
    EXPECT_GE(got[1], got[0]);
  }
}

TEST_F(PdlGpu, OrderCarriesThroughAKernelThatOnlyWaits) {
  testing::DeviceBuffer buf(kElems * sizeof(int)), out(kElems * sizeof(int));
  buf.Poison();
  out.Poison();
  ASSERT_TRUE(Launched(cuda::LaunchKernel(SlowWriter, kCtas, kThreads, 0, stream_,
                                          static_cast<int*>(buf.get()), 41, 200'000ull,
                                          static_cast<unsigned long long*>(nullptr))));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Launched(cuda::LaunchKernel(Passthrough, 1, 32, 0, stream_)));
  }
  ASSERT_TRUE(Launched(
      cuda::LaunchKernel(Reader, kCtas, kThreads, 0, stream_, static_cast<const int*>(buf.get()),
                         static_cast<int*>(out.get()), static_cast<unsigned long long*>(nullptr))));
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  for (int v : Download(out)) ASSERT_EQ(v, 42);
}

// writer(v) -> reader -> writer(v + 1) -> ...: each reader sees its own writer's value, never
// the next one's (the next writer waits for the reader before it writes).
void LaunchChain(cudaStream_t stream, int* buf, int* outs, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    ASSERT_TRUE(Launched(cuda::LaunchKernel(SlowWriter, kCtas, kThreads, 0, stream, buf, 100 * r,
                                            20'000ull, static_cast<unsigned long long*>(nullptr))));
    ASSERT_TRUE(Launched(cuda::LaunchKernel(Reader, kCtas, kThreads, 0, stream,
                                            static_cast<const int*>(buf), outs + r * kElems,
                                            static_cast<unsigned long long*>(nullptr))));
  }
}

void ExpectChain(const testing::DeviceBuffer& outs, int rounds) {
  std::vector<int> v(size_t(rounds) * kElems);
  ASSERT_EQ(cudaMemcpy(v.data(), outs.get(), v.size() * sizeof(int), cudaMemcpyDeviceToHost),
            cudaSuccess);
  for (int r = 0; r < rounds; ++r)
    for (int i = 0; i < kElems; ++i) ASSERT_EQ(v[size_t(r) * kElems + i], 100 * r + 1) << r;
}

TEST_F(PdlGpu, LongChainKeepsEveryReadAfterItsWrite) {
  constexpr int kRounds = 64;
  testing::DeviceBuffer buf(kElems * sizeof(int)), outs(size_t(kRounds) * kElems * sizeof(int));
  outs.Poison();
  LaunchChain(stream_, static_cast<int*>(buf.get()), static_cast<int*>(outs.get()), kRounds);
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  ExpectChain(outs, kRounds);
}

TEST_F(PdlGpu, CapturedGraphKeepsTheOrder) {
  constexpr int kRounds = 16;
  testing::DeviceBuffer buf(kElems * sizeof(int)), outs(size_t(kRounds) * kElems * sizeof(int));
  outs.Poison();
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  LaunchChain(stream_, static_cast<int*>(buf.get()), static_cast<int*>(outs.get()), kRounds);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  for (int launch = 0; launch < 3; ++launch) {
    outs.Poison();
    ASSERT_EQ(cudaGraphLaunch(exec, stream_), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    ExpectChain(outs, kRounds);
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

}  // namespace
}  // namespace hearth
