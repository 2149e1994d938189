// Prefill attention on Hopper warpgroup MMA (wgmma, sm_90a): the flash-attention loop of
// prefill_attention.cu with S = Q K^T and O += P V issued as asynchronous warpgroup MMAs.
//
// A CTA owns 128 rows of one sequence and kv head (row r: query token tok0 + r / group, query
// head kv_head * group + r % group, so the GQA group shares each K/V tile); warpgroup g of its
// two owns rows [64g, 64g + 64). Q stays in shared memory as the A operand of S. K/V tiles of 64
// positions (4 paged blocks of 16) are copied by all 256 threads with cp.async into a two-stage
// ring, the next tile's copy landing during this tile's math (one barrier per tile), in the
// 128-byte-swizzled layout wgmma
// reads (tensor_core.cuh). S arrives in registers in the mma.sync C layout, so the online
// softmax is the mma.sync kernel's, and P goes back as the register A operand of P V, with V read
// N-major (transposed B) straight from its [position][head_dim] tile. Every wgmma is
// m64n64k16: P V is issued per 64-wide chunk of head_dim, so no descriptor spans two swizzle
// atoms along n (the leading-dimension offset never matters).
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

constexpr int kWarpgroups = 2;
constexpr int kThreads = 128 * kWarpgroups;
constexpr int kRows = kPrefillWgmmaRowsPerCta;  // rows (query token x head) per CTA
static_assert(kRows == 64 * kWarpgroups, "a warpgroup's wgmma covers 64 rows");
constexpr int kKvTile = 64;  // KV positions per tile
constexpr int kBlockSize = 16;
constexpr int kStages = 2;
constexpr uint32_t kRowBytes = 128;    // one 64-element chunk of a row
constexpr uint32_t kAtomBytes = 1024;  // 8 swizzled rows

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

template <int kHeadDim>
struct SmemLayout {
  static constexpr uint32_t kQBytes = kRows * kHeadDim * 2;
  static constexpr uint32_t kTileBytes = kKvTile * kHeadDim * 2;       // one K or V tile
  static constexpr uint32_t kStageBytes = 2 * kTileBytes;              // K then V
  static constexpr uint32_t kBytes = kQBytes + kStages * kStageBytes;  // from a 1024-aligned base
  static constexpr uint32_t kAllocBytes = kBytes + kAtomBytes;         // + alignment slack
};

// Byte offset of 16-byte piece `piece` (of kHeadDim / 8) of row `row` in a swizzled tile of
// kTileRows rows stored as [kHeadDim / 64 chunks][kTileRows][64 elements].
template <int kTileRows>
__device__ __forceinline__ uint32_t TileOffset(int row, int piece) {
  return static_cast<uint32_t>(piece / 8) * (kTileRows * kRowBytes) + Swizzle128(row, piece % 8);
}

// Copies K/V tiles of one kv head into swizzled tiles. A thread's pieces lie kRowsPerPass rows
// apart (a multiple of the block size and of the swizzle period), so they share one offset inside
// their physical blocks and one swizzle phase: per tile a thread reads kPasses block-table
// entries, each serving one K and one V piece.
template <class T, int kHeadDim>
struct KvTileCopier {
  static constexpr int kPieces = kHeadDim / 8;
  static constexpr int kRowsPerPass = kThreads / kPieces;  // 16 at head_dim 128, 32 at 64
  static constexpr int kPasses = kKvTile / kRowsPerPass;
  static_assert(kRowsPerPass % kBlockSize == 0 && kRowsPerPass % 8 == 0 &&
                    kKvTile % kRowsPerPass == 0,
                "a thread's rows must share block offset and swizzle phase");

  int row0;              // this thread's first row of a tile
  uint32_t dst0;         // its byte offset in a tile
  const T* k_src;        // its piece in physical block 0 of the K cache: (kv head, row0 % 16)
  const T* v_src;        // the same in the V cache
  int64_t block_stride;  // elements

  __device__ __forceinline__ KvTileCopier(const T* k_cache, const T* v_cache,
                                          const kv::PagedKvLayout& layout, int kv_head) {
    row0 = static_cast<int>(threadIdx.x) / kPieces;
    const int piece = static_cast<int>(threadIdx.x) % kPieces;
    dst0 = TileOffset<kKvTile>(row0, piece);
    const int64_t in_block = layout.offset(0, kv_head, row0 % kBlockSize) + piece * 8;
    k_src = k_cache + in_block;
    v_src = v_cache + in_block;
    block_stride = layout.block_stride();
  }

