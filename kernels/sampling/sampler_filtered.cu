#include <cfloat>
#include <climits>

#include "kernels/sampling/sampler_block.cuh"
#include "kernels/sampling/sampler_radix.cuh"

namespace hearth {
namespace sampling_kernels {

// ---- The race ---------------------------------------------------------------------------------

// The race passes take groups of 4 consecutive tokens (one Philox block each), kGroups of them
// loaded before any is used: v = x * inv_t of groups g0 + u * blockDim.x, -inf past the end.
constexpr int kGroups = 2;
__device__ __forceinline__ void LoadScaledGroups(const float* x, int vocab, float inv_t, int g0,
                                                 float v[kGroups][4]) {
#pragma unroll
  for (int u = 0; u < kGroups; ++u)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int i = 4 * (g0 + u * blockDim.x) + j;
      v[u][j] = i < vocab ? __fmul_rn(x[i], inv_t) : -INFINITY;
    }
}

// Exponential race over the tokens with s = x * inv_t >= t into this thread's (bv, bi), one
// Philox block per 4 consecutive tokens.
// Every thread of the block calls it (the warps' trip counts are their lane 0's: RaceGroup).
__device__ void RaceAll(const float* x, int vocab, float inv_t, float t, const SamplingParams& p,
                        uint64_t step, float& bv, int& bi) {
  const int lane = threadIdx.x & 31;
  float bound = WarpMax(bv);
  HEARTH_SAMPLER_ROW_READ_HOOK();
  for (int g0 = threadIdx.x; 4 * (g0 - lane) < vocab; g0 += kGroups * blockDim.x) {
    float v[kGroups][4];
    LoadScaledGroups(x, vocab, inv_t, g0, v);
#pragma unroll
    for (int u = 0; u < kGroups; ++u) {
      const int g = g0 + u * blockDim.x;
      bool cand[4], any = false;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = 4 * g + j;
        cand[j] = i < vocab && v[u][j] >= t && !(v[u][j] + kMaxGumbel < bound);  // cannot win
        any |= cand[j];
      }
      if (__any_sync(0xffffffffu, any)) RaceGroup(v[u], cand, g, p, step, bound, bv, bi);
    }
  }
}

// One kept token (i, s = v) into this thread's race (its own Philox block: the window path meets
// tokens one at a time).
__device__ __forceinline__ void RaceOne(float v, int i, const SamplingParams& p, uint64_t step,
                                        float& bv, int& bi) {
  if (v + kMaxGumbel < bv) return;
  const philox::U32x4 r = philox::SamplerBlock(p.seed, step, static_cast<uint32_t>(i) / 4u);
  const uint32_t word = PickWord(r, i & 3);
  if (!MayReach(v, word, bv)) return;
  const float score = RaceScore(v, word);
  if (Better(score, i, bv, bi)) bv = score, bi = i;
}

// ---- The window path (sampler_window.h) ------------------------------------------------------

// Test hooks: sampler_kernel_emulation_test, which runs this source on the CPU, counts the
// window's hand-overs to the radix path and records each row's final threshold (every thread
// calls them); the GPU build compiles them to nothing.
#ifndef HEARTH_SAMPLER_WINDOW_FALLBACK_HOOK
#define HEARTH_SAMPLER_WINDOW_FALLBACK_HOOK()
#endif
#ifndef HEARTH_SAMPLER_THRESHOLD_HOOK
#define HEARTH_SAMPLER_THRESHOLD_HOOK(t)
#endif
// Also the one-read top-n's bound and candidate count (thread 0), and the predicted top-p bins
// lo / hi, which the test may move to exercise a wrong prediction.
#ifndef HEARTH_SAMPLER_TOPN_HOOK
#define HEARTH_SAMPLER_TOPN_HOOK(bound, count)
#endif
#ifndef HEARTH_SAMPLER_COCOLLECT_HOOK
#define HEARTH_SAMPLER_COCOLLECT_HOOK(lo, hi, kbin)
#endif
__device__ __forceinline__ bool WindowFallback() {
  HEARTH_SAMPLER_WINDOW_FALLBACK_HOOK();
  return false;
}

__device__ __forceinline__ float* ScanSlots(Shared& sh, float) { return sh.red_f; }
__device__ __forceinline__ int* ScanSlots(Shared& sh, int) { return sh.red_i; }
__device__ __forceinline__ float* AboveSlot(Shared& sh, float) { return &sh.cross_above_f; }
__device__ __forceinline__ int* AboveSlot(Shared& sh, int) { return &sh.cross_above_i; }

