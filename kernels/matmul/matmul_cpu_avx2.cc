// The AVX2 + F16C kernels of MatmulCpu (see matmul_cpu.cc for the invariant they keep): every
// value is the scalar code's float32 operation in the same order (no FMA: "fma" is not among the
// target features, so nothing is contracted), hence bit-identical results on every path.
#include "kernels/matmul/matmul_cpu_avx2.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/core/cpu_features.h"
#include "kernels/core/half.h"
#include "kernels/quant/block_decode.h"

namespace hearth::matmul_cpu {
namespace {

// How far ahead in its row the fused kernel prefetches W. It reads 2-4 rows side by side, and
// for a matrix streamed from memory (the 49152 x 576 Q8_0 LM head: 30 MB) the hardware
// prefetcher alone left it 1.3-2x slower (bench_cpu_matmul, A/B on 2026-11-22).
constexpr int kPrefetchBytes = 1024;

// SumPairwise16 of the 16 partial sums held as lo = sums 0..7, hi = 8..15, in vector registers:
// each level adds the same pairs (j and j + w) as the scalar loop, so the bits are the same.
HEARTH_AVX2 inline float SumPairwise16Avx2(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_add_ps(lo, hi);                                                 // j + 8
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));  // + 4
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));    // lanes 0, 1: j + 2
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));  // lane 0: 0 + 1
}

// Splits tokens 0 .. num_tokens into groups of 3 (while max_token_group allows), then at most one
// of 2, then 1s, calling run(std::integral_constant<int, size>, first token) for each.
template <typename Run>
void ForTokenGroups(int num_tokens, int max_token_group, Run run) {
  int t = 0;
  if (max_token_group >= 3) {
    for (; t + 3 <= num_tokens; t += 3) run(std::integral_constant<int, 3>{}, t);
  }
  if (max_token_group >= 2 && t + 2 <= num_tokens) {
    run(std::integral_constant<int, 2>{}, t);
    t += 2;
  }
  for (; t < num_tokens; ++t) run(std::integral_constant<int, 1>{}, t);
}

// 8 unsigned bytes -> 8 exact floats.
HEARTH_AVX2 inline __m256 U8ToF32(__m128i bytes) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
}

// The 32 quants of a legacy 4-bit block: elements 0..15 are the low nibbles of qs[0..15],
// 16..31 the high nibbles; q[g] holds elements 8g .. 8g+7 as floats.
HEARTH_AVX2 inline void Nibbles32(const uint8_t* qs, __m256 q[4]) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(v, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
  q[0] = U8ToF32(lo);
  q[1] = U8ToF32(_mm_srli_si128(lo, 8));
  q[2] = U8ToF32(hi);
  q[3] = U8ToF32(_mm_srli_si128(hi, 8));
}

// Bit 4 of elements 8g .. 8g+7 (bits 8g.. of the little-endian qh) as 0 / 16 floats.
HEARTH_AVX2 inline __m256 HighBits8(uint32_t qh, int g) {
  const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i v = _mm256_set1_epi32(static_cast<int>((qh >> (8 * g)) & 0xFF));
  const __m256i set = _mm256_cmpeq_epi32(_mm256_and_si256(v, bits), bits);
  return _mm256_cvtepi32_ps(_mm256_and_si256(set, _mm256_set1_epi32(16)));
}

uint32_t LoadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
float HalfAt(const uint8_t* p) {
  return Fp16ToFloat(static_cast<uint16_t>(p[0] | (static_cast<uint16_t>(p[1]) << 8)));
}

// One block of a legacy type decoded to 4 vectors (elements 8g .. 8g+7 in v[g]). Each formula
// is the dequantizer's (kernels/quant/block_decode.h) in the same float32 steps: x = d * q
// (Q4_0: q - 8, Q5_0: q - 16, both exact) or d * q - (-m) (== d * q + m).
HEARTH_AVX2 inline float HalfAtF16c(const uint8_t* p) {
  return _cvtsh_ss(static_cast<uint16_t>(p[0] | (static_cast<uint16_t>(p[1]) << 8)));
}