  // KV positions [kv0, kv0 + kKvTile) into k_tile / v_tile; zero at and past kv_end, where the
  // block table is not read (nor the cache: the zero-filling copy reads no bytes).
  __device__ __forceinline__ void Copy(unsigned char* k_tile, unsigned char* v_tile,
                                       const int32_t* table, int kv0, int kv_end) const {
#pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const int pos = kv0 + row0 + i * kRowsPerPass;
      const bool valid = pos < kv_end;
      const int64_t off = valid ? int64_t{table[pos / kBlockSize]} * block_stride : 0;
      const uint32_t dst = dst0 + i * kRowsPerPass * kRowBytes;
      CpAsync16(k_tile + dst, k_src + off, valid);
      CpAsync16(v_tile + dst, v_src + off, valid);
    }
  }
};

// The descriptor of `desc`'s operand moved by `bytes` (a multiple of 16): the start address field
// (bits 0-13, in 16-byte units) cannot carry out, shared memory being under 256 KiB.
__device__ __forceinline__ uint64_t DescPlus(uint64_t desc, uint32_t bytes) {
  const uint32_t lo = static_cast<uint32_t>(desc) + (bytes >> 4);
  return (desc & 0xFFFFFFFF00000000ull) | lo;
}

// Two CTAs per SM (ptxas: 128 registers at head_dim 128, 113 at 64, no spills; 97 KiB of shared
// memory each at 128), so one CTA's softmax overlaps the other's MMAs.
template <class T, int kHeadDim>
__global__ void __launch_bounds__(kThreads, 2) PrefillWgmmaKernel(const PrefillParams p) {
  cuda::PdlBegin();
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __trap();  // built for an architecture without wgmma; SelectPrefillKernel never picks it there
#else
  using Smem = SmemLayout<kHeadDim>;
  constexpr int kChunks = kHeadDim / 64;    // 64-wide chunks of head_dim (n-chunks of O)
  constexpr int kDimSteps = kHeadDim / 16;  // k-steps of Q K^T
  constexpr int kKvSteps = kKvTile / 16;    // k-steps of P V
  constexpr int kKvBlocks = kKvTile / 8;    // n8 blocks of S
  constexpr int kPieces = kHeadDim / 8;

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

  // Swizzle atoms must start on 1024-byte shared-memory boundaries.
  extern __shared__ __align__(16) unsigned char smem_raw[];
  unsigned char* smem =
      smem_raw + ((kAtomBytes - (SmemAddr(smem_raw) & (kAtomBytes - 1))) & (kAtomBytes - 1));
  unsigned char* q_s = smem;
  unsigned char* stage_s = smem + Smem::kQBytes;  // [kStages][K tile, V tile]

  const T* q = static_cast<const T*>(p.q);
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  const int32_t* table = p.block_tables + int64_t{seq} * p.max_blocks_per_seq;

  for (int i = threadIdx.x; i < kRows * kPieces; i += kThreads) {
    const int r = i / kPieces;
    const int c = i % kPieces;
    const bool valid = r < valid_rows;
    const int tok = tok0 + r / p.group;
    const int head = kv_head * p.group + r % p.group;
    const T* src = valid ? q + (int64_t{q_begin + tok} * p.num_heads + head) * kHeadDim + c * 8 : q;
    CpAsync16(q_s + TileOffset<kRows>(r, c), src, valid);
  }
  const KvTileCopier<T, kHeadDim> copier(k_cache, v_cache, p.layout, kv_head);
  copier.Copy(stage_s, stage_s + Smem::kTileBytes, table, 0, kv_end);
  CpAsyncCommit();

  const int wg = threadIdx.x / 128;
  const int warp = (threadIdx.x % 128) / 32;  // within the warpgroup
  const int lane = threadIdx.x % 32;
  // The two rows this thread holds in the accumulators, and their query positions.
  const int row_a = wg * 64 + warp * 16 + lane / 4;
  const int row_b = row_a + 8;
  const int pos_a = context + tok0 + row_a / p.group;
  const int pos_b = context + tok0 + row_b / p.group;
  // Smallest query position of this warp's rows: tiles wholly at or below it need no mask.
  const int warp_first_pos = context + tok0 + (wg * 64 + warp * 16) / p.group;
  // This warpgroup's 64 Q rows: the A operand of S.
  const uint32_t q_addr = SmemAddr(q_s) + wg * 64 * kRowBytes;

  float o[kChunks][32];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
#pragma unroll
    for (int i = 0; i < 32; ++i) o[c][i] = 0.f;
  }
  float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.f, l_b = 0.f;

  for (int tile = 0; tile < num_tiles; ++tile) {
    const int kv0 = tile * kKvTile;
    const int stage = tile % kStages;
    // This tile (and Q) has landed for every thread, and every warpgroup is done with the last
    // tile, whose stage the copy below refills: one barrier a tile.
    CpAsyncWait<0>();
    FenceProxyAsyncShared();
    __syncthreads();
    // The next tile's copy lands during this tile's math.
    if (tile + 1 < num_tiles) {
      unsigned char* next = stage_s + (stage ^ 1) * Smem::kStageBytes;
      copier.Copy(next, next + Smem::kTileBytes, table, kv0 + kKvTile, kv_end);
      CpAsyncCommit();
    }

    const uint32_t k_addr = SmemAddr(stage_s + stage * Smem::kStageBytes);
    const uint64_t q_desc = WgmmaDesc(q_addr, 16, kAtomBytes);
    const uint64_t k_desc = WgmmaDesc(k_addr, 16, kAtomBytes);
    const uint64_t v_desc = WgmmaDesc(k_addr + Smem::kTileBytes, kAtomBytes, kAtomBytes);

    // S[64 x kKvTile] = Q K^T: both K-major; k-step ks is 32 bytes into chunk ks / 4.
    float s[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) s[i] = 0.f;
#pragma unroll
    for (int i = 0; i < 32; ++i) PinRegister(s[i]);
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < kDimSteps; ++ks) {
      const uint32_t in_chunk = (ks % 4) * 32;
      WgmmaSS<T>(s, DescPlus(q_desc, (ks / 4) * (kRows * kRowBytes) + in_chunk),
                 DescPlus(k_desc, (ks / 4) * (kKvTile * kRowBytes) + in_chunk));
    }
    WgmmaCommit();
    WgmmaWait<0>();
