// Decode attention over the paged KV cache: one query token against its sequence's K/V, read
// through the block table. One CTA per (work item, kv head, head chunk, KV split); the query
// heads of a chunk share every K/V load (GQA), so with a chunk covering the whole group each KV
// byte is read once. With split-KV each CTA covers tokens_per_split tokens and a merge kernel
// combines the partial outputs by their log-sum-exp (flash-decoding).
//
// Work items: in decode mode one per sequence with q_len == 1 (other sequences are skipped); in
// per-token mode one per query token of the step (causal: token at position p sees [0, p]), the
// scalar path that fp32 validation uses for prefill.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_device.cuh"
#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"

namespace hearth::attention {
namespace {

constexpr int kThreads = 128;
constexpr int kUnroll = 4;  // tokens a thread group loads before it computes (bytes in flight)

struct DecodeParams {
  const void* q;
  const void* k_cache;
  const void* v_cache;
  void* out;
  const int32_t* query_start_loc;
  const int32_t* seq_lens;
  const int32_t* block_tables;
  float* partial_out;  // [num_work, num_heads, num_splits, head_dim]
  float* partial_lse;  // [num_work, num_heads, num_splits] (log2 domain)
  int num_seqs, num_heads, group, max_blocks_per_seq;
  kv::PagedKvLayout layout;
  float scale_log2;  // scale * log2(e)
  int num_splits, tokens_per_split;
  int block_shift;  // log2(block_size): positions map to blocks by shift and mask
  bool per_token;
};

// Resolves work item -> (token, sequence, KV length). False if the item is not this kernel's.
__device__ __forceinline__ bool ResolveWork(const DecodeParams& p, int work, int* token, int* seq,
                                            int* kv_len) {
  if (!p.per_token) {
    const int begin = p.query_start_loc[work];
    if (p.query_start_loc[work + 1] - begin != 1) return false;
    *token = begin;
    *seq = work;
    *kv_len = p.seq_lens[work];
    return true;
  }
  // Last sequence whose start is <= work (query_start_loc is non-decreasing).
  int lo = 0, hi = p.num_seqs;  // answer in [lo, hi)
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (p.query_start_loc[mid] <= work)
      lo = mid;
    else
      hi = mid;
  }
  // Skip empty sequences that share this start.
  while (lo + 1 < p.num_seqs && p.query_start_loc[lo + 1] <= work) ++lo;
  const int q_len = p.query_start_loc[lo + 1] - p.query_start_loc[lo];
  *token = work;
  *seq = lo;
  *kv_len = p.seq_lens[lo] - q_len + (work - p.query_start_loc[lo]) + 1;
  return true;
}

// The tokens each split of a sequence of kv_len positions covers. Each sequence spreads over the
// splits by its own length: the plan's tokens_per_split is sized for the step's longest possible
// sequence (a padded graph step's is the whole context, 131072 tokens for Llama 3.1), which would
// put a 2000-token sequence in one split (one CTA per KV head). Never below
// kDecodeMinTokensPerSplit (shorter sequences stay in split 0, as their result then does not
// depend on the plan), never above the plan's (its workspace bound).
__device__ __forceinline__ int SplitTokens(const DecodeParams& p, int kv_len) {
  if (p.num_splits <= 1) return p.tokens_per_split;
  const int even = (kv_len + p.num_splits - 1) / p.num_splits;
  const int bs = 1 << p.block_shift;
  return min(p.tokens_per_split, max(kDecodeMinTokensPerSplit, (even + bs - 1) / bs * bs));
}

// kHeads: query heads per CTA (a divisor of the GQA group).
template <class T, int kHeadDim, int kHeads>
__global__ void __launch_bounds__(kThreads) DecodeKernel(const DecodeParams p) {
  cuda::PdlBegin();
  constexpr int kLanes = kHeadDim / 8;        // threads per token (8 dims each)
  constexpr int kGroups = kThreads / kLanes;  // tokens in flight per unrolled step
  static_assert(kLanes <= 32 && 32 % kLanes == 0, "a token's lanes must sit in one warp");

  const int work = blockIdx.x;
  const int chunks_per_kv_head = p.group / kHeads;
  const int kv_head = blockIdx.y / chunks_per_kv_head;
  const int head0 = kv_head * p.group + (blockIdx.y % chunks_per_kv_head) * kHeads;
  const int split = blockIdx.z;
  int token, seq, kv_len;
  if (!ResolveWork(p, work, &token, &seq, &kv_len)) return;

  const int per = SplitTokens(p, kv_len);
  // A sequence within one split is done by split 0 alone, which writes the output itself (the
  // merge skips it); the splits past a sequence's end write nothing (the merge reads only the
  // splits the sequence uses). Split 0 runs even for an empty sequence, as before.
  const bool whole = kv_len <= per;
  if (split > 0 && split * per >= kv_len) return;
  const int start = split * per;
  const int end = min(kv_len, start + per);
  const int grp = threadIdx.x / kLanes;
  const int lane = threadIdx.x % kLanes;
  const int dim0 = lane * 8;

  const T* q = static_cast<const T*>(p.q);
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  const int32_t* table = p.block_tables + int64_t{seq} * p.max_blocks_per_seq;

  float qf[kHeads][8];
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
    device::Vec8<T> v;
    v.Load(q + (int64_t{token} * p.num_heads + head0 + h) * kHeadDim + dim0);
    v.ToFloats(qf[h]);
#pragma unroll
    for (int d = 0; d < 8; ++d) qf[h][d] *= p.scale_log2;
  }
  float m[kHeads], l[kHeads], acc[kHeads][8];
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
    m[h] = -INFINITY;
    l[h] = 0.f;
#pragma unroll
    for (int d = 0; d < 8; ++d) acc[h][d] = 0.f;
  }

  const int in_block_mask = p.layout.block_size - 1;
  for (int base = start; base < end; base += kGroups * kUnroll) {
    device::Vec8<T> kv[kUnroll], vv[kUnroll];
    bool valid[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int t = base + u * kGroups + grp;
      valid[u] = t < end;
      if (valid[u]) {
        const int64_t off =
            p.layout.offset(table[t >> p.block_shift], kv_head, t & in_block_mask) + dim0;
        kv[u].Load(k_cache + off);
        vv[u].Load(v_cache + off);
      } else {
        kv[u].Zero();
        vv[u].Zero();
      }
    }
    float s[kUnroll][kHeads];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float kf[8];
      kv[u].ToFloats(kf);
#pragma unroll
      for (int h = 0; h < kHeads; ++h) {
        float dot = 0.f;
#pragma unroll
        for (int d = 0; d < 8; ++d) dot = fmaf(qf[h][d], kf[d], dot);
          // Every lane of the warp takes part (invalid tokens hold zeros), as the shuffle needs.
#pragma unroll
        for (int o = kLanes / 2; o > 0; o /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, o, kLanes);
        s[u][h] = valid[u] ? dot : -INFINITY;
      }
    }
