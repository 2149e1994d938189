// The split pass over every row and the combine that finishes the split rows (sampler.h).
#include <cfloat>
#include <climits>

#include "kernels/sampling/sampler_device.cuh"

namespace hearth {
namespace sampling_kernels {

// ---- Split rows ------------------------------------------------------------------------------

// Block reduction to thread 0 of the raw state, the best (value, index), lowest index on ties,
// and its part.
__device__ void SplitBlockReduce(float& m, float& sum, float& bv, int& bi, int& part) {
  constexpr int kWarps = kSplitThreads / 32;
  __shared__ float sm[kWarps], ss[kWarps], sv[kWarps];
  __shared__ int si[kWarps], sp[kWarps];
  WarpReduceDown(m, sum, bv, bi, part);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) sm[warp] = m, ss[warp] = sum, sv[warp] = bv, si[warp] = bi, sp[warp] = part;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kWarps; ++w) {
      MergeRaw(m, sum, sm[w], ss[w]);
      if (Better(sv[w], si[w], bv, bi)) bv = sv[w], bi = si[w], part = sp[w];
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

__device__ __forceinline__ bool Listed(const uint32_t* listed, int r) {
  return ((listed[r >> 5] >> (r & 31)) & 1u) != 0u;
}

// The lane's cached level-1 Philox block (sampler_race.h): one per 4 of its groups when its warp
// takes every 8th batch from a multiple of 32.
struct GroupWords {
  uint32_t block = 0xffffffffu;  // none: group blocks are < 2^20
  uint32_t w0, w1, w2, w3;
  __device__ __forceinline__ uint32_t Get(const SamplingParams& p, uint64_t step, int group) {
    const uint32_t b = sampler_race::GroupPhiloxBlock(group);
    if (b != block) {
      HEARTH_SAMPLER_PHILOX_HOOK(static_cast<int>(b));
      const philox::U32x4 r = sampler_race::GroupBlock(p.seed, step, b);
      w0 = r.v[0], w1 = r.v[1], w2 = r.v[2], w3 = r.v[3], block = b;
    }
    const int k = sampler_race::GroupPhiloxWord(group);  // selects, not an indexed array
    return k == 0 ? w0 : k == 1 ? w1 : k == 2 ? w2 : w3;
  }
};

// Level 1 of the two-level race for the lane's group of batch b (sampler_race.h): its 16 values
// v (-inf past the end), the batch's raw max lm; penalty-listed tokens race alone (below). A
// group whose largest possible score is below `bound` (a score some lane of the warp reached) is
// skipped before any exp; one whose fast score bounds say the same before the accurate logs.
__device__ __forceinline__ void RaceGroupLevel1(const float v[4][4], int b, int begin, int end,
                                                const uint32_t* listed, bool has_pen, float lm,
                                                float c2, const SamplingParams& p, uint64_t step,
                                                float bound, GroupWords& words, float& bv, int& bi,
                                                int& part) {
  namespace race = sampler_race;
  const int lane = threadIdx.x & 31;
  const int key0 = b * race::kBatchTokens + 4 * lane;  // the group's lowest token
  // The group's key (ties): its lowest token that is not listed (INT_MAX: none), so that no
  // two parts share one.
  int key = key0 < end ? key0 : INT_MAX;
  float s2[4][4], m2;
  if (!has_pen) {
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int j = 0; j < 4; ++j) s2[u][j] = __fmul_rn(v[u][j], c2);
    m2 = __fmul_rn(lm, c2);  // rounding is monotonic and c2 > 0
  } else {
    m2 = -INFINITY, key = INT_MAX;
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = key0 + 128 * u + j;
        const bool plain = i < end && !Listed(listed, i - begin);
        s2[u][j] = plain ? __fmul_rn(v[u][j], c2) : -INFINITY;
        m2 = fmaxf(m2, s2[u][j]);
        if (plain) key = min(key, i);
      }
  }
  if (key == INT_MAX || race::GroupScoreCeiling(m2) < bound) return;
  float score;
  if (m2 == -INFINITY) {
    score = -INFINITY;
  } else if (m2 == INFINITY) {
    score = INFINITY;  // the group's lowest +inf token stands for it
#pragma unroll
    for (int u = 3; u >= 0; --u)
#pragma unroll
      for (int j = 3; j >= 0; --j)
        if (s2[u][j] == INFINITY) key = key0 + 128 * u + j;
  } else {
    float sum = 0.f;
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int j = 0; j < 4; ++j) sum += race::Exp2(s2[u][j] - m2);
    if (!(sum == sum)) {  // a NaN logit: left out of the mass (the CPU twin's order)
      sum = 0.f;
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float d = s2[u][j] - m2;
          if (d == d) sum += race::Exp2(d);
        }
    }
    const int group = race::kGroupsPerBatch * b + lane;
    const float mass = race::LogMass(m2, sum);
    const uint32_t word = words.Get(p, step, group);
    float lo, hi;
    ScoreBounds(mass, word, lo, hi);
    if (hi < fmaxf(bound, bv)) return;  // certainly below a score already reached
    HEARTH_SAMPLER_EXACT_HOOK(static_cast<int>(race::GroupPhiloxBlock(group)),
                              race::GroupPhiloxWord(group));
    score = RaceScore(mass, word);
  }
  if (Better(score, key, bv, bi)) bv = score, bi = key, part = race::kGroupsPerBatch * b + lane;
}