#pragma unroll
    for (int i = 0; i < 32; ++i) PinRegister(s[i]);

    // Mask (causal, and nothing at or past kv_end) in raw scores; the scale (> 0, so the max
    // commutes with it) folds into the exponent: p = 2^(s * scale_log2 - m * scale_log2).
    if (kv0 + kKvTile - 1 > warp_first_pos) {
      // Last visible column of each row relative to this thread's first column in the tile.
      const int col0 = kv0 + (lane % 4) * 2;
      const int lim_a = min(pos_a, kv_end - 1) - col0;
      const int lim_b = min(pos_b, kv_end - 1) - col0;
#pragma unroll
      for (int n = 0; n < kKvBlocks; ++n) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          if (n * 8 + (i & 1) > (i < 2 ? lim_a : lim_b)) s[n * 4 + i] = -INFINITY;
        }
      }
    }
    float mx_a = m_a, mx_b = m_b;
#pragma unroll
    for (int n = 0; n < kKvBlocks; ++n) {
      mx_a = fmaxf(mx_a, fmaxf(s[n * 4 + 0], s[n * 4 + 1]));
      mx_b = fmaxf(mx_b, fmaxf(s[n * 4 + 2], s[n * 4 + 3]));
    }
#pragma unroll
    for (int off = 1; off < 4; off *= 2) {
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, off));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, off));
    }
    // A row with nothing visible yet keeps -inf; subtracting 0 then gives 2^-inf = 0.
    const float ref_a = mx_a == -INFINITY ? 0.f : mx_a * p.scale_log2;
    const float ref_b = mx_b == -INFINITY ? 0.f : mx_b * p.scale_log2;
    const float c_a = FastExp2(m_a * p.scale_log2 - ref_a);
    const float c_b = FastExp2(m_b * p.scale_log2 - ref_b);
    m_a = mx_a;
    m_b = mx_b;
    l_a *= c_a;
    l_b *= c_b;
    // Once the running maxima settle, most tiles leave every row's max unchanged (c == 1
    // exactly): the warp then skips the 64 multiplications by one.
    if (!__all_sync(0xffffffffu, c_a == 1.f && c_b == 1.f)) {
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          o[c][4 * j + 0] *= c_a;
          o[c][4 * j + 1] *= c_a;
          o[c][4 * j + 2] *= c_b;
          o[c][4 * j + 3] *= c_b;
        }
      }
    }
    // C layout of n8 blocks 2k, 2k+1 -> register A operand of k-step k.
    uint32_t p_frag[kKvSteps][4];