#pragma unroll
    for (int h = 0; h < kHeads; ++h) {
      float m_new = m[h];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) m_new = fmaxf(m_new, s[u][h]);
      if (m_new == -INFINITY) continue;  // nothing valid for this group yet
      const float c = exp2f(m[h] - m_new);
      l[h] *= c;
#pragma unroll
      for (int d = 0; d < 8; ++d) acc[h][d] *= c;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const float pr = exp2f(s[u][h] - m_new);
        l[h] += pr;
        float vf[8];
        vv[u].ToFloats(vf);
#pragma unroll
        for (int d = 0; d < 8; ++d) acc[h][d] = fmaf(pr, vf[d], acc[h][d]);
      }
      m[h] = m_new;
    }
  }

  // Merge the kGroups token groups of the CTA.
  __shared__ float red_m[kGroups][kHeads];
  __shared__ float red_l[kGroups][kHeads];
  __shared__ float red_acc[kGroups][kHeads][kHeadDim];
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
    if (lane == 0) {
      red_m[grp][h] = m[h];
      red_l[grp][h] = l[h];
    }
#pragma unroll
    for (int d = 0; d < 8; ++d) red_acc[grp][h][dim0 + d] = acc[h][d];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kHeads * kHeadDim; i += kThreads) {
    const int h = i / kHeadDim;
    const int d = i % kHeadDim;
    float mx = -INFINITY;
    for (int g = 0; g < kGroups; ++g) mx = fmaxf(mx, red_m[g][h]);
    float sum = 0.f, o = 0.f;
    if (mx != -INFINITY) {
      for (int g = 0; g < kGroups; ++g) {
        const float w = exp2f(red_m[g][h] - mx);
        sum += red_l[g][h] * w;
        o += red_acc[g][h][d] * w;
      }
    }
    const int head = head0 + h;
    if (whole) {  // the merge's result for one split, o / sum, bit for bit
      static_cast<T*>(p.out)[(int64_t{token} * p.num_heads + head) * kHeadDim + d] =
          device::FromFloat<T>(o / sum);
    } else {
      const int64_t slot = (int64_t{work} * p.num_heads + head) * p.num_splits + split;
      p.partial_out[slot * kHeadDim + d] = sum > 0.f ? o / sum : 0.f;
      if (d == 0) p.partial_lse[slot] = sum > 0.f ? mx + log2f(sum) : -INFINITY;
    }
  }
}

