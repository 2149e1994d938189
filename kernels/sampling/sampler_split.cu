// The split pass over every row and the combine that finishes the split rows (sampler.h).
#include <cfloat>
#include <climits>

#include "kernels/sampling/sampler_device.cuh"

namespace hearth {
namespace sampling_kernels {

// ---- Split rows ------------------------------------------------------------------------------

// Block reduction to thread 0 of the raw state and the best (value, index), lowest index on ties.
__device__ void SplitBlockReduce(float& m, float& sum, float& bv, int& bi) {
  __shared__ float sm[kSplitThreads / 32], ss[kSplitThreads / 32], sv[kSplitThreads / 32];
  __shared__ int si[kSplitThreads / 32];
  WarpReduceDown(m, sum, bv, bi);
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
  cuda::PdlBegin();                            // pdl.h
  __shared__ uint32_t listed[kMaxSplitWords];  // bitmap of the chunk's penalized tokens
  const int seq = blockIdx.y, chunk = blockIdx.x;
  const SamplingParams p = a.params[seq];
  // Split rows get their token from this pass: the penalized argmax (greedy) or the Gumbel race.
  // The other rows get the max of their scaled penalized logits (argmax for greedy), which spares
  // SampleKernel its max passes; every row gets its raw log-sum-exp.
  const bool split_row = SamplerUsesSplitPath(p, a.vocab);
  const bool race = split_row && !IsGreedy(p);
  // A split row's log-sum-exp serves only its token's logprob: without one, no exp per token.
  const bool need_lse = !split_row || p.token_logprob != 0;  // block-uniform
  const int begin = chunk * a.chunk_tokens;
  const int end = min(begin + a.chunk_tokens, a.vocab);
  int pen_begin = 0, pen_end = 0;
  if (a.pen.offsets != nullptr) pen_begin = a.pen.offsets[seq], pen_end = a.pen.offsets[seq + 1];
  const bool has_pen = pen_end > pen_begin;  // uniform: rows without penalties skip the bitmap
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
  const uint64_t step = static_cast<uint64_t>(a.steps[seq]);
  const float* x = a.logits + int64_t{seq} * a.vocab;
  float m = -INFINITY, sum = 0.f, bv = -INFINITY;
  int bi = INT_MAX;
  const int g_end = (end + 3) / 4;
  const int g_full = end / 4;  // groups 4g .. 4g + 3 wholly before `end`
  const int lane = threadIdx.x & 31;
  // A score (or scaled value) some token of the warp reached: the same in all its lanes, which
  // therefore run the warp's trip count (its lane 0's; lanes past the end see -inf).
  float bound = -INFINITY;
  for (int g0 = begin / 4 + threadIdx.x; g0 - lane < g_end; g0 += kSplitUnroll * blockDim.x) {
    float v[kSplitUnroll][4];
    if (a.vec4 && g0 + (kSplitUnroll - 1) * static_cast<int>(blockDim.x) < g_full) {
      // A whole batch of aligned groups (all but a chunk's last batch): plain 16-byte loads.
#pragma unroll
      for (int u = 0; u < kSplitUnroll; ++u) {
        const float4 q = __ldg(reinterpret_cast<const float4*>(x) + g0 + u * blockDim.x);
        v[u][0] = q.x, v[u][1] = q.y, v[u][2] = q.z, v[u][3] = q.w;
      }
    } else {
#pragma unroll
      for (int u = 0; u < kSplitUnroll; ++u) {
        const int g = g0 + u * blockDim.x;
        if (g < g_end) {
          LoadGroup(x, g, end, a.vec4, v[u]);  // -inf past the end
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) v[u][j] = -INFINITY;
        }
      }
    }
    // The argmax's bound: the warp's best of the batches before (independent of the loads). The
    // race keeps its own in RaceGroup.
    if (!race) bound = WarpMax(bv);
    // Raw log-sum-exp in two levels: the batch's max from registers, then one exp per token and
    // one merge per batch (no per-token branch). exp(v - lm) is 1 for v == lm, also for
    // lm = +inf (where v - lm would be NaN).
    float lm = -INFINITY;
#pragma unroll
    for (int u = 0; u < kSplitUnroll; ++u)
#pragma unroll
      for (int j = 0; j < 4; ++j) lm = fmaxf(lm, v[u][j]);
    if (need_lse && lm != -INFINITY) {
      float ls = 0.f;
      if (lm != INFINITY) {
#pragma unroll
        for (int u = 0; u < kSplitUnroll; ++u)
#pragma unroll
          for (int j = 0; j < 4; ++j) ls += cuda::FastExp(v[u][j] - lm);
      } else {
#pragma unroll
        for (int u = 0; u < kSplitUnroll; ++u)
#pragma unroll
          for (int j = 0; j < 4; ++j) ls += v[u][j] == lm ? 1.f : 0.f;
      }
      MergeRaw(m, sum, lm, ls);
    }
    // The batch's largest scaled value (rounding is monotonic and inv_t > 0, so it is lm's):
    // when even it cannot reach (argmax) or come within kMaxGumbel of (race) the warp's bound,
    // no token of the batch can win, and the per-token pass is skipped; after the first
    // batches that is most batches (greedy: all but those holding a new maximum).
    const float smax = __fmul_rn(lm, inv_t);
    const bool batch_may_win = race ? !(smax + kMaxGumbel < bound) : smax >= bound;
#pragma unroll
    for (int u = 0; u < kSplitUnroll; ++u) {
      const int g = g0 + u * blockDim.x;
      const bool live = batch_may_win && g < g_end;
      if (!race && !live) continue;
      bool cand[4];
      float s[4];
      bool any = false;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = 4 * g + j;
        const int r = i - begin;
        // Penalized tokens join below with their penalized value.
        const bool plain =
            live && i < end && (!has_pen || ((listed[r >> 5] >> (r & 31)) & 1u) == 0u);
        s[j] = __fmul_rn(v[u][j], inv_t);
        if (race) {
          cand[j] = plain && !(s[j] + kMaxGumbel < bound);
          any |= cand[j];
        } else if (plain && Better(s[j], i, bv, bi)) {
          bv = s[j], bi = i;
        }
      }
      // The whole warp races a group where any lane has a candidate (race is block-uniform).
      if (race && __any_sync(0xffffffffu, any)) RaceGroup(s, cand, g, p, step, bound, bv, bi);
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
