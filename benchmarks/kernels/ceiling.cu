#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"

namespace hearth::bench {
namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench: %s: %s\n", what, cudaGetErrorString(e));
    std::abort();  // a benchmark cannot continue without its device
  }
}

__global__ void FillRandomBf16Kernel(__nv_bfloat16* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    p[i] = __float2bfloat16((x & 0xffff) / 32768.0f - 1.0f);
  }
}

// Reads n 16-byte vectors once (4 loads in flight per thread) and folds them into one word that
// is stored only if it equals a value it practically never has (the loads cannot be dropped).
// Launched as a programmatic dependent (kernels/core/pdl.h), it reads while its predecessor
// still runs, as a decode GEMV may with its weights: it waits only before its store.
__global__ void ReadOnlyKernel(const uint4* __restrict__ p, size_t n, uint32_t* out) {
  cuda::PdlLaunchDependents();
  uint32_t acc = 0;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    uint4 v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) v[u] = __ldg(p + i + u * stride);
#pragma unroll
    for (int u = 0; u < 4; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n; i += stride) {
    const uint4 v = __ldg(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  cuda::PdlWait();
  if (acc == 0x9e3779b9u) out[0] = acc;
}

}  // namespace

void LaunchRead(const void* p, size_t bytes, cudaStream_t stream, bool pdl) {
  static uint32_t* out = nullptr;
  static int sms = 0;
  if (out == nullptr) {
    Check(cudaMalloc(&out, sizeof(uint32_t)), "cudaMalloc(out)");
    int device = 0;
    Check(cudaGetDevice(&device), "cudaGetDevice");
    Check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "attribute");
  }
  const auto* v = static_cast<const uint4*>(p);
  if (pdl) {
    Check(cuda::LaunchKernel(ReadOnlyKernel, sms * 8, 256, 0, stream, v, bytes / 16, out),
          "launch (programmatic)");
  } else {
    ReadOnlyKernel<<<sms * 8, 256, 0, stream>>>(v, bytes / 16, out);
  }
}

double MeasureReadGBps(const void* p, size_t bytes) {
  const double us = TimeUs([&](cudaStream_t s) { LaunchRead(p, bytes, s); });
  return bytes / (us * 1e-6) / 1e9;
}

double TimeSequenceUs(const std::function<void(cudaStream_t, int)>& fn, int launches, int reps) {
  cudaStream_t s;
  Check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  cudaEvent_t a, b;
  Check(cudaEventCreate(&a), "event");
  Check(cudaEventCreate(&b), "event");
  std::vector<float> ms;
  for (int r = 0; r <= reps; ++r) {  // r = 0: untimed
    Check(cudaEventRecord(a, s), "record");
    for (int i = 0; i < launches; ++i) fn(s, i);
    Check(cudaEventRecord(b, s), "record");
    Check(cudaEventSynchronize(b), "sync");
    float t = 0;
    Check(cudaEventElapsedTime(&t, a, b), "elapsed");
    if (r > 0) ms.push_back(t);
  }
  Check(cudaGetLastError(), "kernel launch");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaStreamDestroy(s);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2] * 1000.0 / launches;
}

void FillRandomBf16(void* p, size_t n, uint32_t seed) {
  FillRandomBf16Kernel<<<1024, 256>>>(static_cast<__nv_bfloat16*>(p), n, seed);
  Check(cudaDeviceSynchronize(), "FillRandomBf16");
}