// Combines the partials of one (work item, head) by their log-sum-exp: those of the splits the
// sequence uses (SplitTokens), none for a sequence within one split (DecodeKernel wrote it).
template <class T, int kHeadDim>
__global__ void __launch_bounds__(kThreads) MergeKernel(const DecodeParams p) {
  cuda::PdlBegin();
  const int work = blockIdx.x;
  const int head = blockIdx.y;
  int token, seq, kv_len;
  if (!ResolveWork(p, work, &token, &seq, &kv_len)) return;
  const int per = SplitTokens(p, kv_len);
  if (kv_len <= per) return;
  const int used = min(p.num_splits, (kv_len + per - 1) / per);
  const int64_t slot0 = (int64_t{work} * p.num_heads + head) * p.num_splits;
  float mx = -INFINITY;
  for (int s = 0; s < used; ++s) mx = fmaxf(mx, p.partial_lse[slot0 + s]);
  for (int d = threadIdx.x; d < kHeadDim; d += kThreads) {
    float sum = 0.f, o = 0.f;
    for (int s = 0; s < used; ++s) {
      const float lse = p.partial_lse[slot0 + s];
      if (lse == -INFINITY) continue;
      const float w = exp2f(lse - mx);
      sum += w;
      o += w * p.partial_out[(slot0 + s) * kHeadDim + d];
    }
    static_cast<T*>(p.out)[(int64_t{token} * p.num_heads + head) * kHeadDim + d] =
        device::FromFloat<T>(o / sum);
  }
}

template <class T, int kHeadDim, int kHeads>
Status Launch(const DecodeParams& p, int num_work, int num_kv_heads, cudaStream_t stream) {
  const Grid3 g = DecodeGrid(num_work, num_kv_heads, p.group, p.num_splits);
  if (g.x > INT32_MAX || g.y > 65535 || g.z > 65535) {
    return InvalidArgumentError("decode attention: grid too large");
  }
  CUDA_CHECK(cuda::LaunchKernel(DecodeKernel<T, kHeadDim, kHeads>, dim3(g.x, g.y, g.z), kThreads, 0,
                                stream, p));
  CUDA_CHECK_LAUNCH();
  if (p.num_splits > 1) {
    CUDA_CHECK(cuda::LaunchKernel(MergeKernel<T, kHeadDim>, dim3(num_work, p.num_heads), kThreads,
                                  0, stream, p));
    CUDA_CHECK_LAUNCH();
  }
  return Status::Ok();
}

