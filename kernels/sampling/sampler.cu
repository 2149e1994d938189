#include <cfloat>
#include <climits>
#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/sampling/philox.h"
#include "kernels/sampling/sampler.h"

namespace hearth {
namespace sampling_kernels {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 256;

struct KernelArgs {
  float* logits;  // [num_seqs, vocab], penalized in place
  int vocab;
  int num_chunks;  // of the split pass, whose partials this kernel reads
  const SamplingParams* params;
  const int64_t* steps;
  PenaltyLists pen;
  SamplerOutputs out;
};

struct Shared {
  float hist[kWarps][kBins];  // per-warp radix histograms: contention stays within a warp
  float red_f[kWarps];
  int red_i[kWarps];
  uint32_t sel_prefix;
  float sel_above;
  int num_gt, num_eq;
  float gt_val[kMaxLogprobs], eq_val[kMaxLogprobs];
  int gt_idx[kMaxLogprobs], eq_idx[kMaxLogprobs];
  float raw_token_logit;
  float part_lse, part_max;
  int part_argmax;
};

// Float -> uint32 with the same order (negative floats reversed below the positive ones).
__device__ __forceinline__ uint32_t OrderedKey(float f) {
  const uint32_t b = __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float KeyToFloat(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

__device__ __forceinline__ bool Better(float v, int i, float bv, int bi) {
  return v > bv || (v == bv && i < bi);
}

__device__ float BlockSum(float v, Shared& sh) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh.red_f[threadIdx.x >> 5] = v;
  __syncthreads();
  v = sh.red_f[threadIdx.x & 31];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Block-wide argmax of (value, index), lowest index on ties; every thread gets the index.
__device__ int BlockArgMax(float v, int i, Shared& sh) {
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (Better(ov, oi, v, i)) v = ov, i = oi;
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh.red_f[threadIdx.x >> 5] = v, sh.red_i[threadIdx.x >> 5] = i;
  __syncthreads();
  v = sh.red_f[threadIdx.x & 31];
  i = sh.red_i[threadIdx.x & 31];
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (Better(ov, oi, v, i)) v = ov, i = oi;
  }
  return i;
}

// f(i, x[i]) for every i < n, block-strided; each thread issues kBatch loads before using any,
// so a 1024-thread block keeps 32 KB in flight instead of 4 KB (the filtered path is
// latency-bound otherwise: one block per row).
constexpr int kBatch = 8;
template <class F>
__device__ __forceinline__ void ForEachBatched(const float* x, int n, F&& f) {
  for (int base = threadIdx.x; base < n; base += kBatch * blockDim.x) {
    float v[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u * blockDim.x;
      v[u] = i < n ? x[i] : 0.f;
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u * blockDim.x;
      if (i < n) f(i, v[u]);
    }
  }
}

// Radix select, 8 bits per pass from the top, over v_i = x[i] * scale restricted to keys >=
// floor_key, each weighing 1 (kMass = false) or exp(v_i - m). Returns the key K with
//   W(key > K) < target <= W(key >= K),
// or the lowest present key when rounding leaves the target unreached (then all are kept).
template <bool kMass>
__device__ uint32_t RadixSelect(const float* x, int n, float scale, float m, uint32_t floor_key,
                                float target, Shared& sh) {
  uint32_t prefix = 0, mask = 0;
  float above = 0.f;
  for (int shift = 24; shift >= 0; shift -= 8) {
    __syncthreads();
    for (int i = threadIdx.x; i < kWarps * kBins; i += blockDim.x) (&sh.hist[0][0])[i] = 0.f;
    __syncthreads();
    float* my = sh.hist[threadIdx.x >> 5];
    ForEachBatched(x, n, [&](int, float xi) {
      const float v = __fmul_rn(xi, scale);
      const uint32_t key = OrderedKey(v);
      if (key < floor_key || (key & mask) != prefix) return;
      atomicAdd(&my[(key >> shift) & 0xffu], kMass ? __expf(v - m) : 1.f);
    });
    __syncthreads();
    if (threadIdx.x < kBins) {
      float s = 0.f;
      for (int w = 0; w < kWarps; ++w) s += sh.hist[w][threadIdx.x];
      sh.hist[0][threadIdx.x] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int chosen = -1, lowest = 0;
      for (int d = kBins - 1; d >= 0; --d) {
        const float h = sh.hist[0][d];
        if (h <= 0.f) continue;
        lowest = d;
        if (above + h >= target) {
          chosen = d;
          break;
        }
        above += h;
      }
      if (chosen < 0) {  // target not reached: descend into the lowest bin
        chosen = lowest;
        above -= sh.hist[0][lowest];
      }
      sh.sel_prefix = prefix | (static_cast<uint32_t>(chosen) << shift);
      sh.sel_above = above;
    }
    __syncthreads();
    prefix = sh.sel_prefix;
    above = sh.sel_above;
    mask |= 0xffu << shift;
  }
  return prefix;
}

// Top-n of the raw row into out (ids, logprobs), by value then lowest id.
__device__ void TopLogprobs(const float* x, int vocab, int n, float lse, int32_t* top_ids,
                            float* top_lp, Shared& sh) {
  const uint32_t k = RadixSelect<false>(x, vocab, 1.f, 0.f, 0u, static_cast<float>(n), sh);
  if (threadIdx.x == 0) sh.num_gt = 0, sh.num_eq = 0;
  __syncthreads();
  ForEachBatched(x, vocab, [&](int i, float xi) {
    const uint32_t key = OrderedKey(xi);
    if (key > k) {
      const int slot = atomicAdd(&sh.num_gt, 1);  // fewer than n by construction
      if (slot < kMaxLogprobs) sh.gt_val[slot] = xi, sh.gt_idx[slot] = i;
    } else if (key == k) {
      const int slot = atomicAdd(&sh.num_eq, 1);
      if (slot < kMaxLogprobs) sh.eq_val[slot] = xi, sh.eq_idx[slot] = i;
    }
  });
  __syncthreads();
  if (threadIdx.x == 0) {
    // Insertion sort of both short lists, then the ties fill what the larger values left.
    float val[2 * kMaxLogprobs];
    int idx[2 * kMaxLogprobs];
    int c = 0;
    const int ngt = min(sh.num_gt, kMaxLogprobs), neq = min(sh.num_eq, kMaxLogprobs);
    for (int j = 0; j < ngt; ++j) val[c] = sh.gt_val[j], idx[c++] = sh.gt_idx[j];
    for (int j = 0; j < neq; ++j) val[c] = sh.eq_val[j], idx[c++] = sh.eq_idx[j];
    for (int a = 1; a < c; ++a)
      for (int b = a; b > 0 && Better(val[b], idx[b], val[b - 1], idx[b - 1]); --b) {
        const float tv = val[b];
        val[b] = val[b - 1], val[b - 1] = tv;
        const int ti = idx[b];
        idx[b] = idx[b - 1], idx[b - 1] = ti;
      }
    for (int j = 0; j < n && j < c; ++j) top_ids[j] = idx[j], top_lp[j] = val[j] - lse;
  }
}

// ---- Split rows ------------------------------------------------------------------------------

constexpr int kSplitThreads = 256;
constexpr int kSplitUnroll = 4;  // groups of 4 tokens whose loads a thread has in flight at once
// -log(-log u) <= 16.64 for every u ToOpenUnitFloat makes: a token whose scaled logit is more
// than this below the best race score so far can neither beat nor tie it (exact skip).
constexpr float kMaxGumbel = 17.f;

struct SplitArgs {
  const float* logits;  // [num_seqs, vocab], read only
  int vocab;
  int chunk_tokens;
  bool vec4;  // rows are 16-byte aligned (vocab % 4 == 0 and an aligned base)
  const SamplingParams* params;
  const int64_t* steps;
  PenaltyLists pen;
  SamplerOutputs out;
};

// The partials of (seq, chunk) live in the row's top-n slots: logprobs [chunk] = raw max,
// [kSamplerMaxChunks + chunk] = raw sum of exp(x - max); ids [chunk] = best index,
// [kSamplerMaxChunks + chunk] = best value (bits).
__device__ __forceinline__ float Penalize(float v, int count, const SamplingParams& p) {
  v = v > 0.f ? v / p.repetition_penalty : v * p.repetition_penalty;
  // Explicit roundings (no FMA contraction) so the CPU twin computes the same float.
  if (count > 0)
    v -= __fadd_rn(__fmul_rn(p.frequency_penalty, static_cast<float>(count)), p.presence_penalty);
  return v;
}

__device__ __forceinline__ float RaceScore(float s, uint32_t word) {
  return __fsub_rn(s, logf(-logf(philox::ToOpenUnitFloat(word))));
}

// A conservative filter before RaceScore's two accurate logs: false only when the token's score
// is certainly below bv, judged with the fast MUFU logs. __logf errs by at most 2^-21.41
// absolute on [0.5, 2] and 3 ulp elsewhere, so with e >= 1e-3 the fast -log(e) is within 4e-4 of
// the exact one; the margin (0.01 plus room for rounding at large |s|) covers that. Tokens with
// e < 1e-3 (u within 1e-3 of 1) always take the exact path. Skipping cannot change the winner.
__device__ __forceinline__ bool MayReach(float s, uint32_t word, float bv) {
  const float e = -__logf(philox::ToOpenUnitFloat(word));
  if (!(e >= 1e-3f)) return true;
  return !(s - __logf(e) + (0.01f + fabsf(s) * 1e-5f) < bv);
}

// Online log-sum-exp state (m, sum of exp(x - m)), merged in any order.
__device__ __forceinline__ void MergeRaw(float& m, float& sum, float om, float osum) {
  if (om > m) {
    sum = sum * __expf(m - om) + osum;  // m = -inf: 0 * 0
    m = om;
  } else if (om != -INFINITY) {
    sum += osum * __expf(om - m);
  }
}

// Block reduction to thread 0 of the raw state and the best (value, index), lowest index on ties.
__device__ void SplitBlockReduce(float& m, float& sum, float& bv, int& bi) {
  __shared__ float sm[kSplitThreads / 32], ss[kSplitThreads / 32], sv[kSplitThreads / 32];
  __shared__ int si[kSplitThreads / 32];
  for (int o = 16; o > 0; o >>= 1) {
    const float om = __shfl_down_sync(0xffffffffu, m, o);
    const float os = __shfl_down_sync(0xffffffffu, sum, o);
    const float ov = __shfl_down_sync(0xffffffffu, bv, o);
    const int oi = __shfl_down_sync(0xffffffffu, bi, o);
    MergeRaw(m, sum, om, os);
    if (Better(ov, oi, bv, bi)) bv = ov, bi = oi;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) sm[warp] = m, ss[warp] = sum, sv[warp] = bv, si[warp] = bi;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kSplitThreads / 32; ++w) {
      MergeRaw(m, sum, sm[w], ss[w]);
      if (Better(sv[w], si[w], bv, bi)) bv = sv[w], bi = si[w];
    }
  }
}

__device__ __forceinline__ void LoadGroup(const float* x, int g, int end, bool vec4, float v[4]) {
  if (vec4 && 4 * g + 3 < end) {
    const float4 q = __ldg(reinterpret_cast<const float4*>(x) + g);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
    return;
  }
#pragma unroll
  for (int j = 0; j < 4; ++j) v[j] = 4 * g + j < end ? __ldg(x + 4 * g + j) : -INFINITY;
}

// grid (num_chunks, num_seqs): one read of chunk `blockIdx.x` of row `blockIdx.y`.
__global__ void __launch_bounds__(kSplitThreads, 4) SplitPassKernel(SplitArgs a) {
  extern __shared__ uint32_t listed[];  // bitmap of the chunk's penalized tokens
  const int seq = blockIdx.y, chunk = blockIdx.x;
  const SamplingParams p = a.params[seq];
  // Split rows get their token from this pass: the penalized argmax (greedy) or the Gumbel race.
  // The other rows get the max of their scaled penalized logits (argmax for greedy), which spares
  // SampleKernel its max passes; every row gets its raw log-sum-exp.
  const bool race = SamplerUsesSplitPath(p, a.vocab) && !IsGreedy(p);
  const int begin = chunk * a.chunk_tokens;
  const int end = min(begin + a.chunk_tokens, a.vocab);
  const int words = (a.chunk_tokens + 31) / 32;
  for (int w = threadIdx.x; w < words; w += blockDim.x) listed[w] = 0u;
  int pen_begin = 0, pen_end = 0;
  if (a.pen.offsets != nullptr) pen_begin = a.pen.offsets[seq], pen_end = a.pen.offsets[seq + 1];
  __syncthreads();
  for (int e = pen_begin + threadIdx.x; e < pen_end; e += blockDim.x) {
    const int tok = a.pen.tokens[e] - begin;
    if (tok >= 0 && tok < end - begin) atomicOr(&listed[tok >> 5], 1u << (tok & 31));
  }
  __syncthreads();

  const float inv_t = IsGreedy(p) ? 1.f : 1.f / p.temperature;  // x * 1 is exact
  const uint64_t step = static_cast<uint64_t>(a.steps[seq]);
  const float* x = a.logits + int64_t{seq} * a.vocab;
  float m = -INFINITY, sum = 0.f, bv = -INFINITY;
  int bi = INT_MAX;
  const int g_end = (end + 3) / 4;
  for (int g0 = begin / 4 + threadIdx.x; g0 < g_end; g0 += kSplitUnroll * blockDim.x) {
    float v[kSplitUnroll][4];
#pragma unroll
    for (int u = 0; u < kSplitUnroll; ++u) {
      const int g = g0 + u * blockDim.x;
      if (g < g_end) LoadGroup(x, g, end, a.vec4, v[u]);
    }
#pragma unroll
    for (int u = 0; u < kSplitUnroll; ++u) {
      const int g = g0 + u * blockDim.x;
      if (g >= g_end) continue;
      bool cand[4];
      float s[4];
      bool any = false;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = 4 * g + j;
        const bool valid = i < end;
        if (valid) {
          float om = v[u][j], os = 1.f;
          if (om != -INFINITY) MergeRaw(m, sum, om, os);
        }
        const int r = i - begin;
        // Penalized tokens join below with their penalized value.
        const bool plain = valid && ((listed[r >> 5] >> (r & 31)) & 1u) == 0u;
        s[j] = __fmul_rn(v[u][j], inv_t);
        if (race) {
          cand[j] = plain && !(s[j] + kMaxGumbel < bv);
          any |= cand[j];
        } else {
          cand[j] = false;
          if (plain && Better(s[j], i, bv, bi)) bv = s[j], bi = i;
        }
      }
      if (!any) continue;
      const philox::U32x4 r = philox::SamplerBlock(p.seed, step, static_cast<uint32_t>(g));
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        if (!cand[j] || !MayReach(s[j], r.v[j], bv)) continue;
        const float score = RaceScore(s[j], r.v[j]);
        if (Better(score, 4 * g + j, bv, bi)) bv = score, bi = 4 * g + j;
      }
    }
  }
  // The chunk's penalized tokens (each listed once per row, so each is seen once here).
  for (int e = pen_begin + threadIdx.x; e < pen_end; e += blockDim.x) {
    const int tok = a.pen.tokens[e];
    if (tok < begin || tok >= end) continue;
    const float sv = __fmul_rn(Penalize(x[tok], a.pen.output_counts[e], p), inv_t);
    if (race) {
      const philox::U32x4 r = philox::SamplerBlock(p.seed, step, static_cast<uint32_t>(tok / 4));
      const float score = RaceScore(sv, r.v[tok % 4]);
      if (Better(score, tok, bv, bi)) bv = score, bi = tok;
    } else if (Better(sv, tok, bv, bi)) {
      bv = sv, bi = tok;
    }
  }
  SplitBlockReduce(m, sum, bv, bi);
  if (threadIdx.x == 0) {
    float* plp = a.out.top_logprobs + int64_t{seq} * kMaxLogprobs;
    int32_t* pid = a.out.top_ids + int64_t{seq} * kMaxLogprobs;
    plp[chunk] = m;
    plp[kSamplerMaxChunks + chunk] = sum;
    pid[chunk] = bi;
    pid[kSamplerMaxChunks + chunk] = __float_as_int(bv);
  }
}