#pragma unroll
    for (int n = 0; n < kKvBlocks; ++n) {
      const float p0 = FastExp2(fmaf(s[n * 4 + 0], p.scale_log2, -ref_a));
      const float p1 = FastExp2(fmaf(s[n * 4 + 1], p.scale_log2, -ref_a));
      const float p2 = FastExp2(fmaf(s[n * 4 + 2], p.scale_log2, -ref_b));
      const float p3 = FastExp2(fmaf(s[n * 4 + 3], p.scale_log2, -ref_b));
      l_a += p0 + p1;
      l_b += p2 + p3;
      p_frag[n / 2][(n % 2) * 2 + 0] = Pack2<T>(p0, p1);
      p_frag[n / 2][(n % 2) * 2 + 1] = Pack2<T>(p2, p3);
    }

    // O[64 x kHeadDim] += P V per 64-wide chunk of head_dim: V N-major (transposed B), k-step
    // ks is 16 positions = 2 atoms further; k rows 8 apart by one atom.
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
      for (int i = 0; i < 32; ++i) PinRegister(o[c][i]);
    }
    WgmmaFence();
#pragma unroll
    for (int ks = 0; ks < kKvSteps; ++ks) {
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const uint64_t b_desc = DescPlus(v_desc, c * (kKvTile * kRowBytes) + ks * 2 * kAtomBytes);
        WgmmaRSTransB<T>(o[c], p_frag[ks], b_desc);
      }
    }
    WgmmaCommit();
    WgmmaWait<0>();
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
      for (int i = 0; i < 32; ++i) PinRegister(o[c][i]);
    }
  }

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
    for (int c = 0; c < kChunks; ++c) {
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const uint32_t v =
            Pack2<T>(o[c][4 * j + half * 2] * inv[half], o[c][4 * j + half * 2 + 1] * inv[half]);
        *reinterpret_cast<uint32_t*>(dst + c * 64 + j * 8) = v;
      }
    }
  }
#endif
}

template <class T, int kHeadDim>
Status Launch(const PrefillParams& p, const Grid3& g, cudaStream_t stream) {
  constexpr int kSmem = static_cast<int>(SmemLayout<kHeadDim>::kAllocBytes);
  // All of the unified L1/shared storage as shared memory, so that two CTAs fit an SM (the copies
  // bypass L1 anyway).
  constexpr auto kKernel = &PrefillWgmmaKernel<T, kHeadDim>;
  HEARTH_RETURN_IF_ERROR(ConfigureSharedMemoryOnce<kKernel>(kSmem, /*max_carveout=*/true));
  CUDA_CHECK(cuda::LaunchKernel(PrefillWgmmaKernel<T, kHeadDim>, dim3(g.x, g.y, g.z), kThreads,
                                kSmem, stream, p));
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
      return UnimplementedError("prefill attention (wgmma): head_dim " +
                                std::to_string(p.layout.head_dim) + " unsupported (64, 128)");
  }
}

}  // namespace

Status LaunchPrefillAttentionWgmma(const PagedAttentionArgs& a, cudaStream_t stream) {
  if (a.layout.block_size != kBlockSize) {
    return UnimplementedError("prefill attention: block_size " +
                              std::to_string(a.layout.block_size) + " unsupported (16)");
  }
  if (!(a.scale > 0.f)) {
    return InvalidArgumentError("prefill attention (wgmma): softmax scale " +
                                std::to_string(a.scale) + " must be positive");
  }
  const int group = a.num_heads / a.layout.num_kv_heads;
  if (group > kRows) {
    return UnimplementedError("prefill attention (wgmma): GQA group " + std::to_string(group) +
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
  p.tokens_per_cta = PrefillTokensPerCta(group, kRows);
  p.max_blocks_per_seq = a.max_blocks_per_seq;
  p.layout = a.layout;
  p.scale_log2 = a.scale * device::kLog2e;
  const Grid3 g = PrefillGrid(a.max_query_len, group, a.layout.num_kv_heads, a.num_seqs, kRows);
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