template <DType T>
HEARTH_AVX2 __attribute__((always_inline)) inline void DecodeBlock(const uint8_t* src,
                                                                   __m256 v[4]) {
  const __m256 d = _mm256_set1_ps(HalfAtF16c(src));
  if constexpr (T == DType::kQ8_0) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 18));
    v[0] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(a)));
    v[1] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(a, 8))));
    v[2] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)));
    v[3] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8))));
  } else {
    constexpr bool kHasMin = T == DType::kQ4_1 || T == DType::kQ5_1;
    constexpr bool kFive = T == DType::kQ5_0 || T == DType::kQ5_1;
    constexpr int kQsAt = 2 + (kHasMin ? 2 : 0) + (kFive ? 4 : 0);
    Nibbles32(src + kQsAt, v);
    if constexpr (kFive) {
      const uint32_t qh = LoadU32(src + kQsAt - 4);
      v[0] = _mm256_add_ps(v[0], HighBits8(qh, 0));
      v[1] = _mm256_add_ps(v[1], HighBits8(qh, 1));
      v[2] = _mm256_add_ps(v[2], HighBits8(qh, 2));
      v[3] = _mm256_add_ps(v[3], HighBits8(qh, 3));
    }
    if constexpr (kHasMin) {
      const __m256 m = _mm256_set1_ps(HalfAtF16c(src + 2));
      v[0] = _mm256_add_ps(_mm256_mul_ps(d, v[0]), m);
      v[1] = _mm256_add_ps(_mm256_mul_ps(d, v[1]), m);
      v[2] = _mm256_add_ps(_mm256_mul_ps(d, v[2]), m);
      v[3] = _mm256_add_ps(_mm256_mul_ps(d, v[3]), m);
    } else {
      const __m256 off = _mm256_set1_ps(kFive ? 16.f : 8.f);
      v[0] = _mm256_mul_ps(d, _mm256_sub_ps(v[0], off));
      v[1] = _mm256_mul_ps(d, _mm256_sub_ps(v[1], off));
      v[2] = _mm256_mul_ps(d, _mm256_sub_ps(v[2], off));
      v[3] = _mm256_mul_ps(d, _mm256_sub_ps(v[3], off));
    }
  }
}

// 32 bytes of unsigned values -> 4 vectors of 8 exact floats (bytes 8g .. 8g+7 in v[g]).
HEARTH_AVX2 inline void Bytes32ToF32(__m256i u, __m256 v[4]) {
  const __m128i lo = _mm256_castsi256_si128(u), hi = _mm256_extracti128_si256(u, 1);
  v[0] = U8ToF32(lo);
  v[1] = U8ToF32(_mm_srli_si128(lo, 8));
  v[2] = U8ToF32(hi);
  v[3] = U8ToF32(_mm_srli_si128(hi, 8));
}

// Bits shift .. shift + width - 1 of each of the 32 bytes at p (shift + width <= 8, mask =
// 2^width - 1), in the low bits of each byte. The 16-bit shift carries bits of each odd byte into
// the top of the even one below it, which the mask removes.
HEARTH_AVX2 inline __m256i BitField32(const uint8_t* p, int shift, int mask) {
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_and_si256(_mm256_srl_epi16(raw, _mm_cvtsi32_si128(shift)),
                          _mm256_set1_epi8(static_cast<char>(mask)));
}