// Level 2, by warp 0 once the block's winner is known: the race among the winning group's tokens
// (four Philox blocks of the tokens' own stream, one per lane 0..3), NaN scores as -inf. Lane 0
// gets the token.
__device__ __forceinline__ int RaceInGroup(const float* x, int group, int begin, int end,
                                           const uint32_t* listed, bool has_pen, float inv_t,
                                           const SamplingParams& p, uint64_t step) {
  const int lane = threadIdx.x & 31;
  float tv = -INFINITY;
  int ti = INT_MAX;
  if (lane < 4) {
    const int i0 = sampler_race::GroupToken(group, 4 * lane);
    const philox::U32x4 r = philox::SamplerBlock(p.seed, step, static_cast<uint32_t>(i0 / 4));
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int i = i0 + j;
      if (i >= end || (has_pen && Listed(listed, i - begin))) continue;
      float score = RaceScore(__fmul_rn(x[i], inv_t), r.v[j]);
      if (!(score == score)) score = -INFINITY;
      if (Better(score, i, tv, ti)) tv = score, ti = i;
    }
  }
#pragma unroll
  for (int o = 1; o < 4; o <<= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, tv, o);
    const int oi = __shfl_xor_sync(0xffffffffu, ti, o);
    if (Better(ov, oi, tv, ti)) tv = ov, ti = oi;
  }
  return ti;
}

// What the split pass's batch loop reads of its chunk and row.
struct SplitChunk {
  const float* x;  // the row
  int begin, end;  // the chunk's tokens
  bool vec4;
  const uint32_t* listed;  // the chunk's penalized tokens (valid when has_pen)
  bool has_pen, need_lse;
  float inv_t, c2;  // 1 / T and the race's Log2Scale(1 / T)
  uint64_t step;
};