// sw::FindCrossing over the bins [0, limit) of w (shared, sw::kBins), block-parallel: each
// thread scans kBinsPerThread bins from its exclusive prefix. Returns the bin or -1; `above`
// (every thread) gets the weight before that bin, or of all bins < limit when none is found.
template <class T>
__device__ int BlockFindCrossing(const T* w, int limit, T target, Shared& sh, T& above) {
  static_assert(sw::kBins == sw::kBinsPerThread * kThreads, "one bin group per thread");
  const int first = threadIdx.x * sw::kBinsPerThread;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  T local[sw::kBinsPerThread];
  T sum = T(0);
#pragma unroll
  for (int j = 0; j < sw::kBinsPerThread; ++j) {
    local[j] = first + j < limit ? w[first + j] : T(0);
    sum += local[j];
  }
  T incl = sum;  // warp inclusive scan
  for (int o = 1; o < 32; o <<= 1) {
    const T up = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += up;
  }
  T excl = __shfl_up_sync(0xffffffffu, incl, 1);
  if (lane == 0) excl = T(0);
  T* slots = ScanSlots(sh, T());
  __syncthreads();  // earlier users of the slots are done
  if (lane == 31) slots[warp] = incl;
  if (threadIdx.x == 0) sh.cross_bin = INT_MAX;
  __syncthreads();
  if (warp == 0) {
    T v = slots[lane];
    for (int o = 1; o < 32; o <<= 1) {
      const T up = __shfl_up_sync(0xffffffffu, v, o);
      if (lane >= o) v += up;
    }
    __syncwarp();
    slots[lane] = v;  // inclusive warp totals
  }
  __syncthreads();
  T run = (warp > 0 ? slots[warp - 1] : T(0)) + excl;
  const int hit = sw::FindCrossing(local, sw::kBinsPerThread, target, run);
  if (hit >= 0 && first + hit < limit) atomicMin(&sh.cross_bin, first + hit);
  __syncthreads();
  const int bin = sh.cross_bin;
  if (bin == INT_MAX ? threadIdx.x == kThreads - 1 : (bin >= first && bin - first == hit))
    *AboveSlot(sh, T()) = run;
  __syncthreads();
  above = *AboveSlot(sh, T());
  return bin == INT_MAX ? -1 : bin;
}

// One read of the row: the elements of bin `bin` (s >= t0) into the buffer's first slots, those
// of `bin2` (a bin above it, or -1: none) in the slots after them (the histogram counted bin's),
// and the race of the bins above both, which whatever thresholds the bins hold keep (this
// thread's bv, bi restart).
// Groups of 4 consecutive tokens, as RaceAll: one Philox block serves a group's 4 race draws.
__device__ void CollectBins(const float* x, int vocab, float inv_t, float t0, float m, int bin,
                            int bin2, bool weights, const SamplingParams& p, uint64_t step,
                            Shared& sh, float& bv, int& bi) {
  bv = -INFINITY, bi = INT_MAX;
  const int begin2 = sh.win.count[bin];
  __syncthreads();
  if (threadIdx.x == 0) sh.buf_count = 0, sh.buf_begin2 = begin2, sh.buf_count2 = 0;
  __syncthreads();
  const int raced_below = bin2 >= 0 ? bin2 : bin;
  const int lane = threadIdx.x & 31;
  float bound = -INFINITY;  // RaceGroup's, which all lanes reach (the warp's trip count)
  HEARTH_SAMPLER_ROW_READ_HOOK();
  for (int g0 = threadIdx.x; 4 * (g0 - lane) < vocab; g0 += kGroups * blockDim.x) {
    float v[kGroups][4];
    LoadScaledGroups(x, vocab, inv_t, g0, v);
#pragma unroll
    for (int u = 0; u < kGroups; ++u) {
      const int g = g0 + u * blockDim.x;
      bool cand[4], any = false;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = 4 * g + j;
        // Past the end, or below t0 (NaN too): neither collected nor raced.
        const int b = i < vocab && v[u][j] >= t0 ? sw::Bin(m, v[u][j]) : sw::kBins;
        if (b == bin || b == bin2) {
          // Within the bins' slots: the histogram counted their elements.
          const int slot =
              b == bin ? atomicAdd(&sh.buf_count, 1) : begin2 + atomicAdd(&sh.buf_count2, 1);
          sh.buf_val[slot] = v[u][j], sh.buf_idx[slot] = i;
          sh.buf_w[slot] = weights ? cuda::FastExp(v[u][j] - m) : 1.f;
        }
        cand[j] = b < raced_below && !(v[u][j] + kMaxGumbel < bound);  // else cannot win
        any |= cand[j];
      }
      if (__any_sync(0xffffffffu, any)) RaceGroup(v[u], cand, g, p, step, bound, bv, bi);
    }
  }
  __syncthreads();
}