// Chunk j (elements 32j .. 32j+31) of a K-quant 256-block at b, in 4 vectors, each value the
// dequantizer's (kernels/quant/block_decode.h) in the same float32 steps: the sub-block's scale
// d * sc and min dmin * m rounded once each, then scale * q (- min); q - offset is exact.
// Q4_K / Q5_K have one scale (and min) per 32, the others one per 16 (v[0..1], then v[2..3]).
template <DType T>
HEARTH_AVX2 __attribute__((always_inline)) inline void DecodeKChunk(const uint8_t* b, int j,
                                                                    __m256 v[4]) {
  __m256 scale[2], min[2];
  if constexpr (T == DType::kQ4_K || T == DType::kQ5_K) {
    int sc, m;
    quant::ScaleMinK4(b + 4, j, &sc, &m);
    scale[0] = scale[1] = _mm256_set1_ps(HalfAtF16c(b) * static_cast<float>(sc));
    min[0] = min[1] = _mm256_set1_ps(HalfAtF16c(b + 2) * static_cast<float>(m));
    constexpr int kQs = T == DType::kQ4_K ? 16 : 48;  // Q5_K: the 32 qh bytes come first
    __m256i q = BitField32(b + kQs + 32 * (j / 2), 4 * (j % 2), 0x0F);
    if constexpr (T == DType::kQ5_K) {
      q = _mm256_or_si256(q, _mm256_slli_epi16(BitField32(b + 16, j, 1), 4));
    }
    Bytes32ToF32(q, v);
  } else if constexpr (T == DType::kQ2_K) {
    const float d = HalfAtF16c(b + 80), dmin = HalfAtF16c(b + 82);
    for (int h = 0; h < 2; ++h) {
      const uint8_t sc = b[2 * j + h];
      scale[h] = _mm256_set1_ps(d * static_cast<float>(sc & 0x0F));
      min[h] = _mm256_set1_ps(dmin * static_cast<float>(sc >> 4));
    }
    Bytes32ToF32(BitField32(b + 16 + 32 * (j / 4), 2 * (j % 4), 3), v);
  } else if constexpr (T == DType::kQ3_K) {
    const float d = HalfAtF16c(b + 108);
    for (int h = 0; h < 2; ++h) {
      scale[h] = _mm256_set1_ps(d * static_cast<float>(quant::ScaleQ3K(b + 96, 2 * j + h)));
    }
    // q = low 2 bits | hmask bit j << 2, minus 4.
    Bytes32ToF32(_mm256_or_si256(BitField32(b + 32 + 32 * (j / 4), 2 * (j % 4), 3),
                                 _mm256_slli_epi16(BitField32(b, j, 1), 2)),
                 v);
  } else {
    static_assert(T == DType::kQ6_K);
    const float d = HalfAtF16c(b + 208);
    for (int h = 0; h < 2; ++h) {
      scale[h] = _mm256_set1_ps(d * static_cast<float>(static_cast<int8_t>(b[192 + 2 * j + h])));
    }
    // q = 4 bits of ql | 2 bits of qh << 4, minus 32; chunk j is in half j / 4 of the block.
    const int half = j / 4, jj = j % 4;
    Bytes32ToF32(_mm256_or_si256(BitField32(b + 64 * half + 32 * (jj % 2), 4 * (jj / 2), 0x0F),
                                 _mm256_slli_epi16(BitField32(b + 128 + 32 * half, 2 * jj, 3), 4)),
                 v);
  }
  constexpr bool kHasMin = T == DType::kQ2_K || T == DType::kQ4_K || T == DType::kQ5_K;
  constexpr float kOffset = T == DType::kQ3_K ? 4.f : T == DType::kQ6_K ? 32.f : 0.f;
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    if constexpr (kOffset != 0.f) v[g] = _mm256_sub_ps(v[g], _mm256_set1_ps(kOffset));
    v[g] = _mm256_mul_ps(scale[g / 2], v[g]);
    if constexpr (kHasMin) v[g] = _mm256_sub_ps(v[g], min[g / 2]);
  }
}

constexpr bool IsKQuant(DType t) {
  return t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K ||
         t == DType::kQ6_K;
}

// Elements 32j .. 32j+31 of the block at src (j is 0 for the legacy 32-element blocks).
template <DType T>
HEARTH_AVX2 __attribute__((always_inline)) inline void DecodeChunk(const uint8_t* src, int j,
                                                                   __m256 v[4]) {
  if constexpr (IsKQuant(T)) {
    DecodeKChunk<T>(src, j, v);
  } else {
    DecodeBlock<T>(src, v);
  }
}

template <DType T>
HEARTH_AVX2 void DecodeRowsAvx2(const uint8_t* src, float* dst, int64_t num_elems) {
  constexpr int kBytes = GetDTypeInfo(T).block_bytes;
  constexpr int kChunks = GetDTypeInfo(T).block_elems / 32;
  for (int64_t c = 0; c < num_elems / 32; ++c, dst += 32) {
    __m256 v[4];
    DecodeChunk<T>(src + (c / kChunks) * kBytes, static_cast<int>(c % kChunks), v);
    for (int g = 0; g < 4; ++g) _mm256_storeu_ps(dst + 8 * g, v[g]);
  }
}