// Lane 0 of the calling (full) warp gets the row's combined partials.
__device__ void WarpCombinePartials(const float* plp, const int32_t* pid, int num_chunks, float& m,
                                    float& sum, float& bv, int& bi) {
  const int lane = threadIdx.x & 31;
  m = -INFINITY, sum = 0.f, bv = -INFINITY, bi = INT_MAX;
  if (lane < num_chunks) {
    m = plp[lane], sum = plp[kSamplerMaxChunks + lane];
    bi = pid[lane], bv = __int_as_float(pid[kSamplerMaxChunks + lane]);
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float om = __shfl_down_sync(0xffffffffu, m, o);
    const float os = __shfl_down_sync(0xffffffffu, sum, o);
    const float ov = __shfl_down_sync(0xffffffffu, bv, o);
    const int oi = __shfl_down_sync(0xffffffffu, bi, o);
    MergeRaw(m, sum, om, os);
    if (Better(ov, oi, bv, bi)) bv = ov, bi = oi;
  }
  __syncwarp();  // every partial is read before a caller overwrites the slots
}

// One warp per split row: combines the chunk partials into the token and its raw logprob, then
// fills the row's top-n slots with -1 / -inf.
__global__ void SplitCombineKernel(SplitArgs a, int num_chunks) {
  const int seq = blockIdx.x, lane = threadIdx.x;
  const SamplingParams p = a.params[seq];
  if (!SamplerUsesSplitPath(p, a.vocab)) return;
  float* plp = a.out.top_logprobs + int64_t{seq} * kMaxLogprobs;
  int32_t* pid = a.out.top_ids + int64_t{seq} * kMaxLogprobs;
  float m, sum, bv;
  int bi;
  WarpCombinePartials(plp, pid, num_chunks, m, sum, bv, bi);
  if (lane < kMaxLogprobs) pid[lane] = -1, plp[lane] = -INFINITY;
  if (lane == 0) {
    // INT_MAX: every value was NaN; token 0 keeps the id in range.
    const int token = bi == INT_MAX ? 0 : bi;
    const float lse = m + logf(sum);
    a.out.token_ids[seq] = token;
    a.out.token_logprobs[seq] = a.logits[int64_t{seq} * a.vocab + token] - lse;
  }
}