// The exact threshold in a collected bin (slots [begin, begin + c)): the candidate value
// (>= floor) at which the weight `above` + the bin's strictly larger weight < target <= with its
// ties (sw::IsThreshold). When float rounding leaves no value qualifying, the bin's lowest
// candidate: everything is kept.
__device__ float InBinThreshold(bool mass, float floor, float above, float target, int begin,
                                int c, Shared& sh) {
  __syncthreads();  // earlier readers of thr_key / low_key are done
  if (threadIdx.x == 0) sh.thr_key = 0u, sh.low_key = UINT_MAX;
  __syncthreads();
  const float* val = sh.buf_val + begin;
  for (int j = threadIdx.x; j < c; j += blockDim.x) {
    const float v = val[j];
    if (!(v >= floor)) continue;
    float gt, ge;
    sw::InBinWeights(val, mass ? sh.buf_w + begin : nullptr, c, floor, v, gt, ge);
    if (sw::IsThreshold(above, gt, ge, target)) atomicMax(&sh.thr_key, OrderedKey(v));
    atomicMin(&sh.low_key, OrderedKey(v));  // window values are finite: keys are > 0
  }
  __syncthreads();
  return KeyToFloat(sh.thr_key != 0u ? sh.thr_key : sh.low_key);
}

// Selection and race of one sampled row by the window histogram: 1 read (min-p only), 2 (top-k
// or top-p, or both when top-p's bin is known before top-k's is read, sw::CoCollectedBin), 3
// (both otherwise, when top-p's threshold bin lies above top-k's). Returns false, having written
// nothing but shared memory, when the radix path must decide instead (sampler_window.h).
__device__ bool WindowSample(const float* x, int vocab, const SamplingParams& p, float m,
                             uint64_t step, Shared& sh, int& token) {
  if (!(fabsf(m) <= FLT_MAX)) return WindowFallback();  // an all -inf / NaN row
  const float inv_t = 1.f / p.temperature;
  const float t0 = p.min_p > 0.f ? __fadd_rn(m, logf(p.min_p)) : -INFINITY;
  const bool need_k = p.top_k > 0 && p.top_k < vocab, need_p = p.top_p < 1.f;
  float t = t0, bv = -INFINITY;
  // The bins in the buffer (-1: none): `buffered` in its first slots, `buffered2` (above it) in
  // its second; the read that collected them raced the bins above both.
  int bi = INT_MAX, buffered = -1, buffered2 = -1;
  if (need_k || need_p) {
    __syncthreads();
    for (int b = threadIdx.x; b < sw::kBins; b += blockDim.x)
      sh.win.count[b] = 0, sh.win.mass[b] = 0.f;
    __syncthreads();
    float below_n = 0.f, below_mass = 0.f;  // counts < 2^24: exact in float
    ForEachBatched(x, vocab, [&](int, float xi) {
      const float v = __fmul_rn(xi, inv_t);
      if (!(v >= t0)) return;
      const int b = sw::Bin(m, v);
      const float w = need_p ? cuda::FastExp(v - m) : 0.f;
      if (b == sw::kBins) {
        below_n += 1.f, below_mass += w;
        return;
      }
      atomicAdd(&sh.win.count[b], 1);
      if (need_p) atomicAdd(&sh.win.mass[b], w);
    });
    below_n = BlockSum(below_n, sh);
    below_mass = BlockSum(below_mass, sh);
    int kbin = -1;
    float mass_above = 0.f;  // top-p with top-k's bin: the mass of the bins above that bin
    if (need_k) {
      int above = 0;
      kbin = BlockFindCrossing<int>(sh.win.count, sw::kBins, p.top_k, sh, above);
      const sw::Decision d =
          sw::Decide(kbin, below_n, static_cast<float>(above) + below_n >= p.top_k);
      if (d == sw::Decision::kFallback || (kbin >= 0 && !sw::BinFits(sh.win.count[kbin])))
        return WindowFallback();
      if (d == sw::Decision::kInBin) {
        if (need_p) {  // top-p's bin, when the histogram already tells
          float unused = 0.f;
          BlockFindCrossing<float>(sh.win.mass, kbin, INFINITY, sh, mass_above);
          int lo = BlockFindCrossing<float>(sh.win.mass, kbin, p.top_p * mass_above, sh, unused);
          int hi = BlockFindCrossing<float>(
              sh.win.mass, kbin, p.top_p * (mass_above + sh.win.mass[kbin]), sh, unused);
          HEARTH_SAMPLER_COCOLLECT_HOOK(lo, hi, kbin);
          buffered2 = sw::CoCollectedBin(lo, hi, sh.win.count[kbin],
                                         lo >= 0 ? sh.win.count[lo] : 0);
        }
        CollectBins(x, vocab, inv_t, t0, m, kbin, buffered2, need_p, p, step, sh, bv, bi);
        buffered = kbin;
        t = fmaxf(t, InBinThreshold(false, t0, static_cast<float>(above),
                                    static_cast<float>(p.top_k), 0, sh.buf_count, sh));
      }
    }
    if (need_p) {
      // The mass top-k and min-p keep: whole bins above kbin and kbin's candidates >= t (with a
      // kbin, its collect and mass_above are done: Decide found it).
      float total = mass_above;
      if (kbin >= 0) {
        float in_bin = 0.f;
        for (int j = threadIdx.x; j < sh.buf_count; j += blockDim.x)
          if (sh.buf_val[j] >= t) in_bin += sh.buf_w[j];
        total += BlockSum(in_bin, sh);
      } else {
        BlockFindCrossing<float>(sh.win.mass, sw::kBins, INFINITY, sh, total);
        total += below_mass;
      }
      const float target = p.top_p * total;
      float above = 0.f;
      int pbin =
          BlockFindCrossing<float>(sh.win.mass, kbin >= 0 ? kbin : sw::kBins, target, sh, above);
      if (pbin < 0 && kbin >= 0) pbin = kbin;  // in top-k's bin, which the buffer holds
      const sw::Decision d = sw::Decide(pbin, below_n, above + below_mass >= target);
      if (d == sw::Decision::kFallback || (pbin >= 0 && !sw::BinFits(sh.win.count[pbin])))
        return WindowFallback();
      if (d == sw::Decision::kInBin) {
        if (pbin == buffered2) {  // collected with top-k's bin (kInBin: pbin >= 0)
          t = fmaxf(t, InBinThreshold(true, t, above, target, sh.buf_begin2, sh.buf_count2, sh));
        } else {
          // Read again unless the buffer holds the bin and that read raced every bin above it
          // (a second bin collected where float rounding moved top-p's bin is not such a read).
          if (pbin != buffered || buffered2 >= 0) {
            CollectBins(x, vocab, inv_t, t0, m, pbin, -1, true, p, step, sh, bv, bi);
            buffered = pbin, buffered2 = -1;
          }
          t = fmaxf(t, InBinThreshold(true, t, above, target, 0, sh.buf_count, sh));
        }
      }
    }
  }
  HEARTH_SAMPLER_THRESHOLD_HOOK(t);
  if (buffered < 0) {
    RaceAll(x, vocab, inv_t, t, p, step, bv, bi);
  } else {  // the kept elements of the buffered bins (all of a bin below t is not kept)
    for (int j = threadIdx.x; j < sh.buf_count; j += blockDim.x)
      if (sh.buf_val[j] >= t) RaceOne(sh.buf_val[j], sh.buf_idx[j], p, step, bv, bi);
    const int begin2 = sh.buf_begin2, end2 = begin2 + sh.buf_count2;
    for (int j = begin2 + threadIdx.x; j < end2; j += blockDim.x)
      if (sh.buf_val[j] >= t) RaceOne(sh.buf_val[j], sh.buf_idx[j], p, step, bv, bi);
  }
  token = BlockArgMax(bv, bi, sh);
  return true;
}

