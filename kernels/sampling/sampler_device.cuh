// Device helpers shared by the sampler's two kernel files: the split pass (sampler.cu) and the
// filtered rows (sampler_filtered.cu). Internal to kernels/sampling.
#pragma once

#include <climits>
#include <cstdint>

#include "kernels/core/fast_math.cuh"
#include "kernels/core/pdl.cuh"
#include "kernels/core/status.h"
#include "kernels/sampling/philox.h"
#include "kernels/sampling/sampler.h"
#include "kernels/sampling/sampler_race.h"

namespace hearth {
namespace sampling_kernels {

__device__ __forceinline__ bool Better(float v, int i, float bv, int bi) {
  return v > bv || (v == bv && i < bi);
}

// Float -> uint32 with the same order (negative floats reversed below the positive ones).
__device__ __forceinline__ uint32_t OrderedKey(float f) {
  const uint32_t b = __float_as_uint(f);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float KeyToFloat(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// The largest of the calling warp's values, which all 32 lanes call together (one redux.sync).
__device__ __forceinline__ float WarpMax(float v) {
  return KeyToFloat(__reduce_max_sync(0xffffffffu, OrderedKey(v)));
}

// -log(-log u) <= 16.64 for every u ToOpenUnitFloat makes: a token whose scaled logit is more
// than this below the best race score so far can neither beat nor tie it (exact skip).
constexpr float kMaxGumbel = 17.f;

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

// Word j (0..3, known only at run time) of a Philox block: selects, not an indexed array, which
// ptxas would keep in local memory.
__device__ __forceinline__ uint32_t PickWord(const philox::U32x4& r, int j) {
  return j == 0 ? r.v[0] : j == 1 ? r.v[1] : j == 2 ? r.v[2] : r.v[3];
}

__device__ __forceinline__ float RaceScore(float s, uint32_t word) {
  return __fsub_rn(s, logf(-logf(philox::ToOpenUnitFloat(word))));
}

// Bounds lo <= RaceScore(s, word) <= hi from the fast MUFU logs (FastLog: __logf's values, u and
// e are never denormal), so that the exact score's two accurate logs run only for tokens that
// may win. __logf errs by at most 2^-21.41 absolute on [0.5, 2] and 3 ulp elsewhere, so with
// e >= 1e-3 the fast -log(e) is within 4e-4 of the exact one either way; the margin (0.01 plus
// room for rounding at large |s|) covers that. For e < 1e-3 (u within 1e-3 of 1) the bounds are
// -inf and +inf: only the exact score tells.
__device__ __forceinline__ void ScoreBounds(float s, uint32_t word, float& lo, float& hi) {
  const float e = -cuda::FastLog(philox::ToOpenUnitFloat(word));
  if (!(e >= 1e-3f)) {
    lo = -INFINITY, hi = INFINITY;
    return;
  }
  const float f = s - cuda::FastLog(e), margin = 0.01f + fabsf(s) * 1e-5f;
  lo = f - margin, hi = f + margin;  // NaN for infinite s: fmaxf drops it, !(hi < b) keeps it
}

// False only when the token's score is certainly below bv: skipping it cannot change the winner.
__device__ __forceinline__ bool MayReach(float s, uint32_t word, float bv) {
  float lo, hi;
  ScoreBounds(s, word, lo, hi);
  return !(hi < bv);
}

// Test hooks (sampler_kernel_emulation_test counts how often lanes and warps draw a Philox block
// and take the exact score); the GPU build compiles them to nothing.
#ifndef HEARTH_SAMPLER_PHILOX_HOOK
#define HEARTH_SAMPLER_PHILOX_HOOK(g)
#endif
#ifndef HEARTH_SAMPLER_EXACT_HOOK
#define HEARTH_SAMPLER_EXACT_HOOK(g, j)
#endif

// The race of one group of 4 consecutive tokens 4g .. 4g + 3 per lane (one Philox block each),
// called by all 32 lanes of a warp together: each lane's tokens with cand[j], scaled values s[j],
// into its (bv, bi), lowest id on ties.
// `bound` (the same in every lane, -inf at first) is a score some token of the warp certainly
// reaches: a token whose score is certainly below it cannot win, whichever lane holds it. Each
// group raises it to the warp's best lower bound (ScoreBounds) before any exact score is taken,
// so only tokens within the fast scores' margin of the warp's best so far take the accurate
// logs. Without it each lane filtered against its own best alone, which after a few tokens lets
// many through, and a warp ran the exact score at every token position where any lane did: 74%
// of the positions on bench_sampling's unfiltered rows, 9% with it (RaceWorkPerWarp in
// sampler_kernel_emulation_test, 2026-11-23). The token that set the bound always takes its
// exact score (its hi >= its lo), so a lane's (bv, bi) holds it.
__device__ __forceinline__ void RaceGroup(const float s[4], const bool cand[4], int g,
                                          const SamplingParams& p, uint64_t step, float& bound,
                                          float& bv, int& bi) {
  const bool any = cand[0] || cand[1] || cand[2] || cand[3];
  uint32_t word[4];  // word and hi are read only where any (no initial moves in the SASS)
  float hi[4], lane_lo = bv;
  if (any) {
    HEARTH_SAMPLER_PHILOX_HOOK(g);
    const philox::U32x4 r = philox::SamplerBlock(p.seed, step, static_cast<uint32_t>(g));
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      word[j] = r.v[j];
      float lo;
      ScoreBounds(s[j], word[j], lo, hi[j]);
      if (cand[j]) lane_lo = fmaxf(lane_lo, lo);
    }
  }
  bound = fmaxf(bound, WarpMax(lane_lo));
  if (!any) return;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if (!cand[j] || hi[j] < fmaxf(bound, bv)) continue;
    HEARTH_SAMPLER_EXACT_HOOK(g, j);
    const float score = RaceScore(s[j], word[j]);
    if (Better(score, 4 * g + j, bv, bi)) bv = score, bi = 4 * g + j;
  }
}

// Online log-sum-exp state (m, sum of exp(x - m)), merged in any order.
__device__ __forceinline__ void MergeRaw(float& m, float& sum, float om, float osum) {
  if (om > m) {
    sum = sum * cuda::FastExp(m - om) + osum;  // m = -inf: 0 * 0
    m = om;
  } else if (om != -INFINITY) {
    sum += osum * cuda::FastExp(om - m);
  }
}

// One batch of values, whose max is lm, into an online log-sum-exp state: one exp per value and
// one merge (exp(v - lm) is 1 at v == lm, also for lm = +inf, where v - lm would be NaN).
template <int N>
__device__ __forceinline__ void MergeBatch(const float (&v)[N], float lm, float& m, float& sum) {
  if (lm == -INFINITY) return;
  float ls = 0.f;
#pragma unroll
  for (int u = 0; u < N; ++u)
    ls += lm != INFINITY ? cuda::FastExp(v[u] - lm) : (v[u] == lm ? 1.f : 0.f);
  MergeRaw(m, sum, lm, ls);
}

// Lane 0 of the calling (full) warp gets the warp's merged raw state, best (value, index) and
// the part that came with it (the split pass's race: a group of sampler_race.h, or -1).
__device__ __forceinline__ void WarpReduceDown(float& m, float& sum, float& bv, int& bi,
                                               int& part) {
  for (int o = 16; o > 0; o >>= 1) {
    const float om = __shfl_down_sync(0xffffffffu, m, o);
    const float os = __shfl_down_sync(0xffffffffu, sum, o);
    const float ov = __shfl_down_sync(0xffffffffu, bv, o);
    const int oi = __shfl_down_sync(0xffffffffu, bi, o);
    const int op = __shfl_down_sync(0xffffffffu, part, o);
    MergeRaw(m, sum, om, os);
    if (Better(ov, oi, bv, bi)) bv = ov, bi = oi, part = op;
  }
}

// Lane 0 of the calling (full) warp gets the row's combined partials.
__device__ inline void WarpCombinePartials(const float* plp, const int32_t* pid, int num_chunks,
                                           float& m, float& sum, float& bv, int& bi) {
  const int lane = threadIdx.x & 31;
  m = -INFINITY, sum = 0.f, bv = -INFINITY, bi = INT_MAX;
  if (lane < num_chunks) {
    m = plp[lane], sum = plp[kSamplerMaxChunks + lane];
    bi = pid[lane], bv = __int_as_float(pid[kSamplerMaxChunks + lane]);
  }
  int part = -1;
  WarpReduceDown(m, sum, bv, bi, part);
  __syncwarp();  // every partial is read before a caller overwrites the slots
}

constexpr int kSplitThreads = 256;
// A warp of the split pass takes every 8th batch of its chunk (sampler_race.h: 512 tokens, four
// 16-byte loads a lane, all in flight at once); a chunk is whole rounds of 8.
static_assert(kSamplerChunkAlign == kSplitThreads / 32 * sampler_race::kBatchTokens);
// The bitmap of a chunk's penalized tokens, in static shared memory: the largest chunk is the
// largest vocabulary's.
inline constexpr int kMaxSplitWords = (PlanSamplerSplit(kMaxSamplerVocab).chunk_tokens + 31) / 32;

// The split pass (sampler_split.cu): grid (num_chunks, num_seqs) of kSplitThreads, then one
// warp per row for the combine.
struct SplitArgs {
  const float* logits;  // [num_seqs, vocab], read only
  int vocab;
  int chunk_tokens;
  bool vec4;  // rows are 16-byte aligned (vocab % 4 == 0 and an aligned base)
  const SamplingParams* params;
  const int64_t* steps;
  PenaltyLists pen;
  SamplerOutputs out;
  bool one_read;  // SamplerFilterPath::kOneRead: rows SamplerSkipsSplitPass selects are left out
};

__global__ void SplitPassKernel(SplitArgs a);
__global__ void SplitCombineKernel(SplitArgs a, int num_chunks);

// The filtered rows (SampleKernel, one block per row).
struct FilteredArgs {
  float* logits;  // [num_seqs, vocab], penalized in place
  int vocab;
  int num_chunks;  // of the split pass, whose partials this kernel reads
  const SamplingParams* params;
  const int64_t* steps;
  PenaltyLists pen;
  SamplerOutputs out;
  SamplerFilterPath path;
};
// One 1024-thread block per row (sampler_filtered.cu); split rows return at once.
inline constexpr int kFilteredThreads = 1024;
__global__ void SampleKernel(FilteredArgs a);

}  // namespace sampling_kernels
}  // namespace hearth