// Dot(decoded row, x) for kRows rows x kTokens tokens without materializing the rows: each
// block of 32 is decoded in registers once and feeds every token's two 8-wide accumulators in
// Dot()'s lane order (element i to partial sum i % 16). Several rows and tokens give independent
// add chains (one row and one token alone is add-latency bound).
template <DType T, int kRows, int kTokens>
HEARTH_AVX2 void FusedDotAvx2(const uint8_t* row, int64_t row_bytes,
                              const float* x,  // [kTokens, k]
                              int k, int64_t y_stride, float* y) {
  constexpr int kBytes = GetDTypeInfo(T).block_bytes;
  constexpr int kChunks = GetDTypeInfo(T).block_elems / 32;  // 8 for the K-quants, else 1
  __m256 lo[kRows][kTokens], hi[kRows][kTokens];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 4
    for (int t = 0; t < kTokens; ++t) lo[r][t] = hi[r][t] = _mm256_setzero_ps();
  }
  for (int i = 0; i < k; i += 32) {
    const int64_t b = i / (32 * kChunks);
    const int j = (i / 32) % kChunks;
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      __m256 v[4];
      const uint8_t* src = row + r * row_bytes + b * kBytes;
      // Past the row's (or the matrix's) end it is a hint for nothing; prefetches never fault.
      // A K-quant block's chunks step the hint through the block's bytes.
      _mm_prefetch(reinterpret_cast<const char*>(src) + kPrefetchBytes + j * (kBytes / kChunks),
                   _MM_HINT_T0);
      DecodeChunk<T>(src, j, v);
#pragma GCC unroll 4
      for (int t = 0; t < kTokens; ++t) {
        const float* xt = x + int64_t{t} * k + i;
        lo[r][t] = _mm256_add_ps(lo[r][t], _mm256_mul_ps(v[0], _mm256_loadu_ps(xt)));
        hi[r][t] = _mm256_add_ps(hi[r][t], _mm256_mul_ps(v[1], _mm256_loadu_ps(xt + 8)));
        lo[r][t] = _mm256_add_ps(lo[r][t], _mm256_mul_ps(v[2], _mm256_loadu_ps(xt + 16)));
        hi[r][t] = _mm256_add_ps(hi[r][t], _mm256_mul_ps(v[3], _mm256_loadu_ps(xt + 24)));
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 4
    for (int t = 0; t < kTokens; ++t) y[t * y_stride + r] = SumPairwise16Avx2(lo[r][t], hi[r][t]);
  }
}

// y[t][r0 .. r_end) for kTokens tokens through the fused decode + dot: 4 rows at a time for one
// token, 2 for more (2 x 3 keeps 12 sums and one decoded block in the 16 registers).
template <DType T, int kTokens>
HEARTH_AVX2 void FusedTokensAvx2(const uint8_t* w, int64_t row_bytes, const float* x, int k, int r0,
                                 int r_end, int64_t y_stride, float* y) {
  constexpr int kRows = kTokens == 1 ? 4 : 2;
  int r = r0;
  for (; r + kRows <= r_end; r += kRows) {
    FusedDotAvx2<T, kRows, kTokens>(w + r * row_bytes, row_bytes, x, k, y_stride, y + r);
  }
  for (; r < r_end; ++r) {
    FusedDotAvx2<T, 1, kTokens>(w + r * row_bytes, row_bytes, x, k, y_stride, y + r);
  }
}

template <DType T>
HEARTH_AVX2 void FusedRowsAvx2(const uint8_t* w, int64_t row_bytes, const float* x, int num_tokens,
                               int k, int max_token_group, int r0, int r_end, int64_t y_stride,
                               float* y) {
  ForTokenGroups(num_tokens, max_token_group, [&](auto group, int t) {
    FusedTokensAvx2<T, decltype(group)::value>(w, row_bytes, x + int64_t{t} * k, k, r0, r_end,
                                               y_stride, y + t * y_stride);
  });
}

// y[t * y_stride + r] = Dot(w row r, x row t) for kRows rows x kTokens tokens: each pair keeps
// Dot()'s 16 partial sums in two 8-wide accumulators (element i to sum i % 16), and each loaded
// weight vector serves all kTokens tokens (each x vector all kRows rows) from registers. With
// 2 x 3, 12 of the 16 ymm registers hold sums; the rest the two weight vectors and a product.
template <int kRows, int kTokens>
HEARTH_AVX2 void DotBlockAvx2(const float* w,  // [kRows, k]
                              const float* x,  // [kTokens, k]
                              int k, int64_t y_stride, float* y) {
  __m256 lo[kRows][kTokens], hi[kRows][kTokens];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 4
    for (int t = 0; t < kTokens; ++t) lo[r][t] = hi[r][t] = _mm256_setzero_ps();
  }
  int i = 0;
  for (; i + 16 <= k; i += 16) {
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const float* wr = w + int64_t{r} * k + i;
      const __m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8);