// The chunk's batches into the raw log-sum-exp state (m, sum) and the best (bv, bi, part): the
// two-level race's level 1 (kRace) or the argmax of the scaled values.
template <bool kRace>
__device__ __forceinline__ void SplitBatches(const SplitChunk& c, const SamplingParams& p,
                                             float& m, float& sum, float& bv, int& bi,
                                             int& part) {
  namespace race = sampler_race;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* x = c.x;
  const int begin = c.begin, end = c.end;
  GroupWords words;
  // Warp w takes batches w, w + 8, ... of the chunk: tokens 512b + 128u + 4 lane + j.
  for (int b = begin / race::kBatchTokens + warp; b * race::kBatchTokens < end;
       b += kSplitThreads / 32) {
    const int g0 = b * (race::kBatchTokens / 4) + lane;  // 4-token group of u = 0
    float v[4][4];
    if (c.vec4 && (b + 1) * race::kBatchTokens <= end) {  // a whole batch: plain 16-byte loads
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const float4 q = __ldg(reinterpret_cast<const float4*>(x) + g0 + 32 * u);
        v[u][0] = q.x, v[u][1] = q.y, v[u][2] = q.z, v[u][3] = q.w;
      }
    } else {
#pragma unroll
      for (int u = 0; u < 4; ++u) LoadGroup(x, g0 + 32 * u, end, c.vec4, v[u]);  // -inf past end
    }
    // A value (argmax) or a race score (race) some token of the warp reached in the batches
    // before (independent of the loads).
    const float bound = WarpMax(bv);
    // Raw log-sum-exp in two levels: the batch's max from registers, then one exp per token and
    // one merge per batch (no per-token branch). exp(v - lm) is 1 for v == lm, also for
    // lm = +inf (where v - lm would be NaN).
    float lm = -INFINITY;
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int j = 0; j < 4; ++j) lm = fmaxf(lm, v[u][j]);
    if (c.need_lse && lm != -INFINITY) {
      float ls = 0.f;
      if (lm != INFINITY) {
#pragma unroll
        for (int u = 0; u < 4; ++u)
#pragma unroll
          for (int j = 0; j < 4; ++j) ls += cuda::FastExp(v[u][j] - lm);
      } else {
#pragma unroll
        for (int u = 0; u < 4; ++u)
#pragma unroll
          for (int j = 0; j < 4; ++j) ls += v[u][j] == lm ? 1.f : 0.f;
      }
      MergeRaw(m, sum, lm, ls);
    }
    if constexpr (kRace) {
      RaceGroupLevel1(v, b, begin, end, c.listed, c.has_pen, lm, c.c2, p, c.step, bound, words,
                      bv, bi, part);
      continue;
    }
    // The batch's largest scaled value (rounding is monotonic and inv_t > 0, so it is lm's):
    // when it cannot reach the warp's bound, no token of the batch can win and the per-token
    // pass is skipped; after the first batches that is all but those holding a new maximum.
    if (!(__fmul_rn(lm, c.inv_t) >= bound)) continue;
#pragma unroll
    for (int u = 0; u < 4; ++u)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = b * race::kBatchTokens + 128 * u + 4 * lane + j;
        // Penalized tokens join below with their penalized value.
        const bool plain = i < end && (!c.has_pen || !Listed(c.listed, i - begin));
        const float sv = __fmul_rn(v[u][j], c.inv_t);
        if (plain && Better(sv, i, bv, bi)) bv = sv, bi = i;
      }
  }
}

// grid (num_chunks, num_seqs): one read of chunk `blockIdx.x` of row `blockIdx.y`.
// Test hook: sampler_kernel_emulation_test counts the chunks of each row this pass reads (every
// thread of a chunk's block calls it); the GPU build compiles it to nothing.
#ifndef HEARTH_SAMPLER_SPLIT_CHUNK_HOOK
#define HEARTH_SAMPLER_SPLIT_CHUNK_HOOK()
#endif