// A bitonic sort of the block's (value, id) pairs, one per thread, best first (Better: the
// larger value, the lower id on ties; no NaN): thread j ends with the j-th best. Exchanges
// between lanes go by shuffles, those between warps (15 of the 55 steps) through shared memory.
__device__ void BlockSortBestFirst(float& v, int& id, Shared& sh) {
  const int t = threadIdx.x;
  __syncthreads();  // earlier users of the union are done
  for (int size = 2; size <= kThreads; size <<= 1)
    for (int j = size >> 1; j > 0; j >>= 1) {
      float ov;
      int oid;
      if (j >= 32) {
        sh.sort.v[t] = v, sh.sort.id[t] = id;
        __syncthreads();
        ov = sh.sort.v[t ^ j], oid = sh.sort.id[t ^ j];
        __syncthreads();
      } else {
        ov = __shfl_xor_sync(0xffffffffu, v, j);
        oid = __shfl_xor_sync(0xffffffffu, id, j);
      }
      // The lower thread of a pair takes the better one where its block of `size` sorts best
      // first ((t & size) == 0: all of them at size = kThreads), the upper one the other.
      if ((((t & j) == 0) == ((t & size) == 0)) == Better(ov, oid, v, id)) v = ov, id = oid;
    }
}

// The k-th largest (1 <= k <= kThreads, counted with repeats) of one value per thread (NaN as
// -inf), returned to every thread.
__device__ float BlockKthLargest(float v, int k, Shared& sh) {
  if (!(v == v)) v = -INFINITY;
  int id = threadIdx.x;
  BlockSortBestFirst(v, id, sh);
  if (static_cast<int>(threadIdx.x) == k - 1) sh.nth_largest = v;
  __syncthreads();
  return sh.nth_largest;
}

