#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/core/vec.cuh"
#include "kernels/norm/rms_norm.h"

namespace hearth {
namespace norm_kernels {

using cuda::FromFloat;
using cuda::ToFloat;
using cuda::Vec;

// One block per row. kCache > 0: each thread loads its (at most kCache) vectors of the row into
// registers with independent loads (all in flight at once), reduces, then normalizes from the
// registers: the row is read once from HBM and a thread has kCache * 16 bytes in flight per
// tensor. kCache == 0 (rows too long for the register cache): pass 1 reads the row (adding x into
// the residual when kFusedAdd) and reduces, pass 2 re-reads it (from L2) and writes the output.
// N = elements per access: 16 / sizeof(T) on the vector path, 1 on the scalar path.
template <class T, int N, bool kFusedAdd, int kCache>
__global__ void __launch_bounds__(1024)
    RmsNormKernel(const T* x, T* residual, const float* __restrict__ w, T* out, int hidden,
                  float eps) {
  cuda::PdlBegin();
  const int64_t row = blockIdx.x;
  const int num_vecs = hidden / N;
  const T* xr = x + row * hidden;
  T* rr = kFusedAdd ? residual + row * hidden : nullptr;
  T* orow = out + row * hidden;
  float sum_sq = 0.f;
  if constexpr (kCache > 0) {
    Vec<T, N> a[kCache];
    Vec<T, N> r[kFusedAdd ? kCache : 1];
#pragma unroll
    for (int c = 0; c < kCache; ++c) {
      const int i = threadIdx.x + c * blockDim.x;
      if (i < num_vecs) {
        a[c] = cuda::LoadVec<T, N>(xr + i * N);
        if constexpr (kFusedAdd) r[c] = cuda::LoadVec<T, N>(rr + i * N);
      }
    }
#pragma unroll
    for (int c = 0; c < kCache; ++c) {
      const int i = threadIdx.x + c * blockDim.x;
      if (i >= num_vecs) continue;
      if constexpr (kFusedAdd) {
#pragma unroll
        for (int j = 0; j < N; ++j)
          r[c].v[j] = FromFloat<T>(ToFloat(r[c].v[j]) + ToFloat(a[c].v[j]));
        cuda::StoreVec<T, N>(rr + i * N, r[c]);
        a[c] = r[c];  // the norm sees the residual as stored (rounded to T), as the next layer will
      }
#pragma unroll
      for (int j = 0; j < N; ++j) {
        const float v = ToFloat(a[c].v[j]);
        sum_sq += v * v;
      }
    }
    sum_sq = cuda::BlockReduceSum(sum_sq);
    const float scale = rsqrtf(sum_sq / static_cast<float>(hidden) + eps);
#pragma unroll
    for (int c = 0; c < kCache; ++c) {
      const int i = threadIdx.x + c * blockDim.x;
      if (i >= num_vecs) continue;
      Vec<T, N> o;
#pragma unroll
      for (int j = 0; j < N; ++j) o.v[j] = FromFloat<T>(ToFloat(a[c].v[j]) * scale * w[i * N + j]);
      cuda::StoreVec<T, N>(orow + i * N, o);
    }
  } else {  // two passes
    for (int i = threadIdx.x; i < num_vecs; i += blockDim.x) {
      Vec<T, N> a = cuda::LoadVec<T, N>(xr + i * N);
      if constexpr (kFusedAdd) {
        Vec<T, N> r = cuda::LoadVec<T, N>(rr + i * N);
#pragma unroll
        for (int j = 0; j < N; ++j) r.v[j] = FromFloat<T>(ToFloat(r.v[j]) + ToFloat(a.v[j]));
        cuda::StoreVec<T, N>(rr + i * N, r);
        a = r;
      }
#pragma unroll
      for (int j = 0; j < N; ++j) {
        const float v = ToFloat(a.v[j]);
        sum_sq += v * v;
      }
    }
    sum_sq = cuda::BlockReduceSum(sum_sq);
    const float scale = rsqrtf(sum_sq / static_cast<float>(hidden) + eps);
    const T* src = kFusedAdd ? rr : xr;
    for (int i = threadIdx.x; i < num_vecs; i += blockDim.x) {
      const Vec<T, N> a = cuda::LoadVec<T, N>(src + i * N);
      Vec<T, N> o;
#pragma unroll
      for (int j = 0; j < N; ++j) o.v[j] = FromFloat<T>(ToFloat(a.v[j]) * scale * w[i * N + j]);
      cuda::StoreVec<T, N>(orow + i * N, o);
    }
  }
}

}  // namespace norm_kernels

namespace {

template <class T, int N, bool kFusedAdd>
Status LaunchRmsNormRows(const T* x, T* residual, const float* w, T* out, int64_t num_tokens,
                         int hidden, float eps, cudaStream_t stream) {
  const int accesses = hidden / N;
  const int threads = RowThreads(accesses);
  const dim3 grid(static_cast<unsigned>(num_tokens));
  switch (RmsNormRegisterVecs(accesses, threads)) {
    case 1:
      CUDA_CHECK(cuda::LaunchKernel(norm_kernels::RmsNormKernel<T, N, kFusedAdd, 1>, grid, threads,
                                    0, stream, x, residual, w, out, hidden, eps));
      break;
    case 2:
      CUDA_CHECK(cuda::LaunchKernel(norm_kernels::RmsNormKernel<T, N, kFusedAdd, 2>, grid, threads,
                                    0, stream, x, residual, w, out, hidden, eps));
      break;
    case 4:
      CUDA_CHECK(cuda::LaunchKernel(norm_kernels::RmsNormKernel<T, N, kFusedAdd, 4>, grid, threads,
                                    0, stream, x, residual, w, out, hidden, eps));
      break;
    case 0:
      CUDA_CHECK(cuda::LaunchKernel(norm_kernels::RmsNormKernel<T, N, kFusedAdd, 0>, grid, threads,
                                    0, stream, x, residual, w, out, hidden, eps));
      break;
    default:
      return InternalError("rms_norm: unsupported register cache depth");
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

template <class T, bool kFusedAdd>
Status LaunchRmsNorm(const T* x, T* residual, const float* w, T* out, int64_t num_tokens,
                     int hidden, float eps, AccessPath path, cudaStream_t stream) {
  if (num_tokens == 0) return Status::Ok();
  if (num_tokens > 0x7fffffff) return InvalidArgumentError("rms_norm: too many tokens");
  switch (path) {
    case AccessPath::kVector16:
      return LaunchRmsNormRows<T, cuda::kVec16<T>, kFusedAdd>(x, residual, w, out, num_tokens,
                                                              hidden, eps, stream);
    case AccessPath::kScalar:
      return LaunchRmsNormRows<T, 1, kFusedAdd>(x, residual, w, out, num_tokens, hidden, eps,
                                                stream);
    default:
      return UnimplementedError("rms_norm: unsupported access path");
  }
}

template <bool kFusedAdd>
Status RmsNormAdapter(DType dtype, const void* x, void* residual, const float* w, void* out,
                      int64_t num_tokens, int hidden, float eps, cudaStream_t stream) {
  if (num_tokens < 0 || hidden <= 0)
    return InvalidArgumentError("rms_norm: need num_tokens >= 0 and hidden > 0, got " +
                                std::to_string(num_tokens) + " x " + std::to_string(hidden));
  if (num_tokens > 0 &&
      (x == nullptr || w == nullptr || out == nullptr || (kFusedAdd && residual == nullptr)))
    return InvalidArgumentError("rms_norm: null pointer");
  const AccessPath path = ChooseRmsNormPath(dtype, hidden, x, residual, out);
  switch (dtype) {
    case DType::kF32:
      return LaunchRmsNorm<float, kFusedAdd>(
          static_cast<const float*>(x), static_cast<float*>(residual), w, static_cast<float*>(out),
          num_tokens, hidden, eps, path, stream);
    case DType::kF16:
      return LaunchRmsNorm<__half, kFusedAdd>(
          static_cast<const __half*>(x), static_cast<__half*>(residual), w,
          static_cast<__half*>(out), num_tokens, hidden, eps, path, stream);
    case DType::kBF16:
      return LaunchRmsNorm<__nv_bfloat16, kFusedAdd>(
          static_cast<const __nv_bfloat16*>(x), static_cast<__nv_bfloat16*>(residual), w,
          static_cast<__nv_bfloat16*>(out), num_tokens, hidden, eps, path, stream);
    default:
      return UnimplementedError("rms_norm: unsupported activation dtype " +
                                std::string(DTypeName(dtype)) + " (F32, F16, BF16)");
  }
}

}  // namespace

Status RmsNorm(DType dtype, const void* x, const float* weight, void* out, int64_t num_tokens,
               int hidden, float eps, cudaStream_t stream) {
  return RmsNormAdapter<false>(dtype, x, nullptr, weight, out, num_tokens, hidden, eps, stream);
}

Status FusedAddRmsNorm(DType dtype, const void* x, void* residual, const float* weight, void* out,
                       int64_t num_tokens, int hidden, float eps, cudaStream_t stream) {
  return RmsNormAdapter<true>(dtype, x, residual, weight, out, num_tokens, hidden, eps, stream);
}

}  // namespace hearth