// ---- Filtered rows ---------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads) SampleKernel(KernelArgs a) {
  __shared__ Shared sh;
  const int seq = blockIdx.x;
  const int vocab = a.vocab;
  float* x = a.logits + int64_t{seq} * vocab;  // not __restrict__/ldg: penalized in place below
  const SamplingParams p = a.params[seq];
  if (SamplerUsesSplitPath(p, vocab)) return;  // uniform per block: the split kernels' row
  const uint64_t step = static_cast<uint64_t>(a.steps[seq]);
  int32_t* top_ids = a.out.top_ids + int64_t{seq} * kMaxLogprobs;
  float* top_lp = a.out.top_logprobs + int64_t{seq} * kMaxLogprobs;

  // 0. The split pass's partials, parked in the top-n slots: the raw log-sum-exp and the max
  //    (argmax) of the scaled penalized logits.
  if (threadIdx.x < 32) {
    float m, sum, bv;
    int bi;
    WarpCombinePartials(top_lp, top_ids, a.num_chunks, m, sum, bv, bi);
    if (threadIdx.x == 0) sh.part_lse = m + logf(sum), sh.part_max = bv, sh.part_argmax = bi;
  }
  __syncthreads();

  // 1. The raw distribution: log-sum-exp and the top-n logprobs.
  const float lse = sh.part_lse;
  if (threadIdx.x < kMaxLogprobs) top_ids[threadIdx.x] = -1, top_lp[threadIdx.x] = -INFINITY;
  const int n = min(max(p.num_logprobs, 0), min(kMaxLogprobs, vocab));
  if (n > 0) {
    __syncthreads();  // the -1 fill above before thread 0 writes the list
    TopLogprobs(x, vocab, n, lse, top_ids, top_lp, sh);
  }

  // 2. Penalties, in place (each token is listed once per sequence: no write conflicts).
  int pen_begin = 0, pen_end = 0;
  if (a.pen.offsets != nullptr) pen_begin = a.pen.offsets[seq], pen_end = a.pen.offsets[seq + 1];
  __syncthreads();  // every read of the raw row above is done
  for (int e = pen_begin + threadIdx.x; e < pen_end; e += blockDim.x) {
    const int tok = a.pen.tokens[e], count = a.pen.output_counts[e];
    if (tok < 0 || tok >= vocab) continue;
    x[tok] = Penalize(x[tok], count, p);
  }
  __syncthreads();

  // 3. Selection.
  int token;
  if (IsGreedy(p)) {
    token = sh.part_argmax == INT_MAX ? 0 : sh.part_argmax;  // INT_MAX: all NaN
  } else {
    const float inv_t = 1.f / p.temperature;
    const float m = sh.part_max;
    float t = -INFINITY;
    if (p.min_p > 0.f) t = __fadd_rn(m, logf(p.min_p));
    if (p.top_k > 0 && p.top_k < vocab) {
      const uint32_t k =
          RadixSelect<false>(x, vocab, inv_t, m, 0u, static_cast<float>(p.top_k), sh);
      t = fmaxf(t, KeyToFloat(k));
    }
    if (p.top_p < 1.f) {
      float local = 0.f;
      ForEachBatched(x, vocab, [&](int, float xi) {
        const float v = __fmul_rn(xi, inv_t);
        if (v >= t) local += __expf(v - m);
      });
      const float mass = BlockSum(local, sh);
      const uint32_t floor_key = t == -INFINITY ? 0u : OrderedKey(t);
      const uint32_t k = RadixSelect<true>(x, vocab, inv_t, m, floor_key, p.top_p * mass, sh);
      t = fmaxf(t, KeyToFloat(k));
    }
    // Exponential race over the kept tokens, one Philox block per 4 consecutive tokens.
    float bv = -INFINITY;
    int bi = INT_MAX;
    constexpr int kGroups = 2;  // groups of 4 tokens loaded before any is used
    for (int g0 = threadIdx.x; 4 * g0 < vocab; g0 += kGroups * blockDim.x) {
      float v[kGroups][4];
#pragma unroll
      for (int u = 0; u < kGroups; ++u)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int i = 4 * (g0 + u * blockDim.x) + j;
          v[u][j] = i < vocab ? __fmul_rn(x[i], inv_t) : -INFINITY;
        }
#pragma unroll
      for (int u = 0; u < kGroups; ++u) {
        const int g = g0 + u * blockDim.x;
        bool any = false;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int i = 4 * g + j;
          any |= i < vocab && v[u][j] >= t && !(v[u][j] + kMaxGumbel < bv);  // else cannot win
        }
        if (!any) continue;
        const philox::U32x4 r = philox::SamplerBlock(p.seed, step, static_cast<uint32_t>(g));
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int i = 4 * g + j;
          if (i >= vocab || !(v[u][j] >= t) || !MayReach(v[u][j], r.v[j], bv)) continue;
          const float score = RaceScore(v[u][j], r.v[j]);
          if (Better(score, i, bv, bi)) bv = score, bi = i;
        }
      }
    }
    token = BlockArgMax(bv, bi, sh);
    if (token == INT_MAX) {  // nothing finite was kept (all -inf): fall back to argmax
      bv = -INFINITY, bi = INT_MAX;
      for (int i = threadIdx.x; i < vocab; i += blockDim.x)
        if (Better(x[i], i, bv, bi)) bv = x[i], bi = i;
      token = BlockArgMax(bv, bi, sh);
    }
  }

  // 4. The sampled token's raw logit: undo its penalty if it had one (exact up to rounding;
  //    the signs of raw and repetition-penalized logits agree since the penalty is > 0).
  if (threadIdx.x == 0) sh.raw_token_logit = x[token];
  __syncthreads();
  for (int e = pen_begin + threadIdx.x; e < pen_end; e += blockDim.x) {
    if (a.pen.tokens[e] != token) continue;
    const int count = a.pen.output_counts[e];
    float v = x[token];
    if (count > 0)
      v += __fadd_rn(__fmul_rn(p.frequency_penalty, static_cast<float>(count)), p.presence_penalty);
    sh.raw_token_logit = v > 0.f ? v * p.repetition_penalty : v / p.repetition_penalty;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    a.out.token_ids[seq] = token;
    a.out.token_logprobs[seq] = sh.raw_token_logit - lse;
  }
}

}  // namespace sampling_kernels