// The c (<= kThreads) candidates in the buffer's first slots ranked by (value, lowest id): the
// top n into the output, as logprobs (value - lse); fewer than n candidates leave the rest as
// they are (-1 / -inf).
__device__ void RankIntoTopN(int c, int n, float lse, int32_t* top_ids, float* top_lp,
                             Shared& sh) {
  const int tid = threadIdx.x;
  float v = -INFINITY;
  int id = INT_MAX;
  if (tid < c) v = sh.buf_val[tid], id = sh.buf_idx[tid];
  BlockSortBestFirst(v, id, sh);
  if (tid < n && tid < c) top_ids[tid] = id, top_lp[tid] = v - lse;
}

// Top-n of the raw row in one read (2026-11-23; passes on the H100, 2026-11-25): the first round of
// loads (kBatch values a thread) gives a bound, the n-th largest of the 1024 threads' maxima: at
// least n values of the row are at or above it, so the top n are among them. The read collects
// every value at or above it (the first round's from registers), and the candidates are ranked in
// shared memory. On rows in random order about n x (vocab / first round's values) are collected
// (~320 for n = 20 and 128256 tokens); false, having written nothing but shared memory, when more
// than sw::kCap are (tie groups, flat rows): the window path then reads the row twice.
__device__ bool TopLogprobsOneRead(const float* x, int vocab, int n, float lse, int32_t* top_ids,
                                   float* top_lp, Shared& sh) {
  HEARTH_SAMPLER_ROW_READ_HOOK();
  __syncthreads();
  if (threadIdx.x == 0) sh.buf_count = 0;
  float v[kBatch], lane_max = -INFINITY;
#pragma unroll
  for (int u = 0; u < kBatch; ++u) {
    const int i = threadIdx.x + u * blockDim.x;
    v[u] = i < vocab ? x[i] : -INFINITY;
    lane_max = fmaxf(lane_max, v[u]);  // NaN dropped
  }
  const float bound = BlockKthLargest(lane_max, n, sh);  // its barriers order the reset above
  auto collect = [&](int i, float xi) {
    if (!(xi >= bound)) return;  // NaN too
    const int slot = atomicAdd(&sh.buf_count, 1);
    if (slot < sw::kCap) sh.buf_val[slot] = xi, sh.buf_idx[slot] = i;
  };
#pragma unroll
  for (int u = 0; u < kBatch; ++u) {
    const int i = threadIdx.x + u * blockDim.x;
    if (i < vocab) collect(i, v[u]);
  }
  ForEachBatchedFrom(x, kBatch * blockDim.x, vocab, collect);
  __syncthreads();
  const int c = sh.buf_count;
  HEARTH_SAMPLER_TOPN_HOOK(bound, c);
  if (c > sw::kCap) return false;
  RankIntoTopN(c, n, lse, top_ids, top_lp, sh);
  return true;
}

