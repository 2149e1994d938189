#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/core/vec.cuh"
#include "kernels/rope/rope.h"

namespace hearth {
namespace rope_kernels {

using cuda::FromFloat;
using cuda::ToFloat;

// One warp per (token, head), q heads first then k heads. Lane l owns pairs l, l + 32, ...:
// with kHalves its elements are x[p] and x[p + head_dim/2] (consecutive lanes, consecutive
// addresses); with kAdjacentPairs x[2p] and x[2p+1] (a warp covers 64 contiguous elements).
// Either way a warp reads and writes its head in coalesced segments. The head stays in
// registers between the optional RMSNorm and the rotation.
template <class T, int kHeadDim, bool kNorm>
__global__ void RopeKernel(RopeStyle style, const float* __restrict__ inv_freq,
                           const int32_t* __restrict__ positions, int64_t num_tokens, T* q,
                           int64_t q_stride, int num_heads, T* k, int64_t k_stride,
                           int num_kv_heads, const float* __restrict__ q_w,
                           const float* __restrict__ k_w, float eps) {
  cuda::PdlBegin();
  constexpr int kHalf = kHeadDim / 2;
  constexpr int kPairsPerLane = kHalf / 32;
  const int64_t warp = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const int heads = num_heads + num_kv_heads;
  if (warp >= num_tokens * heads) return;  // uniform per warp
  const int64_t t = warp / heads;
  const int h = static_cast<int>(warp % heads);
  T* x = h < num_heads ? q + t * q_stride + int64_t{h} * kHeadDim
                       : k + t * k_stride + int64_t{h - num_heads} * kHeadDim;
  const float* w = h < num_heads ? q_w : k_w;
  const bool adjacent = style == RopeStyle::kAdjacentPairs;
  float a[kPairsPerLane], b[kPairsPerLane];
#pragma unroll
  for (int j = 0; j < kPairsPerLane; ++j) {
    const int p = lane + 32 * j;
    a[j] = ToFloat(x[adjacent ? 2 * p : p]);
    b[j] = ToFloat(x[adjacent ? 2 * p + 1 : p + kHalf]);
  }
  if constexpr (kNorm) {
    float ss = 0.f;
#pragma unroll
    for (int j = 0; j < kPairsPerLane; ++j) ss += a[j] * a[j] + b[j] * b[j];
    ss = cuda::WarpReduceSum(ss);
    const float scale = rsqrtf(ss / kHeadDim + eps);
#pragma unroll
    for (int j = 0; j < kPairsPerLane; ++j) {
      const int p = lane + 32 * j;
      a[j] *= scale * w[adjacent ? 2 * p : p];
      b[j] *= scale * w[adjacent ? 2 * p + 1 : p + kHalf];
    }
  }
  const float pos = static_cast<float>(positions[t]);
#pragma unroll
  for (int j = 0; j < kPairsPerLane; ++j) {
    const int p = lane + 32 * j;
    float s, c;
    sincosf(pos * inv_freq[p], &s, &c);  // full-range sincosf: positions reach 10^5+
    x[adjacent ? 2 * p : p] = FromFloat<T>(a[j] * c - b[j] * s);
    x[adjacent ? 2 * p + 1 : p + kHalf] = FromFloat<T>(a[j] * s + b[j] * c);
  }
}

// The vector path: one block per token, kGroup = head_dim / 2 / N threads per head (N elements
// per 16-byte access). The token's cos/sin table (head_dim / 2 angles) is computed once into
// shared memory and reused by all its heads, instead of once per head. Thread g of a head's group
// owns elements [gN, gN + N) of each half of the head: two independent 16-byte loads and stores.
// kHalves pairs x[e] with x[e + head_dim/2] across the two vectors (angle e); kAdjacentPairs
// rotates (x[2i], x[2i+1]) inside each vector (angle e/2 + i). Heads are processed in rounds of
// blockDim / kGroup so every lane of a warp runs the same rounds (the norm reduces with shuffles
// over the group's lanes).
template <class T, int kHeadDim, bool kNorm>
__global__ void RopeVecKernel(RopeStyle style, const float* __restrict__ inv_freq,
                              const int32_t* __restrict__ positions, T* q, int64_t q_stride,
                              int num_heads, T* k, int64_t k_stride, int num_kv_heads,
                              const float* __restrict__ q_w, const float* __restrict__ k_w,
                              float eps) {
  cuda::PdlBegin();
  constexpr int N = cuda::kVec16<T>;
  constexpr int kHalf = kHeadDim / 2;
  constexpr int kGroup = kHalf / N;
  static_assert(kGroup >= 1 && kGroup <= 32 && (32 % kGroup) == 0, "group must tile a warp");
  __shared__ float cos_s[kHalf], sin_s[kHalf];
  const int64_t t = blockIdx.x;
  const float pos = static_cast<float>(positions[t]);
  for (int p = threadIdx.x; p < kHalf; p += blockDim.x)
    sincosf(pos * inv_freq[p], &sin_s[p], &cos_s[p]);  // full-range sincosf: positions reach 10^5+
  __syncthreads();
  const int heads = num_heads + num_kv_heads;
  const int g = threadIdx.x % kGroup;
  const int slot = threadIdx.x / kGroup;
  const int slots = blockDim.x / kGroup;
  const int e0 = g * N, e1 = kHalf + g * N;
  const bool adjacent = style == RopeStyle::kAdjacentPairs;
  for (int base = 0; base < heads; base += slots) {
    const int h = base + slot;
    const bool active = h < heads;
    T* x = nullptr;
    const float* w = nullptr;
    if (active) {
      x = h < num_heads ? q + t * q_stride + int64_t{h} * kHeadDim
                        : k + t * k_stride + int64_t{h - num_heads} * kHeadDim;
      w = h < num_heads ? q_w : k_w;
    }
    float a[N], b[N];
    if (active) {
      const cuda::Vec<T, N> va = cuda::LoadVec<T, N>(x + e0);
      const cuda::Vec<T, N> vb = cuda::LoadVec<T, N>(x + e1);
#pragma unroll
      for (int j = 0; j < N; ++j) a[j] = ToFloat(va.v[j]), b[j] = ToFloat(vb.v[j]);
    } else {
#pragma unroll
      for (int j = 0; j < N; ++j) a[j] = 0.f, b[j] = 0.f;
    }
    if constexpr (kNorm) {
      float ss = 0.f;
#pragma unroll
      for (int j = 0; j < N; ++j) ss += a[j] * a[j] + b[j] * b[j];
#pragma unroll
      for (int o = kGroup / 2; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
      const float scale = rsqrtf(ss / kHeadDim + eps);
      if (active) {
#pragma unroll
        for (int j = 0; j < N; ++j) a[j] *= scale * w[e0 + j], b[j] *= scale * w[e1 + j];
      }
    }
    if (!active) continue;
    cuda::Vec<T, N> oa, ob;
    if (adjacent) {
#pragma unroll
      for (int i = 0; i < N / 2; ++i) {
        const int fa = e0 / 2 + i, fb = e1 / 2 + i;
        const float ca = cos_s[fa], sa = sin_s[fa], cb = cos_s[fb], sb = sin_s[fb];
        oa.v[2 * i] = FromFloat<T>(a[2 * i] * ca - a[2 * i + 1] * sa);
        oa.v[2 * i + 1] = FromFloat<T>(a[2 * i] * sa + a[2 * i + 1] * ca);
        ob.v[2 * i] = FromFloat<T>(b[2 * i] * cb - b[2 * i + 1] * sb);
        ob.v[2 * i + 1] = FromFloat<T>(b[2 * i] * sb + b[2 * i + 1] * cb);
      }
    } else {
#pragma unroll
      for (int j = 0; j < N; ++j) {
        const float c = cos_s[e0 + j], sn = sin_s[e0 + j];
        oa.v[j] = FromFloat<T>(a[j] * c - b[j] * sn);
        ob.v[j] = FromFloat<T>(a[j] * sn + b[j] * c);
      }
    }
    cuda::StoreVec<T, N>(x + e0, oa);
    cuda::StoreVec<T, N>(x + e1, ob);
  }
}

// Head sizes without a compiled kernel above (even, at most 256; the tiny validation models have
// 8, 16 and 32): one thread per (token, head) walking its pairs, the same float arithmetic (RMSNorm
// scale, full-range sincosf). Slow; only validation models use it.
template <class T, bool kNorm>
__global__ void RopeAnyHeadDimKernel(int head_dim, RopeStyle style,
                                     const float* __restrict__ inv_freq,
                                     const int32_t* __restrict__ positions, int64_t num_tokens,
                                     T* q, int64_t q_stride, int num_heads, T* k, int64_t k_stride,
                                     int num_kv_heads, const float* __restrict__ q_w,
                                     const float* __restrict__ k_w, float eps) {
  cuda::PdlBegin();
  const int heads = num_heads + num_kv_heads;
  const int64_t item = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (item >= num_tokens * heads) return;
  const int64_t t = item / heads;
  const int h = static_cast<int>(item % heads);
  T* x = h < num_heads ? q + t * q_stride + int64_t{h} * head_dim
                       : k + t * k_stride + int64_t{h - num_heads} * head_dim;
  const float* w = h < num_heads ? q_w : k_w;
  const bool adjacent = style == RopeStyle::kAdjacentPairs;
  const int half = head_dim / 2;
  float scale = 1.f;
  if constexpr (kNorm) {
    float ss = 0.f;
    for (int e = 0; e < head_dim; ++e) {
      const float v = ToFloat(x[e]);
      ss += v * v;
    }
    scale = rsqrtf(ss / head_dim + eps);
  }
  const float pos = static_cast<float>(positions[t]);
  for (int p = 0; p < half; ++p) {
    const int ia = adjacent ? 2 * p : p;
    const int ib = adjacent ? 2 * p + 1 : p + half;
    float a = ToFloat(x[ia]), b = ToFloat(x[ib]);
    if constexpr (kNorm) {
      a *= scale * w[ia];
      b *= scale * w[ib];
    }
    float sn, c;
    sincosf(pos * inv_freq[p], &sn, &c);
    x[ia] = FromFloat<T>(a * c - b * sn);
    x[ib] = FromFloat<T>(a * sn + b * c);
  }
}

}  // namespace rope_kernels

namespace {

struct RopeArgs {
  RopeStyle style;
  int head_dim;
  const float* inv_freq;
  const int32_t* positions;
  int64_t num_tokens;
  void* q;
  int64_t q_stride;
  int num_heads;
  void* k;
  int64_t k_stride;
  int num_kv_heads;
  const float* q_w;
  const float* k_w;
  float eps;
};

constexpr int kThreads = 128;

template <class T, int kHeadDim, bool kNorm>
Status LaunchRope(const RopeArgs& a, AccessPath path, cudaStream_t stream) {
  const int heads = a.num_heads + a.num_kv_heads;
  const int64_t warps = a.num_tokens * heads;
  if (warps == 0) return Status::Ok();
  switch (path) {
    case AccessPath::kVector16: {
      if (a.num_tokens > 0x7fffffff) return InvalidArgumentError("rope: too many tokens");
      const int threads = RopeVecThreads(a.head_dim, static_cast<int>(sizeof(T)), heads);
      CUDA_CHECK(cuda::LaunchKernel(
          rope_kernels::RopeVecKernel<T, kHeadDim, kNorm>, static_cast<unsigned>(a.num_tokens),
          threads, 0, stream, a.style, a.inv_freq, a.positions, static_cast<T*>(a.q), a.q_stride,
          a.num_heads, static_cast<T*>(a.k), a.k_stride, a.num_kv_heads, a.q_w, a.k_w, a.eps));
      break;
    }
    case AccessPath::kScalar: {
      const int64_t blocks = (warps * 32 + kThreads - 1) / kThreads;
      if (blocks > 0x7fffffff) return InvalidArgumentError("rope: too many tokens for one launch");
      CUDA_CHECK(cuda::LaunchKernel(
          rope_kernels::RopeKernel<T, kHeadDim, kNorm>, static_cast<unsigned>(blocks), kThreads, 0,
          stream, a.style, a.inv_freq, a.positions, a.num_tokens, static_cast<T*>(a.q), a.q_stride,
          a.num_heads, static_cast<T*>(a.k), a.k_stride, a.num_kv_heads, a.q_w, a.k_w, a.eps));
      break;
    }
    default:
      return UnimplementedError("rope: unsupported access path");
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

// Any even head_dim up to kRopeMaxGpuHeadDim: one thread per (token, head).
template <class T, bool kNorm>
Status LaunchRopeAnyHeadDim(const RopeArgs& a, cudaStream_t stream) {
  const int64_t items = a.num_tokens * (a.num_heads + a.num_kv_heads);
  if (items == 0) return Status::Ok();
  const int64_t blocks = (items + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffff) return InvalidArgumentError("rope: too many tokens for one launch");
  CUDA_CHECK(cuda::LaunchKernel(rope_kernels::RopeAnyHeadDimKernel<T, kNorm>,
                                static_cast<unsigned>(blocks), kThreads, 0, stream, a.head_dim,
                                a.style, a.inv_freq, a.positions, a.num_tokens,
                                static_cast<T*>(a.q), a.q_stride, a.num_heads, static_cast<T*>(a.k),
                                a.k_stride, a.num_kv_heads, a.q_w, a.k_w, a.eps));
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

template <class T, bool kNorm>
Status DispatchHeadDim(const RopeArgs& a, AccessPath path, cudaStream_t stream) {
  switch (SelectRopeGpuKernel(a.head_dim, path)) {
    case RopeGpuKernel::kVector:
    case RopeGpuKernel::kWarpPerHead:
      break;  // the compiled head sizes below; LaunchRope follows the path
    case RopeGpuKernel::kThreadPerHead:
      return LaunchRopeAnyHeadDim<T, kNorm>(a, stream);
    case RopeGpuKernel::kUnsupported:
      return UnimplementedError("rope: head_dim " + std::to_string(a.head_dim) +
                                " unsupported on the GPU (even, at most " +
                                std::to_string(kRopeMaxGpuHeadDim) + ")");
  }
  switch (a.head_dim) {
    case 64:
      return LaunchRope<T, 64, kNorm>(a, path, stream);
    case 128:
      return LaunchRope<T, 128, kNorm>(a, path, stream);
    case 256:
      return LaunchRope<T, 256, kNorm>(a, path, stream);
    default:
      return InternalError("rope: no kernel compiled for head_dim " + std::to_string(a.head_dim));
  }
}

template <bool kNorm>
Status RopeAdapter(DType dtype, const RopeArgs& a, cudaStream_t stream) {
  if (a.head_dim <= 0 || a.head_dim % 2 != 0 || a.num_tokens < 0 || a.num_heads < 0 ||
      a.num_kv_heads < 0 || a.q_stride < int64_t{a.num_heads} * a.head_dim ||
      a.k_stride < int64_t{a.num_kv_heads} * a.head_dim)
    return InvalidArgumentError("rope: bad shape: head_dim " + std::to_string(a.head_dim) +
                                ", num_heads " + std::to_string(a.num_heads) + ", num_kv_heads " +
                                std::to_string(a.num_kv_heads) + ", token strides " +
                                std::to_string(a.q_stride) + "/" + std::to_string(a.k_stride));
  if (a.num_tokens > 0 &&
      (a.inv_freq == nullptr || a.positions == nullptr || (a.num_heads > 0 && a.q == nullptr) ||
       (a.num_kv_heads > 0 && a.k == nullptr) || (kNorm && (a.q_w == nullptr || a.k_w == nullptr))))
    return InvalidArgumentError("rope: null pointer");
  const AccessPath path = ChooseRopePath(dtype, a.q, a.q_stride, a.k, a.k_stride);
  switch (dtype) {
    case DType::kF32:
      return DispatchHeadDim<float, kNorm>(a, path, stream);
    case DType::kF16:
      return DispatchHeadDim<__half, kNorm>(a, path, stream);
    case DType::kBF16:
      return DispatchHeadDim<__nv_bfloat16, kNorm>(a, path, stream);
    default:
      return UnimplementedError("rope: unsupported activation dtype " +
                                std::string(DTypeName(dtype)) + " (F32, F16, BF16)");
  }
}

}  // namespace

Status Rope(DType dtype, RopeStyle style, int head_dim, const float* inv_freq,
            const int32_t* positions, int64_t num_tokens, void* q, int64_t q_token_stride,
            int num_heads, void* k, int64_t k_token_stride, int num_kv_heads, cudaStream_t stream) {
  return RopeAdapter<false>(dtype,
                            {style, head_dim, inv_freq, positions, num_tokens, q, q_token_stride,
                             num_heads, k, k_token_stride, num_kv_heads, nullptr, nullptr, 0.f},
                            stream);
}

Status QkNormRope(DType dtype, RopeStyle style, int head_dim, const float* inv_freq,
                  const int32_t* positions, int64_t num_tokens, void* q, int64_t q_token_stride,
                  int num_heads, void* k, int64_t k_token_stride, int num_kv_heads,
                  const float* q_norm_weight, const float* k_norm_weight, float eps,
                  cudaStream_t stream) {
  return RopeAdapter<true>(
      dtype,
      {style, head_dim, inv_freq, positions, num_tokens, q, q_token_stride, num_heads, k,
       k_token_stride, num_kv_heads, q_norm_weight, k_norm_weight, eps},
      stream);
}

}  // namespace hearth