__global__ void __launch_bounds__(kSplitThreads, 4) SplitPassKernel(SplitArgs a) {
  cuda::PdlBegin();                            // pdl.h
  __shared__ uint32_t listed[kMaxSplitWords];  // bitmap of the chunk's penalized tokens
  namespace race = sampler_race;
  const int seq = blockIdx.y, chunk = blockIdx.x;
  const SamplingParams p = a.params[seq];
  // Split rows get their token from this pass: the penalized argmax (greedy) or the two-level
  // race, which unfiltered rows with top-n logprobs also take from here. The other rows get the
  // max of their scaled penalized logits, which spares SampleKernel its max passes; every row
  // gets its raw log-sum-exp.
  const bool split_row = SamplerUsesSplitPath(p, a.vocab);
  const bool race_row = SamplerRacesInSplitPass(p, a.vocab);
  // A split row's log-sum-exp serves only its token's logprob: without one, no exp per token.
  const bool need_lse = !split_row || p.token_logprob != 0;  // block-uniform
  const int begin = chunk * a.chunk_tokens;                  // a multiple of kBatchTokens
  const int end = min(begin + a.chunk_tokens, a.vocab);
  int pen_begin = 0, pen_end = 0;
  if (a.pen.offsets != nullptr) pen_begin = a.pen.offsets[seq], pen_end = a.pen.offsets[seq + 1];
  const bool has_pen = pen_end > pen_begin;  // uniform: rows without penalties skip the bitmap
  // Top-k rows whose one read in SampleKernel gives what this pass would (uniform).
  if (a.one_read && SamplerSkipsSplitPass(p, a.vocab, has_pen)) return;
  HEARTH_SAMPLER_SPLIT_CHUNK_HOOK();
  if (has_pen) {
    const int words = (a.chunk_tokens + 31) / 32;
    for (int w = threadIdx.x; w < words; w += blockDim.x) listed[w] = 0u;
    __syncthreads();
    for (int e = pen_begin + threadIdx.x; e < pen_end; e += blockDim.x) {
      const int tok = a.pen.tokens[e] - begin;
      if (tok >= 0 && tok < end - begin) atomicOr(&listed[tok >> 5], 1u << (tok & 31));
    }
    __syncthreads();
  }

  const float inv_t = IsGreedy(p) ? 1.f : 1.f / p.temperature;  // x * 1 is exact
  const float c2 = race::Log2Scale(inv_t);
  const uint64_t step = static_cast<uint64_t>(a.steps[seq]);
  const float* x = a.logits + int64_t{seq} * a.vocab;
  float m = -INFINITY, sum = 0.f, bv = -INFINITY;
  int bi = INT_MAX, part = -1;  // the race's best: key and part (sampler_race.h); -1: a token
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const SplitChunk c{x, begin, end, a.vec4, listed, has_pen, need_lse, inv_t, c2, step};
  if (race_row)  // block-uniform; two instantiations keep the flag out of the loop
    SplitBatches<true>(c, p, m, sum, bv, bi, part);
  else
    SplitBatches<false>(c, p, m, sum, bv, bi, part);
  // The chunk's penalized tokens (each listed once per row, so each is seen once here); in the
  // race each is a part of its own.
  for (int e = pen_begin + threadIdx.x; e < pen_end; e += blockDim.x) {
    const int tok = a.pen.tokens[e];
    if (tok < begin || tok >= end) continue;
    const float sv = __fmul_rn(Penalize(x[tok], a.pen.output_counts[e], p), inv_t);
    if (race_row) {
      const philox::U32x4 r = philox::SamplerBlock(p.seed, step, static_cast<uint32_t>(tok / 4));
      const float score = RaceScore(sv, PickWord(r, tok & 3));
      if (Better(score, tok, bv, bi)) bv = score, bi = tok, part = -1;
    } else if (Better(sv, tok, bv, bi)) {
      bv = sv, bi = tok;
    }
  }
  SplitBlockReduce(m, sum, bv, bi, part);
  if (warp != 0) return;
  if (race_row) {  // level 2 in the winning group; a token part is its own winner
    const int group = __shfl_sync(0xffffffffu, part, 0);
    if (group >= 0) {
      const int token = RaceInGroup(x, group, begin, end, listed, has_pen, inv_t, p, step);
      if (lane == 0) bi = token;
    }
  }
  if (lane == 0) {
    float* plp = a.out.top_logprobs + int64_t{seq} * kMaxLogprobs;
    int32_t* pid = a.out.top_ids + int64_t{seq} * kMaxLogprobs;
    plp[chunk] = m;
    plp[kSamplerMaxChunks + chunk] = sum;
    pid[chunk] = bi;
    pid[kSamplerMaxChunks + chunk] = __float_as_int(bv);
  }
}

// One warp per split row: combines the chunk partials into the token and its raw logprob, then
// fills the row's top-n slots with -1 / -inf.
__global__ void SplitCombineKernel(SplitArgs a, int num_chunks) {
  cuda::PdlBegin();  // pdl.h
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
    a.out.token_ids[seq] = token;
    a.out.token_logprobs[seq] =
        p.token_logprob != 0 ? a.logits[int64_t{seq} * a.vocab + token] - (m + logf(sum)) : 0.f;
  }
}

}  // namespace sampling_kernels
}  // namespace hearth