#pragma GCC unroll 4
      for (int t = 0; t < kTokens; ++t) {
        const float* xt = x + int64_t{t} * k + i;
        lo[r][t] = _mm256_add_ps(lo[r][t], _mm256_mul_ps(w0, _mm256_loadu_ps(xt)));
        hi[r][t] = _mm256_add_ps(hi[r][t], _mm256_mul_ps(w1, _mm256_loadu_ps(xt + 8)));
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 4
    for (int t = 0; t < kTokens; ++t) {
      if (i == k) {
        y[t * y_stride + r] = SumPairwise16Avx2(lo[r][t], hi[r][t]);
        continue;
      }
      // The k % 16 tail (F32, F16, BF16 rows of odd length): element i to partial sum i % 16.
      const float* wr = w + int64_t{r} * k;
      const float* xt = x + int64_t{t} * k;
      alignas(32) float acc[16];
      _mm256_store_ps(acc, lo[r][t]);
      _mm256_store_ps(acc + 8, hi[r][t]);
      for (int ii = i, j = 0; ii < k; ++ii, ++j) acc[j] += wr[ii] * xt[ii];
      y[t * y_stride + r] = SumPairwise16(acc);
    }
  }
}

// All rows of the tile for kTokens tokens: 2 rows at a time, or 4 with a single token (4 x 1 is
// the pre-blocking kernel: 8 sums, one x vector pair shared by 4 rows).
template <int kTokens>
HEARTH_AVX2 void DotTokensAvx2(const float* w, int num_rows, const float* x, int k,
                               int64_t y_stride, float* y) {
  constexpr int kRows = kTokens == 1 ? 4 : 2;
  int r = 0;
  for (; r + kRows <= num_rows; r += kRows) {
    DotBlockAvx2<kRows, kTokens>(w + int64_t{r} * k, x, k, y_stride, y + r);
  }
  for (; r < num_rows; ++r) DotBlockAvx2<1, kTokens>(w + int64_t{r} * k, x, k, y_stride, y + r);
}

}  // namespace

HEARTH_AVX2 void DotsAvx2(const float* w, int num_rows, const float* x, int num_tokens, int k,
                          int max_token_group, int64_t y_stride, float* y) {
  ForTokenGroups(num_tokens, max_token_group, [&](auto group, int t) {
    DotTokensAvx2<decltype(group)::value>(w, num_rows, x + int64_t{t} * k, k, y_stride,
                                          y + t * y_stride);
  });
}

HEARTH_AVX2 bool DecodeAvx2(DType type, const uint8_t* src, float* dst, int64_t num_elems) {
  switch (type) {
    case DType::kF16: {
      int64_t i = 0;
      for (; i + 8 <= num_elems; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));  // exact, as Fp16ToFloat
      }
      for (; i < num_elems; ++i) dst[i] = HalfAt(src + 2 * i);
      return true;
    }
    case DType::kBF16: {
      int64_t i = 0;
      for (; i + 8 <= num_elems; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
        const __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
      }
      for (; i < num_elems; ++i) {
        dst[i] = Bf16ToFloat(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      }
      return true;
    }
    default:
      break;
  }
  bool decoded = false;  // F32 (read in place) and non-weight types: false
  (void)quant::VisitWeightType(type, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    if constexpr (GetDTypeInfo(T).quantized) {
      DecodeRowsAvx2<T>(src, dst, num_elems);
      decoded = true;
    }
    return Status::Ok();
  });
  return decoded;
}

FusedRowsFn FusedRowsFor(DType type) {
  FusedRowsFn fn = nullptr;  // F32, F16, BF16 and non-weight types: none
  (void)quant::VisitWeightType(type, [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    if constexpr (GetDTypeInfo(T).quantized) fn = &FusedRowsAvx2<T>;
    return Status::Ok();
  });
  return fn;
}

}  // namespace hearth::matmul_cpu

#else  // not x86: the portable path only

namespace hearth::matmul_cpu {
bool DecodeAvx2(DType, const uint8_t*, float*, int64_t) { return false; }
void DotsAvx2(const float*, int, const float*, int, int, int, int64_t, float*) {}
FusedRowsFn FusedRowsFor(DType) { return nullptr; }
}  // namespace hearth::matmul_cpu

#endif