Status Sample(float* logits, int num_seqs, int vocab, const SamplingParams* params,
              const int64_t* steps, const PenaltyLists& penalties, const SamplerOutputs& out,
              cudaStream_t stream) {
  if (num_seqs < 0 || num_seqs > kMaxSamplerSeqs || vocab <= 0 || vocab > kMaxSamplerVocab)
    return InvalidArgumentError("sample: bad shape: num_seqs " + std::to_string(num_seqs) +
                                ", vocab " + std::to_string(vocab) + " (at most " +
                                std::to_string(kMaxSamplerSeqs) + " x " +
                                std::to_string(kMaxSamplerVocab) + ")");
  if (num_seqs == 0) return Status::Ok();
  if (logits == nullptr || params == nullptr || steps == nullptr || out.token_ids == nullptr ||
      out.token_logprobs == nullptr || out.top_ids == nullptr || out.top_logprobs == nullptr)
    return InvalidArgumentError("sample: null pointer");
  if (penalties.offsets != nullptr &&
      (penalties.tokens == nullptr || penalties.output_counts == nullptr))
    return InvalidArgumentError(
        "sample: penalty offsets without tokens/output_counts (pass offsets = nullptr for "
        "no penalties)");
  namespace sk = sampling_kernels;
  const SamplerSplitPlan plan = PlanSamplerSplit(vocab);
  const bool vec4 = vocab % 4 == 0 && reinterpret_cast<uintptr_t>(logits) % 16 == 0;
  const sk::SplitArgs split{logits, vocab, plan.chunk_tokens, vec4, params, steps, penalties, out};
  const size_t bitmap_bytes = static_cast<size_t>((plan.chunk_tokens + 31) / 32) * 4;
  sk::SplitPassKernel<<<dim3(plan.num_chunks, num_seqs), sk::kSplitThreads, bitmap_bytes, stream>>>(
      split);
  CUDA_CHECK_LAUNCH();
  sk::SplitCombineKernel<<<num_seqs, 32, 0, stream>>>(split, plan.num_chunks);
  CUDA_CHECK_LAUNCH();
  sk::KernelArgs args{logits, vocab, plan.num_chunks, params, steps, penalties, out};
  sk::SampleKernel<<<num_seqs, sk::kThreads, 0, stream>>>(args);
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

}  // namespace hearth