// Selection and race of a sampled row in one read (kOneRead; 2026-11-24; passes on the H100,
// 2026-11-25): top-k (SamplerTopKInOneRead, with min-p and top-p where asked) or top-p alone
// (SamplerTopPInOneRead). A first pass over the row's first rounds takes each thread's largest
// scaled value s = x / T; the k-th largest of those maxima is reached by at least k values of
// the row, so every token top-k keeps is among the values that reach it. The read collects those
// into the buffer (the first pass's values again, from L2) and the thresholds are selected
// there: the collected values sorted best first (BlockSortBestFirst, one a thread), min-p's
// floor, the k-th best, top-p's running mass in rank order; the kept ones race. Top-p alone
// collects the top of the row the same way (k from sw::OneReadTopPK, one round: ~384 values) and
// takes the row's mass of s in the same read; it is served where the collected mass reaches top_p
// of it (peaked, LM-like rows), top-p's threshold then lying among the collected values. kAlone
// (the split pass left the row out: SamplerSkipsSplitPass, no penalties, so the row is raw): the
// read also takes the raw log-sum-exp (when the token's logprob is asked) and max into sh.part_*.
// False, having written nothing but shared memory and sh.part_*, when more than sw::kCap values
// reach the bound (tie groups, rows sorted ascending), the max is not finite, or (top-p alone) the
// collected mass falls short: the window path then takes the row. -inf values are not collected: a
// row with fewer than k values above -inf (a grammar's mask) keeps them all. Not inlined: in
// SampleKernel's body (64 registers at 1024 threads) it made ptxas spill in the window path's race
// loop (13 local loads in RaceGroup); apart, neither spills there.
#ifndef HEARTH_SAMPLER_TOPK_HOOK
#define HEARTH_SAMPLER_TOPK_HOOK(bound, count)
#endif
template <bool kAlone>
__device__ __noinline__ bool SampleInOneRead(const float* x, int vocab, const SamplingParams& p,
                                             uint64_t step, Shared& sh, int& token) {
  const float inv_t = 1.f / p.temperature;
  const int round = kBatch * kThreads;
  const bool top_k = SamplerTopKInOneRead(p, vocab);  // else top-p alone
  const int k = top_k ? p.top_k : sw::OneReadTopPK(vocab, round);
  const int first = min(vocab, top_k ? sw::OneReadBoundRounds(k, vocab, round) * round : round);
  float lane_max = -INFINITY;  // raw: rounding is monotonic and inv_t > 0
  ForEachBatchFrom(x, 0, first, [&](int, const float(&v)[kBatch]) {
#pragma unroll
    for (int u = 0; u < kBatch; ++u) lane_max = fmaxf(lane_max, v[u]);  // NaN dropped
  });
  __syncthreads();  // earlier readers of buf_count are done
  if (threadIdx.x == 0) sh.buf_count = 0;
  // Its barriers order the reset above before the collect.
  const float bound = BlockKthLargest(__fmul_rn(lane_max, inv_t), k, sh);
  const bool need_lse = kAlone && p.token_logprob != 0;
  // kAlone: the raw online log-sum-exp (sum 0 without need_lse); top-p alone: that of s.
  float m = -INFINITY, sum = 0.f, ms = -INFINITY, mass = 0.f;
  HEARTH_SAMPLER_ROW_READ_HOOK();
  ForEachBatchFrom<true>(x, 0, vocab, [&](int base, const float(&v)[kBatch]) {
    float lm = -INFINITY, sv[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) lm = fmaxf(lm, v[u]), sv[u] = __fmul_rn(v[u], inv_t);
    if (kAlone && need_lse) {
      MergeBatch(v, lm, m, sum);
    } else if (kAlone) {
      m = fmaxf(m, lm);
    }
    // The batch's largest s (+inf: the row goes to the window below).
    if (!top_k) MergeBatch(sv, __fmul_rn(lm, inv_t), ms, mass);
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u * blockDim.x;
      // -inf never: it cannot win, and with fewer than k values above it (a masked row) the
      // threshold is -inf, whatever was collected.
      if (i < vocab && sv[u] >= bound && sv[u] != -INFINITY) {  // NaN never
        const int slot = atomicAdd(&sh.buf_count, 1);
        if (slot < sw::kCap) sh.buf_val[slot] = sv[u], sh.buf_idx[slot] = i;
      }
    }
  });
  if constexpr (kAlone) {
    BlockMergeRaw(m, sum, sh);
    // What SampleKernel reads of an `alone` row's partials (no top-n, not greedy).
    if (threadIdx.x == 0) sh.part_lse = m + logf(sum), sh.part_max = __fmul_rn(m, inv_t);
  }
  if (!top_k) BlockMergeRaw(ms, mass, sh);  // the same in every thread (a butterfly)
  __syncthreads();
  const int c = sh.buf_count;
  const float mx = sh.part_max;  // the largest s, which the buffer holds when c <= kCap
  HEARTH_SAMPLER_TOPK_HOOK(bound, c);
  if (c > sw::kCap || !(fabsf(mx) <= FLT_MAX)) return false;
  const float t0 = p.min_p > 0.f ? __fadd_rn(mx, logf(p.min_p)) : -INFINITY;
  // Thread j takes the j-th best collected value: whatever a threshold keeps is a prefix.
  const int tid = threadIdx.x;
  float v = -INFINITY;
  int id = INT_MAX;
  if (tid < c) v = sh.buf_val[tid], id = sh.buf_idx[tid];
  BlockSortBestFirst(v, id, sh);
  const bool present = tid < c;  // the others hold -inf
  float t = t0;
  if (top_k) {
    // The k-th best is the row's k-th largest (the collected values are the row's top, at least
    // k of them unless fewer than k lie above -inf: then it is padding, -inf, as the row's).
    if (tid == k - 1) sh.nth_largest = v;  // k <= kSamplerOneReadMaxK < kThreads
    __syncthreads();
    t = fmaxf(t0, sh.nth_largest);
  }
  if (p.top_p < 1.f) {
    // Top-p: the first rank whose running mass (of what min-p and top-k keep, in rank order)
    // reaches top_p of the kept mass (top-p alone: of the row's) holds its threshold.
    const bool kept = present && v >= t;
    float total;
    const float running = BlockInclusiveScan(kept ? cuda::FastExp(v - mx) : 0.f, sh, total);
    const float target = p.top_p * (top_k ? total : mass * cuda::FastExp(ms - mx));  // ms == mx
    // Top-p alone: the collected top must hold the target, with room for the float sums'
    // rounding (else the threshold may lie below the collected values). NaN: not served.
    if (!top_k && !(total >= target * 1.00001f)) return false;
    if (threadIdx.x == 0) sh.cross_bin = INT_MAX;
    __syncthreads();
    if (kept && running >= target) atomicMin(&sh.cross_bin, tid);
    __syncthreads();
    if (tid == sh.cross_bin) sh.nth_largest = v;
    __syncthreads();
    if (sh.cross_bin != INT_MAX) t = fmaxf(t, sh.nth_largest);
  }
  HEARTH_SAMPLER_THRESHOLD_HOOK(t);
  float bv = -INFINITY;
  int bi = INT_MAX;
  if (present && v >= t) RaceOne(v, id, p, step, bv, bi);
  token = BlockArgMax(bv, bi, sh);
  return true;
}