// One instantiation per heads-per-CTA value DecodeHeadsPerCta can return.
template <class T, int kHeadDim>
Status DispatchHeads(const DecodeParams& p, int num_work, int num_kv_heads, cudaStream_t s) {
  switch (DecodeHeadsPerCta(p.group)) {
    case 8:
      return Launch<T, kHeadDim, 8>(p, num_work, num_kv_heads, s);
    case 4:
      return Launch<T, kHeadDim, 4>(p, num_work, num_kv_heads, s);
    case 2:
      return Launch<T, kHeadDim, 2>(p, num_work, num_kv_heads, s);
    case 1:
      return Launch<T, kHeadDim, 1>(p, num_work, num_kv_heads, s);
    default:
      return InternalError("decode attention: unexpected heads per CTA");
  }
}

template <class T>
Status DispatchHeadDim(const DecodeParams& p, int num_work, int num_kv_heads, cudaStream_t s) {
  // One case per entry of kDecodeHeadDims (attention_plan.h), the list the runner checks.
  switch (p.layout.head_dim) {
    // 8, 16 and 32: the tiny validation models (one, two or four lanes per token; no tensor
    // cores). With 8 a thread holds a whole head: kLanes == 1, no shuffle reduction.
    case 8:
      return DispatchHeads<T, 8>(p, num_work, num_kv_heads, s);
    case 16:
      return DispatchHeads<T, 16>(p, num_work, num_kv_heads, s);
    case 32:
      return DispatchHeads<T, 32>(p, num_work, num_kv_heads, s);
    case 64:
      return DispatchHeads<T, 64>(p, num_work, num_kv_heads, s);
    case 128:
      return DispatchHeads<T, 128>(p, num_work, num_kv_heads, s);
    default:
      return UnimplementedError("decode attention: head_dim " + std::to_string(p.layout.head_dim) +
                                " unsupported (" + DecodeHeadDimsString() + ")");
  }
}

}  // namespace

Status LaunchDecodeAttention(const PagedAttentionArgs& a, const DecodePlan& plan, bool per_token,
                             void* workspace, cudaStream_t stream) {
  DecodeParams p{};
  p.q = a.q;
  p.k_cache = a.k_cache;
  p.v_cache = a.v_cache;
  p.out = a.out;
  p.query_start_loc = a.query_start_loc;
  p.seq_lens = a.seq_lens;
  p.block_tables = a.block_tables;
  p.num_seqs = a.num_seqs;
  p.num_heads = a.num_heads;
  p.group = a.num_heads / a.layout.num_kv_heads;
  p.max_blocks_per_seq = a.max_blocks_per_seq;
  p.layout = a.layout;
  p.scale_log2 = a.scale * device::kLog2e;
  p.num_splits = plan.kind == DecodeKind::kSplitKv ? plan.num_splits : 1;
  p.tokens_per_split = p.num_splits > 1 ? plan.tokens_per_split : (1 << 30);
  p.per_token = per_token;
  const int bs = a.layout.block_size;
  if (bs <= 0 || (bs & (bs - 1)) != 0) {
    return UnimplementedError("decode attention: block_size " + std::to_string(bs) +
                              " unsupported (a power of two)");
  }
  p.block_shift = 0;
  while ((1 << p.block_shift) < bs) ++p.block_shift;
  const int num_work = per_token ? a.num_tokens : a.num_seqs;
  if (num_work == 0) return Status::Ok();
  if (p.num_splits > 1) {
    if (workspace == nullptr) return InvalidArgumentError("split-KV decode needs a workspace");
    p.partial_out = static_cast<float*>(workspace);
    p.partial_lse =
        p.partial_out + int64_t{num_work} * a.num_heads * p.num_splits * a.layout.head_dim;
  }
  if (p.num_splits > 65535) return InvalidArgumentError("too many KV splits");
  switch (a.dtype) {
    case DType::kBF16:
      return DispatchHeadDim<__nv_bfloat16>(p, num_work, a.layout.num_kv_heads, stream);
    case DType::kF16:
      return DispatchHeadDim<__half>(p, num_work, a.layout.num_kv_heads, stream);
    case DType::kF32:
      return DispatchHeadDim<float>(p, num_work, a.layout.num_kv_heads, stream);
    default:
      return UnimplementedError("decode attention: dtype " + std::string(DTypeName(a.dtype)) +
                                " unsupported (BF16, F16, F32)");
  }
}

}  // namespace hearth::attention
