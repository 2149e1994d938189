// The two-level draw of unfiltered sampled rows (sampler.h): how a row is cut into groups, the
// random word of each group, and a group's log-mass. Host and device: the CPU twin and the split
// pass share these definitions, so that both draw the same token.
//
// Why two levels: a race over every token costs a Philox block per 4 tokens and two logs per
// token (~35 instructions a token in the split pass's SASS), which kept the unfiltered
// temperature rows compute-bound at ~22% of the copy bandwidth on an H100 (2026-11-23). The
// Gumbel-max of a set of tokens is distributed as Gumbel(log of the set's mass) and is independent
// of which token attains it, so a race between groups scored by log(mass) + a Gumbel, then a race
// inside the winning group only, draws each token with its exact probability: a Philox block per
// 4 groups of 16 tokens and one exp per token.
#pragma once

#include <cstdint>

#include "kernels/sampling/philox.h"

#if defined(__CUDA_ARCH__)
#include "kernels/core/fast_math.cuh"
#else
#include <cmath>
#endif

namespace hearth::sampler_race {

// A batch: 512 consecutive tokens from a multiple of 512, one warp's four 16-byte loads per lane.
inline constexpr int kBatchTokens = 512;
// A group: the 16 tokens lane l holds of batch b, 512b + 128u + 4l + j for u, j in 0..3 (in the
// order n = 4u + j); group id 32b + l. The split pass's chunks are whole batches.
inline constexpr int kGroupTokens = 16;
inline constexpr int kGroupsPerBatch = 32;

// The groups of a row of `vocab` tokens, those wholly past its end included (they have none).
HEARTH_HD int NumGroups(int vocab) {
  return (vocab + kBatchTokens - 1) / kBatchTokens * kGroupsPerBatch;
}
HEARTH_HD int GroupToken(int group, int n) {  // n in 0..15; increasing with n
  return (group / kGroupsPerBatch) * kBatchTokens + (n / 4) * 128 + (group % kGroupsPerBatch) * 4 +
         n % 4;
}

// The group's random word: word GroupPhiloxWord of the Philox block with counter
// (GroupPhiloxBlock, step low, step high, 1) and key (seed low, seed high); the tokens' own draws
// (philox::SamplerBlock) have 0 there, so the two levels never share a number. The block index
// is chosen so that a lane whose warp takes every 8th batch (the split pass) meets 4 groups per
// block: 256 (b / 32) + 32 (b % 8) + l, word (b / 8) % 4 (a bijection of (b, l)).
HEARTH_HD uint32_t GroupPhiloxBlock(int group) {
  const int b = group / kGroupsPerBatch, l = group % kGroupsPerBatch;
  return static_cast<uint32_t>(256 * (b / 32) + 32 * (b % 8) + l);
}
HEARTH_HD int GroupPhiloxWord(int group) { return (group / kGroupsPerBatch / 8) % 4; }
HEARTH_HD philox::U32x4 GroupBlock(uint64_t seed, uint64_t step, uint32_t block) {
  return philox::Philox4x32x10(
      philox::U32x4{{block, static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32), 1u}},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// A group's mass is summed in base 2: s2 = logit * Log2Scale(1 / T), m2 = the largest s2 of the
// group, sum = the sum of 2^(s2 - m2) in the order n (0 for -inf; NaN tokens left out), and its
// natural log-mass LogMass(m2, sum) = (m2 + log2 sum) ln 2. On the GPU 2^x and log2 are the SFU's
// (ex2 / lg2.approx.ftz, ~2 ulp); on the host exact: the two may differ in the last bits, so a
// GPU and the CPU twin disagree only when two group scores fall within ~1e-6.
inline constexpr float kLn2 = 0.693147182f;
HEARTH_HD float Log2Scale(float inv_t) { return inv_t * 1.44269504f; }
HEARTH_HD float Exp2(float x) {
#if defined(__CUDA_ARCH__)
  return cuda::FastExp2(x);
#else
  return std::exp2(x);
#endif
}
HEARTH_HD float LogMass(float m2, float sum) {
#if defined(__CUDA_ARCH__)
  float l2;
  asm("lg2.approx.ftz.f32 %0, %1;\n" : "=f"(l2) : "f"(sum));
#else
  const float l2 = std::log2(sum);
#endif
  return (m2 + l2) * kLn2;
}

// A group's largest log-mass: 16 tokens at most, so log(sum) <= log 16 = 2.78. With the largest
// Gumbel (16.64, kMaxGumbel) a group whose m2 ln 2 plus this is below a score already reached
// cannot win (the margin covers the roundings).
inline constexpr float kGroupSlack = 20.f;
// Above every score of a group whose largest s2 is m2 (the split pass skips a group whose ceiling
// is below a score already reached).
HEARTH_HD float GroupScoreCeiling(float m2) { return m2 * kLn2 + kGroupSlack; }

}  // namespace hearth::sampler_race