// Top-n of the raw row by the window histogram over the raw values (two reads): false, having
// written nothing, when the n-th value lies below the window or its bin does not fit.
__device__ bool TopLogprobsWindow(const float* x, int vocab, int n, float raw_max, float lse,
                                  int32_t* top_ids, float* top_lp, Shared& sh) {
  if (!(fabsf(raw_max) <= FLT_MAX)) return WindowFallback();
  __syncthreads();
  for (int b = threadIdx.x; b < sw::kBins; b += blockDim.x) sh.win.count[b] = 0;
  __syncthreads();
  float below_n = 0.f;
  ForEachBatched(x, vocab, [&](int, float xi) {
    if (!(xi >= -INFINITY)) return;  // NaN
    const int b = sw::Bin(raw_max, xi);
    if (b == sw::kBins)
      below_n += 1.f;
    else
      atomicAdd(&sh.win.count[b], 1);
  });
  below_n = BlockSum(below_n, sh);
  int above = 0;
  const int bin = BlockFindCrossing<int>(sh.win.count, sw::kBins, n, sh, above);
  if (sw::Decide(bin, below_n, true) != sw::Decision::kInBin || !sw::BinFits(sh.win.count[bin]))
    return WindowFallback();
  if (threadIdx.x == 0) sh.num_gt = 0, sh.buf_count = 0;
  __syncthreads();
  ForEachBatched(x, vocab, [&](int i, float xi) {
    if (!(xi >= -INFINITY)) return;
    const int b = sw::Bin(raw_max, xi);
    if (b < bin) {
      const int slot = atomicAdd(&sh.num_gt, 1);  // `above` < n of them
      sh.gt_val[slot] = xi, sh.gt_idx[slot] = i;
    } else if (b == bin) {
      const int slot = atomicAdd(&sh.buf_count, 1);
      sh.buf_val[slot] = xi, sh.buf_idx[slot] = i;
    }
  });
  __syncthreads();
  // Rank of each candidate by (value, lowest id): the bins above come first, whole.
  const int ngt = sh.num_gt, c = sh.buf_count;
  for (int j = threadIdx.x; j < ngt + c; j += blockDim.x) {
    const bool top = j < ngt;
    const float* val = top ? sh.gt_val : sh.buf_val;
    const int* idx = top ? sh.gt_idx : sh.buf_idx;
    const int me = top ? j : j - ngt, cnt = top ? ngt : c;
    int pos = top ? 0 : ngt;
    for (int h = 0; h < cnt; ++h) pos += Better(val[h], idx[h], val[me], idx[me]);
    if (pos < n) top_ids[pos] = idx[me], top_lp[pos] = val[me] - lse;
  }
  return true;
}

