// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), written
// from the published algorithm: a counter-based generator, so the CPU and GPU samplers draw the
// same numbers for the same (seed, step, token) without sharing state. Host and device.
#pragma once

#include <cstdint>
#include <cstring>

#ifndef HEARTH_HD
#if defined(__CUDACC__)
#define HEARTH_HD __host__ __device__ __forceinline__
#else
#define HEARTH_HD inline
#endif
#endif

namespace hearth::philox {

struct U32x4 {
  uint32_t v[4];
};

// The 64-bit product of a and b as (hi, lo). On the GPU one mul.wide.u32 (a single IMAD.WIDE):
// the plain 64-bit C++ product compiled to that plus an add of a zero high word, and a high
// product plus a 32-bit one to two multiplies (the race's Philox block: 173 -> 155 instructions
// with its fast score bounds, in the split pass's SASS).
HEARTH_HD void MulWide(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
#if defined(__CUDA_ARCH__)
  uint64_t p;
  asm("mul.wide.u32 %0, %1, %2;" : "=l"(p) : "r"(a), "r"(b));
#else
  const uint64_t p = static_cast<uint64_t>(a) * b;
#endif
  hi = static_cast<uint32_t>(p >> 32), lo = static_cast<uint32_t>(p);
}

// 10 rounds of the Philox4x32 bijection of `ctr` under `key` (key bumped between rounds).
HEARTH_HD U32x4 Philox4x32x10(U32x4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) k0 += kW0, k1 += kW1;
    uint32_t hi0, lo0, hi1, lo1;
    MulWide(kM0, ctr.v[0], hi0, lo0);
    MulWide(kM1, ctr.v[2], hi1, lo1);
    ctr = U32x4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
  }
  return ctr;
}

// The sampler's stream: token `i` of sequence step `step` under `seed` uses word i % 4 of the
// block with counter (i / 4, step low, step high, 0) and key (seed low, seed high).
HEARTH_HD U32x4 SamplerBlock(uint64_t seed, uint64_t step, uint32_t block) {
  return Philox4x32x10(
      U32x4{{block, static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32), 0u}},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// A 32-bit word to a float uniform in the open interval (0, 1): the top 23 bits k, centred in
// their cell, (k + 0.5) / 2^23 (23 bits, not 24: 1 - 2^-25 would round up to 1 in float).
// Computed as the float 1 + k / 2^23 (k as its mantissa) minus (1 - 2^-24): exact, so the same
// bits as the formula (checked for every k in sampling_cpu_test), in 3 instructions instead of 4
// (no int-to-float conversion).
HEARTH_HD float ToOpenUnitFloat(uint32_t bits) {
  const uint32_t one_plus = 0x3f800000u | (bits >> 9);
#if defined(__CUDA_ARCH__)
  const float f = __uint_as_float(one_plus);
#else
  float f;
  std::memcpy(&f, &one_plus, sizeof f);
#endif
  return f - 0.99999994f;  // 1 - 2^-24
}

}  // namespace hearth::philox