double TimeUs(const std::function<void(cudaStream_t)>& fn, int warmup, int iters, bool flush_l2) {
  static void* flush = nullptr;
  constexpr size_t kFlushBytes = size_t{256} << 20;
  if (flush_l2 && flush == nullptr) Check(cudaMalloc(&flush, kFlushBytes), "cudaMalloc(flush)");
  cudaStream_t s;
  Check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  cudaEvent_t a, b;
  Check(cudaEventCreate(&a), "event");
  Check(cudaEventCreate(&b), "event");
  for (int i = 0; i < warmup; ++i) fn(s);
  Check(cudaStreamSynchronize(s), "warmup");
  std::vector<float> ms(iters);
  for (int i = 0; i < iters; ++i) {
    if (flush_l2) Check(cudaMemsetAsync(flush, i & 0xff, kFlushBytes, s), "flush");
    Check(cudaEventRecord(a, s), "record");
    fn(s);
    Check(cudaEventRecord(b, s), "record");
    Check(cudaEventSynchronize(b), "sync");
    Check(cudaEventElapsedTime(&ms[i], a, b), "elapsed");
  }
  Check(cudaGetLastError(), "kernel launch");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaStreamDestroy(s);
  std::sort(ms.begin(), ms.end());
  return ms[iters / 2] * 1000.0;
}

double MeasureCopyGBps(size_t bytes) {
  void *src, *dst;
  Check(cudaMalloc(&src, bytes), "cudaMalloc");
  Check(cudaMalloc(&dst, bytes), "cudaMalloc");
  Check(cudaMemset(src, 1, bytes), "memset");
  const double us = TimeUs(
      [&](cudaStream_t s) {
        Check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s), "copy");
      },
      3, 20, false);
  cudaFree(src);
  cudaFree(dst);
  return 2.0 * bytes / (us * 1e-6) / 1e9;
}

double MeasureBf16MatmulTflops(int m, int n, int k) {
  __nv_bfloat16 *a, *b, *c;
  Check(cudaMalloc(&a, sizeof(__nv_bfloat16) * m * k), "cudaMalloc");
  Check(cudaMalloc(&b, sizeof(__nv_bfloat16) * k * n), "cudaMalloc");
  Check(cudaMalloc(&c, sizeof(__nv_bfloat16) * m * n), "cudaMalloc");
  FillRandomBf16Kernel<<<1024, 256>>>(a, static_cast<size_t>(m) * k, 1);
  FillRandomBf16Kernel<<<1024, 256>>>(b, static_cast<size_t>(k) * n, 2);
  Check(cudaDeviceSynchronize(), "fill");
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "bench: cublasCreate failed\n");
    std::abort();
  }
  const float alpha = 1.f, beta = 0.f;
  const double us = TimeUs(
      [&](cudaStream_t s) {
        cublasSetStream(h, s);
        cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, a, CUDA_R_16BF, m, b,
                     CUDA_R_16BF, k, &beta, c, CUDA_R_16BF, m, CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT);
      },
      3, 10, false);
  cublasDestroy(h);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  return 2.0 * m * n * k / (us * 1e-6) / 1e12;
}

Ceilings MeasureCeilings(bool with_matmul) {
  Ceilings c;
  c.copy_gbps = MeasureCopyGBps();
  if (with_matmul) c.bf16_tflops = MeasureBf16MatmulTflops();
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, 0);
  std::printf("CEILING device=\"%s\" sms=%d copy_gbps=%.1f bf16_tflops=%.1f\n", p.name,
              p.multiProcessorCount, c.copy_gbps, c.bf16_tflops);
  return c;
}

void PrintResult(const std::string& op, const std::string& case_name, const std::string& dtype,
                 double us, double gbps, double tflops, const Ceilings& c) {
  const bool matmul_bound =
      tflops > 0 && c.bf16_tflops > 0 && (gbps <= 0 || tflops / c.bf16_tflops > gbps / c.copy_gbps);
  const double pct = matmul_bound ? 100.0 * tflops / c.bf16_tflops
                                  : (c.copy_gbps > 0 ? 100.0 * gbps / c.copy_gbps : 0);
  std::printf("RESULT op=%s case=%s dtype=%s us=%.2f gbps=%.1f tflops=%.2f pct=%.1f bound=%s\n",
              op.c_str(), case_name.c_str(), dtype.c_str(), us, gbps, tflops, pct,
              matmul_bound ? "matmul" : "copy");
  std::fflush(stdout);
}

}  // namespace hearth::bench
