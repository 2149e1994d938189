// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), written
// from the published algorithm: a counter-based generator, so the CPU and GPU samplers draw the
// same numbers for the same (seed, step, token) without sharing state. Host and device.
#pragma once

#include <cstdint>

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

HEARTH_HD uint32_t MulHi(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
}

// 10 rounds of the Philox4x32 bijection of `ctr` under `key` (key bumped between rounds).
HEARTH_HD U32x4 Philox4x32x10(U32x4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) k0 += kW0, k1 += kW1;
    const uint32_t hi0 = MulHi(kM0, ctr.v[0]), lo0 = kM0 * ctr.v[0];
    const uint32_t hi1 = MulHi(kM1, ctr.v[2]), lo1 = kM1 * ctr.v[2];
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

// A 32-bit word to a float uniform in the open interval (0, 1): the top 23 bits, centred in
// their cell (23, not 24: 1 - 2^-25 would round up to 1 in float).
HEARTH_HD float ToOpenUnitFloat(uint32_t bits) {
  return (static_cast<float>(bits >> 9) + 0.5f) * (1.0f / 8388608.0f);
}

}  // namespace hearth::philox
