// Prefill attention over the paged KV cache: flash-attention (online softmax) on tensor cores,
// mma.sync m16n8k16 with bf16/fp16 inputs and fp32 accumulation.
//
// A CTA owns 64 "rows" of one sequence and one kv head: row r is query token tok0 + r / group
// and query head kv_head * group + r % group, so the whole GQA group shares each K/V tile. Its 4
// warps take 16 rows each. K/V are walked in tiles of 64 positions (4 paged blocks of 16), each
// tile copied into shared memory with cp.async from the block table's physical blocks; the V
// copy overlaps S = Q K^T and the next K copy overlaps softmax and O += P V. Shared memory rows
// are XOR-swizzled in 16-byte chunks so that ldmatrix is free of bank conflicts.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_device.cuh"
#include "kernels/attention/tensor_core.cuh"
#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"

namespace hearth::attention {
namespace {

using namespace device;  // NOLINT: the tensor-core helpers

constexpr int kThreads = 128;
constexpr int kRows = kPrefillRowsPerCta;  // rows (query token x head) per CTA
constexpr int kKvTile = 64;                // KV positions per tile
constexpr int kBlockSize = 16;

struct PrefillParams {
  const void* q;
  const void* k_cache;
  const void* v_cache;
  void* out;
  const int32_t* query_start_loc;
  const int32_t* seq_lens;
  const int32_t* block_tables;
  int num_heads, group, tokens_per_cta, max_blocks_per_seq, num_m_tiles;
  kv::PagedKvLayout layout;
  float scale_log2;
};

// Element offset of (row, 16-byte chunk) in a swizzled [rows][kHeadDim] tile.
template <int kHeadDim>
__device__ __forceinline__ int Swz(int row, int chunk) {
  return row * kHeadDim + ((chunk ^ (row & 7)) << 3);
}

// Copies KV positions [kv0, kv0 + kKvTile) of one kv head into a swizzled tile, zero past kv_end.
template <class T, int kHeadDim>
__device__ __forceinline__ void LoadKvTile(T* tile, const T* cache, const int32_t* table,
                                           const kv::PagedKvLayout& layout, int kv_head, int kv0,
                                           int kv_end) {
  constexpr int kChunks = kHeadDim / 8;
  for (int i = threadIdx.x; i < kKvTile * kChunks; i += kThreads) {
    const int r = i / kChunks;
    const int c = i % kChunks;
    const int pos = kv0 + r;
    const bool valid = pos < kv_end;
    const T* src =
        valid ? cache + layout.offset(table[pos / kBlockSize], kv_head, pos % kBlockSize) + c * 8
              : cache;
    CpAsync16(tile + Swz<kHeadDim>(r, c), src, valid);
  }
}

// 3 CTAs per SM at head_dim 128 (168 registers, 48 KiB smem each), 4 at 64: no spills (ptxas -v).
template <class T, int kHeadDim>
__global__ void __launch_bounds__(kThreads, kHeadDim <= 64 ? 4 : 3)
    PrefillKernel(const PrefillParams p) {
  cuda::PdlBegin();
  constexpr int kChunks = kHeadDim / 8;
  constexpr int kDimSteps = kHeadDim / 16;  // k-steps of Q K^T
  constexpr int kDimBlocks = kHeadDim / 8;  // n-blocks of O
  constexpr int kKvBlocks = kKvTile / 8;    // n-blocks of S

  const int seq = blockIdx.z;
  const int kv_head = blockIdx.y;
  // Heavy (late, long-causal) tiles first: they decide the makespan.
  const int m_tile = p.num_m_tiles - 1 - blockIdx.x;
  const int q_begin = p.query_start_loc[seq];
  const int q_len = p.query_start_loc[seq + 1] - q_begin;
  const int tok0 = m_tile * p.tokens_per_cta;
  if (q_len <= 1 || tok0 >= q_len) return;  // decode tokens go to the decode kernel
  const int seq_len = p.seq_lens[seq];
  const int context = seq_len - q_len;
  const int last_tok = min(q_len, tok0 + p.tokens_per_cta) - 1;
  const int kv_end = context + last_tok + 1;
  const int num_tiles = (kv_end + kKvTile - 1) / kKvTile;
  const int valid_rows = (last_tok - tok0 + 1) * p.group;

  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* q_s = reinterpret_cast<T*>(smem_raw);
  T* k_s = q_s + kRows * kHeadDim;
  T* v_s = k_s + kKvTile * kHeadDim;

  const T* q = static_cast<const T*>(p.q);
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  const int32_t* table = p.block_tables + int64_t{seq} * p.max_blocks_per_seq;

  for (int i = threadIdx.x; i < kRows * kChunks; i += kThreads) {
    const int r = i / kChunks;
    const int c = i % kChunks;
    const bool valid = r < valid_rows;
    const int tok = tok0 + r / p.group;
    const int head = kv_head * p.group + r % p.group;
    const T* src = valid ? q + (int64_t{q_begin + tok} * p.num_heads + head) * kHeadDim + c * 8 : q;
    CpAsync16(q_s + Swz<kHeadDim>(r, c), src, valid);
  }
  LoadKvTile<T, kHeadDim>(k_s, k_cache, table, p.layout, kv_head, 0, kv_end);
  CpAsyncCommit();

  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  // The two rows this thread holds in C fragments, and their query positions.
  const int row_a = warp * 16 + lane / 4;
  const int row_b = row_a + 8;
  const int pos_a = context + tok0 + row_a / p.group;
  const int pos_b = context + tok0 + row_b / p.group;
  const int first_pos = context + tok0;  // smallest query position in the CTA

  uint32_t q_frag[kDimSteps][4];
  float o[kDimBlocks][4];
#pragma unroll
  for (int n = 0; n < kDimBlocks; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.f, l_b = 0.f;

  for (int tile = 0; tile < num_tiles; ++tile) {
    const int kv0 = tile * kKvTile;
    LoadKvTile<T, kHeadDim>(v_s, v_cache, table, p.layout, kv_head, kv0, kv_end);
    CpAsyncCommit();
    CpAsyncWait<1>();  // Q and this K tile have landed
    __syncthreads();
    if (tile == 0) {
#pragma unroll
      for (int ks = 0; ks < kDimSteps; ++ks) {
        LdMatrixX4(q_frag[ks], q_s + Swz<kHeadDim>(warp * 16 + lane % 16, ks * 2 + lane / 16));
      }
    }

    float s[kKvBlocks][4];
#pragma unroll
    for (int n = 0; n < kKvBlocks; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int ks = 0; ks < kDimSteps; ++ks) {
#pragma unroll
      for (int n2 = 0; n2 < kKvBlocks / 2; ++n2) {
        uint32_t b[4];
        LdMatrixX4(b, k_s + Swz<kHeadDim>(n2 * 16 + (lane % 8) + (lane / 16) * 8,
                                          ks * 2 + (lane / 8) % 2));
        Mma<T>(s[2 * n2], q_frag[ks], b[0], b[1]);
        Mma<T>(s[2 * n2 + 1], q_frag[ks], b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with k_s
    if (tile + 1 < num_tiles) {
      LoadKvTile<T, kHeadDim>(k_s, k_cache, table, p.layout, kv_head, kv0 + kKvTile, kv_end);
    }
    CpAsyncCommit();  // possibly empty: keeps the group count uniform

    // Scale into the log2 domain and mask: causal, and nothing at or past kv_end.
    const bool needs_mask = kv0 + kKvTile - 1 > first_pos;
#pragma unroll
    for (int n = 0; n < kKvBlocks; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        s[n][i] *= p.scale_log2;
        if (needs_mask) {
          const int pos = kv0 + n * 8 + (lane % 4) * 2 + (i & 1);
          const int qpos = i < 2 ? pos_a : pos_b;
          if (pos > qpos || pos >= kv_end) s[n][i] = -INFINITY;
        }
      }
    }
    float mx_a = m_a, mx_b = m_b;
#pragma unroll
    for (int n = 0; n < kKvBlocks; ++n) {
      mx_a = fmaxf(mx_a, fmaxf(s[n][0], s[n][1]));
      mx_b = fmaxf(mx_b, fmaxf(s[n][2], s[n][3]));
    }
#pragma unroll
    for (int off = 1; off < 4; off *= 2) {
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, off));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, off));
    }
    // A row with nothing visible yet keeps -inf; subtracting 0 then gives exp2(-inf) = 0.
    const float ref_a = mx_a == -INFINITY ? 0.f : mx_a;
    const float ref_b = mx_b == -INFINITY ? 0.f : mx_b;
    const float c_a = FastExp2(m_a - ref_a);
    const float c_b = FastExp2(m_b - ref_b);
    m_a = mx_a;
    m_b = mx_b;
    l_a *= c_a;
    l_b *= c_b;
#pragma unroll
    for (int n = 0; n < kDimBlocks; ++n) {
      o[n][0] *= c_a;
      o[n][1] *= c_a;
      o[n][2] *= c_b;
      o[n][3] *= c_b;
    }
    uint32_t p_frag[kKvTile / 16][4];
#pragma unroll
    for (int n = 0; n < kKvBlocks; ++n) {
      const float p0 = FastExp2(s[n][0] - ref_a), p1 = FastExp2(s[n][1] - ref_a);
      const float p2 = FastExp2(s[n][2] - ref_b), p3 = FastExp2(s[n][3] - ref_b);
      l_a += p0 + p1;
      l_b += p2 + p3;
      // C fragment of n-blocks 2k, 2k+1 -> A fragment of k-step k.
      p_frag[n / 2][(n % 2) * 2 + 0] = Pack2<T>(p0, p1);
      p_frag[n / 2][(n % 2) * 2 + 1] = Pack2<T>(p2, p3);
    }

    CpAsyncWait<1>();  // this V tile has landed (the next K may still be in flight)
    __syncthreads();
#pragma unroll
    for (int ks = 0; ks < kKvTile / 16; ++ks) {
#pragma unroll
      for (int n2 = 0; n2 < kDimBlocks / 2; ++n2) {
        uint32_t b[4];
        LdMatrixX4Trans(b, v_s + Swz<kHeadDim>(ks * 16 + lane % 16, n2 * 2 + lane / 16));
        Mma<T>(o[2 * n2], p_frag[ks], b[0], b[1]);
        Mma<T>(o[2 * n2 + 1], p_frag[ks], b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with v_s
  }
  CpAsyncWait<0>();

#pragma unroll
  for (int off = 1; off < 4; off *= 2) {
    l_a += __shfl_xor_sync(0xffffffffu, l_a, off);
    l_b += __shfl_xor_sync(0xffffffffu, l_b, off);
  }
  T* out = static_cast<T*>(p.out);
  const int rows[2] = {row_a, row_b};
  const float inv[2] = {1.f / l_a, 1.f / l_b};
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = rows[half];
    if (r >= valid_rows) continue;
    const int tok = tok0 + r / p.group;
    const int head = kv_head * p.group + r % p.group;
    T* dst = out + (int64_t{q_begin + tok} * p.num_heads + head) * kHeadDim + (lane % 4) * 2;
#pragma unroll
    for (int n = 0; n < kDimBlocks; ++n) {
      const uint32_t v = Pack2<T>(o[n][half * 2] * inv[half], o[n][half * 2 + 1] * inv[half]);
      *reinterpret_cast<uint32_t*>(dst + n * 8) = v;
    }
  }
}

template <class T, int kHeadDim>
Status Launch(const PrefillParams& p, const Grid3& g, cudaStream_t stream) {
  constexpr int kSmem = (kRows + 2 * kKvTile) * kHeadDim * static_cast<int>(sizeof(T));
  constexpr auto kKernel = &PrefillKernel<T, kHeadDim>;
  HEARTH_RETURN_IF_ERROR(ConfigureSharedMemoryOnce<kKernel>(kSmem));
  CUDA_CHECK(cuda::LaunchKernel(PrefillKernel<T, kHeadDim>, dim3(g.x, g.y, g.z), kThreads, kSmem,
                                stream, p));
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

template <class T>
Status DispatchHeadDim(const PrefillParams& p, const Grid3& g, cudaStream_t s) {
  switch (p.layout.head_dim) {
    case 64:
      return Launch<T, 64>(p, g, s);
    case 128:
      return Launch<T, 128>(p, g, s);
    default:
      return UnimplementedError("prefill attention: head_dim " + std::to_string(p.layout.head_dim) +
                                " unsupported (64, 128)");
  }
}

}  // namespace

Status LaunchPrefillAttentionMmaSync(const PagedAttentionArgs& a, cudaStream_t stream) {
  if (a.layout.block_size != kBlockSize) {
    return UnimplementedError("prefill attention: block_size " +
                              std::to_string(a.layout.block_size) + " unsupported (16)");
  }
  const int group = a.num_heads / a.layout.num_kv_heads;
  if (group > kRows) {
    return UnimplementedError("prefill attention: GQA group " + std::to_string(group) +
                              " larger than " + std::to_string(kRows));
  }
  PrefillParams p{};
  p.q = a.q;
  p.k_cache = a.k_cache;
  p.v_cache = a.v_cache;
  p.out = a.out;
  p.query_start_loc = a.query_start_loc;
  p.seq_lens = a.seq_lens;
  p.block_tables = a.block_tables;
  p.num_heads = a.num_heads;
  p.group = group;
  p.tokens_per_cta = PrefillTokensPerCta(group);
  p.max_blocks_per_seq = a.max_blocks_per_seq;
  p.layout = a.layout;
  p.scale_log2 = a.scale * device::kLog2e;
  const Grid3 g = PrefillGrid(a.max_query_len, group, a.layout.num_kv_heads, a.num_seqs);
  p.num_m_tiles = static_cast<int>(g.x);
  if (g.x == 0 || g.z == 0) return Status::Ok();
  if (g.x > INT32_MAX || g.y > 65535 || g.z > 65535) {
    return InvalidArgumentError("prefill attention: grid too large (at most 65535 sequences)");
  }
  switch (a.dtype) {
    case DType::kBF16:
      return DispatchHeadDim<__nv_bfloat16>(p, g, stream);
    case DType::kF16:
      return DispatchHeadDim<__half>(p, g, stream);
    default:
      return UnimplementedError("prefill attention: dtype " + std::string(DTypeName(a.dtype)) +
                                " unsupported on tensor cores (BF16, F16)");
  }
}

}  // namespace hearth::attention