// ---- The kernel ------------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads) SampleKernel(FilteredArgs a) {
  cuda::PdlBegin();  // pdl.h
  __shared__ Shared sh;
  const int seq = blockIdx.x;
  const int vocab = a.vocab;
  float* x = a.logits + int64_t{seq} * vocab;  // not __restrict__/ldg: penalized in place below
  const SamplingParams p = a.params[seq];
  if (SamplerUsesSplitPath(p, vocab)) return;  // uniform per block: the split kernels' row
  const uint64_t step = static_cast<uint64_t>(a.steps[seq]);
  int32_t* top_ids = a.out.top_ids + int64_t{seq} * kMaxLogprobs;
  float* top_lp = a.out.top_logprobs + int64_t{seq} * kMaxLogprobs;
  int pen_begin = 0, pen_end = 0;
  if (a.pen.offsets != nullptr) pen_begin = a.pen.offsets[seq], pen_end = a.pen.offsets[seq + 1];
  // Rows selected in one read; `alone`: rows the split pass left out (as it decided).
  const bool one_read = a.path == SamplerFilterPath::kOneRead && SamplerInOneRead(p, vocab);
  const bool alone = one_read && SamplerSkipsSplitPass(p, vocab, pen_end > pen_begin);

  // 0. The split pass's partials, parked in the top-n slots: the raw log-sum-exp and the max
  //    (argmax) of the scaled penalized logits (SampleInOneRead's read takes them for `alone`).
  if (!alone && threadIdx.x < 32) {
    float m, sum, bv;
    int bi;
    WarpCombinePartials(top_lp, top_ids, a.num_chunks, m, sum, bv, bi);
    if (threadIdx.x == 0)
      sh.part_lse = m + logf(sum), sh.part_raw_max = m, sh.part_max = bv, sh.part_argmax = bi;
  }
  __syncthreads();

  // 1. The raw distribution: the top-n logprobs (none for `alone`).
  const bool window = a.path != SamplerFilterPath::kRadix;
  if (threadIdx.x < kMaxLogprobs) top_ids[threadIdx.x] = -1, top_lp[threadIdx.x] = -INFINITY;
  const int n = min(max(p.num_logprobs, 0), min(kMaxLogprobs, vocab));
  if (n > 0) {
    const float lse = sh.part_lse;
    __syncthreads();  // the -1 fill above before thread 0 writes the list
    if (!window || (!TopLogprobsOneRead(x, vocab, n, lse, top_ids, top_lp, sh) &&
                    !TopLogprobsWindow(x, vocab, n, sh.part_raw_max, lse, top_ids, top_lp, sh)))
      TopLogprobs(x, vocab, n, lse, top_ids, top_lp, sh);
  }

  // 2. Penalties, in place (each token is listed once per sequence: no write conflicts).
  __syncthreads();  // every read of the raw row above is done
  for (int e = pen_begin + threadIdx.x; e < pen_end; e += blockDim.x) {
    const int tok = a.pen.tokens[e], count = a.pen.output_counts[e];
    if (tok < 0 || tok >= vocab) continue;
    x[tok] = Penalize(x[tok], count, p);
  }
  __syncthreads();

  // 3. Selection: greedy rows and unfiltered rows have their token from the split pass (the
  //    argmax; the two-level race).
  int token;
  if (IsGreedy(p) || SamplerRacesInSplitPass(p, vocab)) {
    token = sh.part_argmax == INT_MAX ? 0 : sh.part_argmax;  // INT_MAX: all NaN
  } else if (!(one_read && (alone ? SampleInOneRead<true>(x, vocab, p, step, sh, token)
                                  : SampleInOneRead<false>(x, vocab, p, step, sh, token)))) {
    const float inv_t = 1.f / p.temperature;
    const float m = sh.part_max;
    if (!window || !WindowSample(x, vocab, p, m, step, sh, token)) {
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
          if (v >= t) local += cuda::FastExp(v - m);
        });
        const float mass = BlockSum(local, sh);
        const uint32_t floor_key = t == -INFINITY ? 0u : OrderedKey(t);
        const uint32_t k = RadixSelect<true>(x, vocab, inv_t, m, floor_key, p.top_p * mass, sh);
        t = fmaxf(t, KeyToFloat(k));
      }
      HEARTH_SAMPLER_THRESHOLD_HOOK(t);
      float bv = -INFINITY;
      int bi = INT_MAX;
      RaceAll(x, vocab, inv_t, t, p, step, bv, bi);
      token = BlockArgMax(bv, bi, sh);
    }
    if (token == INT_MAX) {  // nothing finite was kept (all -inf): fall back to argmax
      float bv = -INFINITY;
      int bi = INT_MAX;
      for (int i = threadIdx.x; i < vocab; i += blockDim.x)
        if (Better(x[i], i, bv, bi)) bv = x[i], bi = i;
      token = BlockArgMax(bv, bi, sh);
      if (token == INT_MAX) token = 0;  // every logit NaN (as on the split path)
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
    a.out.token_logprobs[seq] = p.token_logprob != 0 ? sh.raw_token_logit - sh.part_lse : 0.f;
  }
}

}  // namespace sampling_kernels
}  // namespace hearth
