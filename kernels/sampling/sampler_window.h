// The window histogram of the filtered sampler path: the pure pieces, host and device, so that
// the CPU tests run the same decisions the kernel makes (sampler_filtered.cu).
//
// Why: top-k, top-p and the top-n logprobs need a threshold deep inside one row. A radix select
// reads the row once per 8 bits of the key (4 passes) and bins on the top bits of the key, where
// nearly all logits of a row share 1-3 bins (atomics serialize). The thresholds the sampler asks
// for sit near the row max m, so one pass builds a histogram of the values in [m - kSpan, m]
// (kBins bins of width kSpan / kBins, bin 0 at the top): counts for top-k and top-n, and masses
// exp(v - m) for top-p; values below the window are only tallied. A scan of the histogram finds
// the bin holding the threshold; a second pass collects that bin's elements (at most kCap) and
// the exact threshold is selected among them. The bins above it are surely kept, so that second
// pass also runs the race over them.
//
// Exactness: the bin function is weakly monotone (v1 >= v2 implies Bin(v1) <= Bin(v2)), so every
// element of a bin is strictly larger than every element of a later bin, and the selection inside
// the bin reproduces the threshold definitions of sampler.h exactly (ties kept). When the
// threshold lies below the window, or its bin holds more than kCap elements, or the row max is
// not finite, the kernel falls back to the radix select (Decide* return kFallback).
#pragma once

#include <cstdint>

#include "kernels/sampling/sampling_params.h"  // HEARTH_HD

namespace hearth::sampler_window {

inline constexpr int kBins = 4096;
inline constexpr float kSpan = 32.f;  // e^-32: what lies below weighs nothing next to the max
inline constexpr float kBinsPerUnit = kBins / kSpan;  // a power of two: (m - v) * it is exact
inline constexpr int kCap = 1024;                     // elements of the threshold bin collected
inline constexpr int kBinsPerThread = 4;              // the block scan: 1024 threads x 4 bins

// Bin of value v in the window below the row max m: 0 holds the top, kBins means below the
// window (also -inf and NaN). Values above m (none, m being the max) would land in bin 0.
HEARTH_HD int Bin(float m, float v) {
  const float d = (m - v) * kBinsPerUnit;
  if (!(d < static_cast<float>(kBins))) return kBins;
  return d > 0.f ? static_cast<int>(d) : 0;
}

// The first bin b of w[0, n) whose inclusive running weight `above + w[0..b]` reaches target,
// or -1; `above` is advanced past every bin before b (past all n when none is found). Weights
// are counts (int) or masses (float, >= 0).
template <class T>
HEARTH_HD int FindCrossing(const T* w, int n, T target, T& above) {
  for (int b = 0; b < n; ++b) {
    if (above + w[b] >= target) return b;
    above += w[b];
  }
  return -1;
}

// What a histogram scan means for one filter.
enum class Decision : int {
  kInBin,     // the threshold is an element of the found bin: collect it and select
  kKeepAll,   // the target is never reached: every candidate is kept (no constraint)
  kFallback,  // the threshold lies below the window: the radix select must find it
};

// found: the bin FindCrossing returned (-1: none in the window). below_count: candidates below
// the window. reachable: the window's weight plus what lies below it reaches the target. When
// the window does not reach the target, the threshold is below it if the target is reachable
// and anything is there; otherwise everything is kept (top-k >= the candidates, or top-p mass
// lost to rounding), as RadixSelect's "lowest present key" rule does.
HEARTH_HD Decision Decide(int found, float below_count, bool reachable) {
  if (found >= 0) return Decision::kInBin;
  return reachable && below_count > 0.f ? Decision::kFallback : Decision::kKeepAll;
}

// A collected bin of more than kCap elements does not fit the buffer.
HEARTH_HD bool BinFits(int count) { return count <= kCap; }

// Top-k and top-p together: top-p's threshold bin, known before top-k's bin is read. Top-p's
// target is top_p x (the mass of the bins above top-k's bin kbin + the mass of kbin's elements
// top-k keeps), which lies between top_p x the bins above and top_p x (the bins above + all of
// kbin); lo and hi are the crossing bins of those two targets (FindCrossing over [0, kbin), -1:
// none). When they agree on a bin above kbin and both bins fit the buffer together, that is
// top-p's bin, and the read that collects kbin collects it too (one read of the row fewer); the
// kernel still checks the bin it finds afterwards against it. Returns the bin, or -1.
HEARTH_HD int CoCollectedBin(int lo, int hi, int kbin_count, int lo_count) {
  return lo >= 0 && lo == hi && kbin_count + lo_count <= kCap ? lo : -1;
}

// The exact threshold inside one collected bin, element j's share of the work: with gt and ge
// the weight of the bin's candidates strictly larger than / at least val[j] (candidates: value
// >= floor), val[j] is THE threshold when above + gt < target <= above + ge (strictly-larger
// weight below the target, ties kept: the definition of TopPThreshold and of the k-th largest).
// At most one value qualifies: gt and ge grow as val[j] falls (sums of >= 0 terms in one fixed
// order, so also in float).
HEARTH_HD void InBinWeights(const float* val, const float* w, int c, float floor, float v,
                            float& gt, float& ge) {
  gt = 0.f, ge = 0.f;
  for (int i = 0; i < c; ++i) {
    if (!(val[i] >= floor)) continue;
    const float wi = w == nullptr ? 1.f : w[i];
    if (val[i] > v) gt += wi;
    if (val[i] >= v) ge += wi;
  }
}
HEARTH_HD bool IsThreshold(float above, float gt, float ge, float target) {
  return above + gt < target && target <= above + ge;
}

// The one-read top-k (sampler_filtered.cu, TopKOneRead): a first pass over the row's first
// rounds x round_values values (round_values: the block's threads x the loads each issues at
// once) takes each thread's maximum; the k-th largest of those maxima is a bound that at least k
// values of the row reach, so the top k are among the values that do, which the read then
// collects (at most kCap). On a row in random order about k x vocab / (rounds x round_values)
// values reach it: the rounds are the fewest that make that at most min(64 + 8k, kCap / 2)
// (a margin of many standard deviations below kCap: the count varies as a sum of ~k geometric
// variables), and never more than the row holds. The first pass's values are read again by the
// collect, from L2.
HEARTH_HD constexpr int OneReadBoundRounds(int k, int vocab, int round_values) {
  const int64_t target = k < (kCap / 2 - 64) / 8 ? 64 + 8 * int64_t{k} : kCap / 2;
  const int64_t per_round = target * round_values;
  const int64_t rounds = (int64_t{k} * vocab + per_round - 1) / per_round;
  const int64_t whole_row = (int64_t{vocab} + round_values - 1) / round_values;
  return static_cast<int>(rounds < 1 ? 1 : rounds > whole_row ? whole_row : rounds);
}

// Top-p alone in one read: the bound comes from one round, with a k that makes about
// kOneReadTopPValues values of a row in random order reach it (the top of the row, whose mass
// must hold top_p of the row's for the read to serve it), 1 to 256.
inline constexpr int kOneReadTopPValues = 384;
HEARTH_HD constexpr int OneReadTopPK(int vocab, int round_values) {
  const int64_t k = int64_t{kOneReadTopPValues} * round_values / vocab;
  return static_cast<int>(k < 1 ? 1 : k > 256 ? 256 : k);
}

}  // namespace hearth::sampler_window
