// CPU matmul on 8-bit activations (MatmulCpuInt8, matmul.h): the arithmetic of llama.cpp's CPU
// dots and of the GPU's integer GEMVs. The float32 path (matmul_cpu.cc) turns every weight into a
// float and multiplies it with x; on a big quantized model that costs ~4 vector instructions per
// 8 weights and makes decode compute-bound. Here each token's x is quantized once, and 32 weights
// at a time meet it in one byte multiply-add (maddubs): decode is bound by reading W again.
//
// The arithmetic (every path: the portable one and AVX2 give the same bits). Per token:
//   x block j (32 elements) -> int8 q (QuantizeRowQ8Cpu's quantizer, the GPU's: round(x * 127 /
//   amax)), its scale xd[j] = amax / 127 and xs[j] = xd[j] * sum(q); a block holding inf or NaN
//   gets xd = xs = NaN (so does the output: NaN never passes).
// Per row and token, 8 float lanes acc[0..8) start at 0; the row's 32-weight sub-blocks j in order
// each add, to lane l:
//   acc[l] = fma(float(p_l), scale_l * xd[j], acc[l]),  p_l = sum over bytes 4l..4l+3 of w * q
// with w the integer weights (Q8_0: q; Q4_0: q - 8; Q5_0: q - 16; Q4_1, Q5_1: q; Q2_K: q in 0..3;
// Q3_K: q - 4; Q4_K: 0..15; Q5_K: 0..31; Q6_K: q - 32) and scale_l the float32 scale of those
// bytes (the legacy types' d; Q4_K's and Q5_K's d * sc of the sub-block; Q2_K's, Q3_K's and
// Q6_K's d * sc of its 16-weight half),
// p_l exact, the fused multiply-add rounded once (std::fmaf; _mm256_fmadd_ps, which is why the
// AVX2 path needs FMA, and why this file is compiled with -ffp-contract=off: no other multiply
// and add may fuse). The min terms, multiplied and added separately: Q4_K's and Q5_K's go to
// lanes macc[j % 8] += (-(dmin * m)) * xs[j], Q4_1's and Q5_1's in order to one sum mins +=
// m * xs[j]; Q2_K's, one per 16 weights, per lane as acc's: macc[l] = fma(float(sum of the
// lane's 4 x quants), (dmin * m) * xd[j], macc[l]), subtracted at the end. The result is
// Sum8(acc) (+ Sum8(macc), + mins, or - Sum8(macc) for Q2_K), Sum8 adding lanes l and l + 4, then l
// + 2, then l + 1, and the bias after.
//
// Each output depends only on its row of W and its token's x, so results do not change with the
// batch or the number of threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HEARTH_INT8_AVX2 1
// The AVX2 kernels' target: AVX2, F16C and FMA (fmaf is part of the arithmetic below).
#define HEARTH_INT8_AVX2_FMA __attribute__((target("avx2,f16c,fma")))
#endif

#include "kernels/core/cpu_features.h"
#include "kernels/core/half.h"
#include "kernels/matmul/gemv_q8_unit.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/matmul_cpu_avx2.h"
#include "kernels/quant/block_decode.h"

namespace hearth {
namespace {

using gemv_internal::kQ8Block;
using quant::AddRn;
using quant::MulRn;

// Rows of W per tile handed to a thread, and tokens whose x stays in L2 while a tile's rows
// (L1) meet them.
constexpr int kRowTile = 16;
constexpr int kTokenBlock = 16;
constexpr int kAvx2Tokens = 4;  // tokens sharing one decode of a weight block

// One token's quantized activations.
struct XTok {
  const int8_t* q;  // [k]
  const float* d;   // [k / 32] block scales
  const float* s;   // [k / 32] d * sum of the block's q
};

// All tokens' quantized x, kept per calling thread so that steps reuse its pages.
struct XBuffers {
  std::vector<int8_t> q;
  std::vector<float> d, s;
  XTok Token(int t, int k) const {
    const int64_t blocks = k / kQ8Block;
    return {q.data() + int64_t{t} * k, d.data() + t * blocks, s.data() + t * blocks};
  }
};

// QuantizeRowQ8Cpu block by block, but for blocks holding inf or NaN (which it would turn into
// quants): those get quants 0 and xd = xs = NaN.
void QuantizeToken(const float* x, int k, int8_t* q, float* d, float* s) {
  for (int b = 0; b < k / kQ8Block; ++b) {
    const float* v = x + b * kQ8Block;
    int8_t* qb = q + b * kQ8Block;
    if (!std::all_of(v, v + kQ8Block, [](float e) { return std::isfinite(e); })) {
      std::fill(qb, qb + kQ8Block, int8_t{0});
      d[b] = s[b] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    gemv_internal::XScale sc;
    gemv_internal::QuantizeRowQ8Cpu(v, kQ8Block, qb, &sc);
    d[b] = sc.d;
    s[b] = sc.s;
  }
}

// Lanes l and l + 4, then l + 2, then l + 1.
float Sum8(float a[8]) {
  for (int w = 4; w >= 1; w /= 2) {
    for (int j = 0; j < w; ++j) a[j] = AddRn(a[j], a[j + w]);
  }
  return a[0];
}

// ---- The portable path: the definition ---------------------------------------------------------

// Sub-block j (weights 32j .. 32j + 31) of a row: its integer weights and the scale of each lane.
struct SubBlock {
  int w[32];
  float scale[8];     // of bytes 4l .. 4l + 3
  float min;          // Q4_K, Q5_K: -(dmin * m); Q4_1, Q5_1: m; the weight of the x block's sum
  float lane_min[8];  // Q2_K: dmin * m of bytes 4l .. 4l + 3, the weight of their x sum
};

// The legacy 32-weight blocks: Q8_0 (d, 32 int8), Q4_0 (d, 16 nibble bytes: q - 8), Q4_1 (d, m,
// nibbles: q, w = d * q + m), Q5_0 (d, qh, nibbles: q - 16), Q5_1 (d, m, qh, nibbles); weight c
// of a 4-bit block is nibble c % 16 (low, then high) of qs[c % 16], bit 4 is bit c of qh.
template <DType T>
constexpr bool kLegacy = T == DType::kQ8_0 || T == DType::kQ4_0 || T == DType::kQ4_1 ||
                         T == DType::kQ5_0 || T == DType::kQ5_1;
template <DType T>
constexpr bool kLegacyMin = T == DType::kQ4_1 || T == DType::kQ5_1;  // + m * xs[j], in order
template <DType T>
constexpr bool kLegacyFive = T == DType::kQ5_0 || T == DType::kQ5_1;
template <DType T>
constexpr int kLegacyQs = 2 + (kLegacyMin<T> ? 2 : 0) + (kLegacyFive<T> ? 4 : 0);  // qs offset
template <DType T>
constexpr bool kKMin = T == DType::kQ4_K || T == DType::kQ5_K;  // macc[j % 8] += min * xs[j]

template <DType T>
SubBlock DecodeSub(const uint8_t* row, int j) {
  SubBlock s{};
  if constexpr (T == DType::kQ8_0) {
    const uint8_t* b = row + GetDTypeInfo(T).block_bytes * j;
    std::fill(s.scale, s.scale + 8, quant::HalfBitsToFloat(quant::LoadU16(b)));
    for (int c = 0; c < 32; ++c) s.w[c] = static_cast<int8_t>(b[2 + c]);
  } else if constexpr (kLegacy<T>) {
    const uint8_t* b = row + int64_t{j} * GetDTypeInfo(T).block_bytes;
    std::fill(s.scale, s.scale + 8, quant::HalfBitsToFloat(quant::LoadU16(b)));
    if constexpr (kLegacyMin<T>) s.min = quant::HalfBitsToFloat(quant::LoadU16(b + 2));
    uint32_t qh = 0;
    if constexpr (kLegacyFive<T>) std::memcpy(&qh, b + kLegacyQs<T> - 4, 4);
    for (int c = 0; c < 32; ++c) {
      const int q = ((b[kLegacyQs<T> + c % 16] >> (4 * (c / 16))) & 0x0F) |
                    static_cast<int>((qh >> c) & 1) << 4;
      s.w[c] = kLegacyMin<T> ? q : q - (kLegacyFive<T> ? 16 : 8);
    }
  } else if constexpr (kKMin<T>) {  // Q4_K, Q5_K (its 32 qh bytes before the quants)
    constexpr int kQs = T == DType::kQ4_K ? 16 : 48;
    const uint8_t* b = row + GetDTypeInfo(T).block_bytes * (j / 8);
    const int jj = j % 8;
    int sc, m;
    quant::ScaleMinK4(b + 4, jj, &sc, &m);
    std::fill(s.scale, s.scale + 8,
              MulRn(quant::HalfBitsToFloat(quant::LoadU16(b)), static_cast<float>(sc)));
    s.min = -MulRn(quant::HalfBitsToFloat(quant::LoadU16(b + 2)), static_cast<float>(m));
    for (int c = 0; c < 32; ++c) {
      s.w[c] = (b[kQs + 32 * (jj / 2) + c] >> (4 * (jj % 2))) & 0x0F;
      if constexpr (T == DType::kQ5_K) s.w[c] |= ((b[16 + c] >> jj) & 1) << 4;
    }
  } else if constexpr (T == DType::kQ2_K) {  // scale and min per 16 weights, 2-bit quants
    const uint8_t* b = row + GetDTypeInfo(T).block_bytes * (j / 8);
    const int jj = j % 8;
    const float d = quant::HalfBitsToFloat(quant::LoadU16(b + 80));
    const float dmin = quant::HalfBitsToFloat(quant::LoadU16(b + 82));
    for (int l = 0; l < 8; ++l) {
      const uint8_t sc = b[2 * jj + l / 4];
      s.scale[l] = MulRn(d, static_cast<float>(sc & 0x0F));
      s.lane_min[l] = MulRn(dmin, static_cast<float>(sc >> 4));
    }
    for (int c = 0; c < 32; ++c) s.w[c] = (b[16 + 32 * (jj / 4) + c] >> (2 * (jj % 4))) & 3;
  } else if constexpr (T == DType::kQ3_K) {  // signed 6-bit scale per 16 weights, q - 4
    const uint8_t* b = row + GetDTypeInfo(T).block_bytes * (j / 8);
    const int jj = j % 8;
    const float d = quant::HalfBitsToFloat(quant::LoadU16(b + 108));
    for (int l = 0; l < 8; ++l) {
      s.scale[l] = MulRn(d, static_cast<float>(quant::ScaleQ3K(b + 96, 2 * jj + l / 4)));
    }
    for (int c = 0; c < 32; ++c) {
      const int low = (b[32 + 32 * (jj / 4) + c] >> (2 * (jj % 4))) & 3;
      s.w[c] = (low | ((b[c] >> jj) & 1) << 2) - 4;
    }
  } else {
    static_assert(T == DType::kQ6_K);
    const uint8_t* b = row + GetDTypeInfo(T).block_bytes * (j / 8);
    const int h = j % 8 / 4, jj = j % 4;
    const float d = quant::HalfBitsToFloat(quant::LoadU16(b + 208));
    for (int l = 0; l < 8; ++l) {
      s.scale[l] =
          MulRn(d, static_cast<float>(static_cast<int8_t>(b[192 + 8 * h + 2 * jj + l / 4])));
    }
    for (int c = 0; c < 32; ++c) {
      const int lo = (b[64 * h + 32 * (jj % 2) + c] >> (4 * (jj / 2))) & 0x0F;
      const int hi = (b[128 + 32 * h + c] >> (2 * jj)) & 3;
      s.w[c] = (lo | hi << 4) - 32;
    }
  }
  return s;
}

template <DType T>
float DotRowPortable(const uint8_t* row, const XTok& x, int k) {
  float acc[8] = {}, macc[8] = {}, mins = 0.f;
  for (int j = 0; j < k / kQ8Block; ++j) {
    const SubBlock s = DecodeSub<T>(row, j);
    const int8_t* q = x.q + kQ8Block * j;
    for (int l = 0; l < 8; ++l) {
      int p = 0;
      for (int i = 4 * l; i < 4 * l + 4; ++i) p += s.w[i] * q[i];
      acc[l] = std::fmaf(static_cast<float>(p), MulRn(s.scale[l], x.d[j]), acc[l]);
    }
    if constexpr (kKMin<T>) macc[j % 8] = AddRn(macc[j % 8], MulRn(s.min, x.s[j]));
    if constexpr (kLegacyMin<T>) mins = AddRn(mins, MulRn(s.min, x.s[j]));
    if constexpr (T == DType::kQ2_K) {
      for (int l = 0; l < 8; ++l) {
        const int sum = q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3];
        macc[l] = std::fmaf(static_cast<float>(sum), MulRn(s.lane_min[l], x.d[j]), macc[l]);
      }
    }
  }
  const float r = Sum8(acc);
  if constexpr (kKMin<T>) return AddRn(r, Sum8(macc));
  if constexpr (T == DType::kQ2_K) return quant::SubRn(r, Sum8(macc));
  if constexpr (kLegacyMin<T>) return AddRn(r, mins);
  return r;
}

// ---- AVX2 --------------------------------------------------------------------------------------
#ifdef HEARTH_INT8_AVX2

// How far ahead in its row each kernel prefetches W (as the float path's fused kernel).
constexpr int kPrefetchBytes = 1024;

HEARTH_INT8_AVX2_FMA inline float HalfF16c(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
HEARTH_INT8_AVX2_FMA inline __m256i Load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
// 8 lanes, lane l = the exact sum over bytes 4l..4l+3 of w * x; w unsigned (0..128), x -127..127
// (the byte products' pairwise sums stay below 2^15: maddubs never saturates). Signed weights
// (-128..127) enter as |w| (abs_epi8: 128 for -128) times x with w's sign (sign_epi8).
HEARTH_INT8_AVX2_FMA inline __m256i LanesU8(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}
// fma(float(p), f, acc), lane by lane (std::fmaf's rounding).
HEARTH_INT8_AVX2_FMA inline __m256 AddScaled(__m256 acc, __m256i p, __m256 f) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), f, acc);
}
HEARTH_INT8_AVX2_FMA inline float Sum8Avx2(__m256 v) {
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}
// 8 bytes -> 8 exact floats.
HEARTH_INT8_AVX2_FMA inline __m256 U8x8ToF32(uint64_t bytes) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(bytes))));
}

// Bit c of qh as 0x10 in byte c (c < 32): byte c takes byte c / 8 of qh, then its bit c % 8.
HEARTH_INT8_AVX2_FMA inline __m256i FifthBits(uint32_t qh) {
  const __m256i bytes =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)),
                          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                           2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit),
                          _mm256_set1_epi8(0x10));
}

// QuantizeToken's bits, 32 activations at a time: the max of |v| (exact in any order without NaN,
// and a block with inf or NaN takes the scalar code's branch), the same scalar inverse scale,
// round(v * id) by cvtps (round to nearest even, as nearbyint in the default mode), the same clamp.
HEARTH_INT8_AVX2_FMA void QuantizeTokenAvx2(const float* x, int k, int8_t* q, float* d, float* s) {
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  for (int b = 0; b < k / kQ8Block; ++b) {
    const float* v = x + b * kQ8Block;
    __m256 a[4];
    int finite = 0xFF;
    for (int i = 0; i < 4; ++i) {
      a[i] = _mm256_and_ps(_mm256_loadu_ps(v + 8 * i), magnitude);
      finite &= _mm256_movemask_ps(_mm256_cmp_ps(a[i], inf, _CMP_LT_OQ));  // NaN: false
    }
    if (finite != 0xFF) {
      QuantizeToken(v, kQ8Block, q + b * kQ8Block, d + b, s + b);
      continue;
    }
    __m256 m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    const float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    const __m256 id = _mm256_set1_ps(gemv_internal::InverseScaleQ8(amax));
    const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
    __m256i qi[4], sum = _mm256_setzero_si256();
    for (int i = 0; i < 4; ++i) {
      qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + 8 * i), id));
      qi[i] = _mm256_max_epi32(_mm256_min_epi32(qi[i], hi), lo);
      sum = _mm256_add_epi32(sum, qi[i]);
    }
    // Packing interleaves 4-element groups across the two 128-bit lanes; the permute undoes it.
    const __m256i bytes =
        _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(q + b * kQ8Block),
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    const gemv_internal::XScale sc = gemv_internal::ScaleQ8(amax, _mm_cvtsi128_si32(s4));
    d[b] = sc.d;
    s[b] = sc.s;
  }
}

// Each kernel: one row times NT tokens (x[0..NT)), into out[0..NT). A weight block is decoded once
// for the NT tokens; each token's arithmetic is the single token's, so the bits do not depend on
// NT (the batch). One row at a time, front to back, is one stream for the hardware prefetcher: 4
// rows side by side (one x load serving 4 rows) streamed W from DRAM at 5 GB/s a core against 14
// GB/s for one (Q4_K 14336 x 4096, 2026-11-25).
template <DType T, int NT>
HEARTH_INT8_AVX2_FMA void RowLegacy(const uint8_t* w, const XTok* x, int k, float* out) {
  constexpr int kBytes = GetDTypeInfo(T).block_bytes;
  __m256 acc[NT];
  float mins[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps(), mins[t] = 0.f;
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  for (int j = 0; j < k / kQ8Block; ++j) {
    const uint8_t* b = w + kBytes * j;
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchBytes), _MM_HINT_T0);
    const float d = HalfF16c(b);
    __m256i q;  // the weights, signed (Q8_0, Q4_0, Q5_0) or unsigned (Q4_1, Q5_1)
    if constexpr (T == DType::kQ8_0) {
      q = Load32(b + 2);
    } else {
      const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kLegacyQs<T>));
      q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs),
                           nibble);  // low nibbles, then high
      if constexpr (kLegacyFive<T>) {
        uint32_t qh;
        std::memcpy(&qh, b + kLegacyQs<T> - 4, 4);
        q = _mm256_or_si256(q, FifthBits(qh));
      }
      if constexpr (!kLegacyMin<T>)
        q = _mm256_sub_epi8(q, _mm256_set1_epi8(kLegacyFive<T> ? 16 : 8));
    }
    [[maybe_unused]] const __m256i magnitude = _mm256_abs_epi8(q);
    [[maybe_unused]] float m = 0.f;
    if constexpr (kLegacyMin<T>) m = HalfF16c(b + 2);
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const __m256 f = _mm256_set1_ps(MulRn(d, x[t].d[j]));
      const __m256i xq = Load32(x[t].q + kQ8Block * j);
      if constexpr (kLegacyMin<T>) {
        acc[t] = AddScaled(acc[t], LanesU8(q, xq), f);
        mins[t] = AddRn(mins[t], MulRn(m, x[t].s[j]));
      } else {  // signed w: |w| times x with w's sign
        acc[t] = AddScaled(acc[t], LanesU8(magnitude, _mm256_sign_epi8(xq, q)), f);
      }
    }
  }
  for (int t = 0; t < NT; ++t) {
    out[t] = kLegacyMin<T> ? AddRn(Sum8Avx2(acc[t]), mins[t]) : Sum8Avx2(acc[t]);
  }
}

// Q4_K and Q5_K (a fifth bit per weight: bit j of qh[c] for weight c of sub-block j).
template <DType T, int NT>
HEARTH_INT8_AVX2_FMA void RowK4(const uint8_t* w, const XTok* x, int k, float* out) {
  constexpr int kBytes = GetDTypeInfo(T).block_bytes, kQs = T == DType::kQ4_K ? 16 : 48;
  __m256 acc[NT], macc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = macc[t] = _mm256_setzero_ps();
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256 sign = _mm256_set1_ps(-0.f);
  for (int sb = 0; sb < k / 256; ++sb) {
    const uint8_t* b = w + kBytes * sb;
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchBytes), _MM_HINT_T0);
    // ScaleMinK4 for the 8 sub-blocks at once: sc and m as bytes 0..7 of two words.
    uint32_t s[3];
    std::memcpy(s, b + 4, 12);
    const uint64_t sc =
        (s[0] & 0x3F3F3F3Fu) | uint64_t{(s[2] & 0x0F0F0F0Fu) | ((s[0] >> 2) & 0x30303030u)} << 32;
    const uint64_t m = (s[1] & 0x3F3F3F3Fu) |
                       uint64_t{((s[2] >> 4) & 0x0F0F0F0Fu) | ((s[1] >> 2) & 0x30303030u)} << 32;
    const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(HalfF16c(b)), U8x8ToF32(sc));
    const __m256 min =
        _mm256_xor_ps(_mm256_mul_ps(_mm256_set1_ps(HalfF16c(b + 2)), U8x8ToF32(m)), sign);
    __m256 f[NT];
    for (int t = 0; t < NT; ++t) {
      f[t] = _mm256_mul_ps(scale, _mm256_loadu_ps(x[t].d + 8 * sb));
      macc[t] = _mm256_add_ps(macc[t], _mm256_mul_ps(min, _mm256_loadu_ps(x[t].s + 8 * sb)));
    }
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      const __m256i q = Load32(b + kQs + 32 * p);
      __m256i lo = _mm256_and_si256(q, nibble);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble);
      if constexpr (T == DType::kQ5_K) {
        const __m256i qh = Load32(b + 16), one = _mm256_set1_epi8(1);
        lo = _mm256_or_si256(
            lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one), 4));
        hi = _mm256_or_si256(
            hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one), 4));
      }
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const int8_t* xq = x[t].q + 256 * sb + 64 * p;
        acc[t] = AddScaled(acc[t], LanesU8(lo, Load32(xq)),
                           _mm256_permutevar8x32_ps(f[t], _mm256_set1_epi32(2 * p)));
        acc[t] = AddScaled(acc[t], LanesU8(hi, Load32(xq + 32)),
                           _mm256_permutevar8x32_ps(f[t], _mm256_set1_epi32(2 * p + 1)));
      }
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = AddRn(Sum8Avx2(acc[t]), Sum8Avx2(macc[t]));
}

template <int NT>
HEARTH_INT8_AVX2_FMA void RowQ6_K(const uint8_t* w, const XTok* x, int k, float* out) {
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i nibble = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(3);
  const __m256i offset = _mm256_set1_epi8(32);
  for (int sb = 0; sb < k / 256; ++sb) {
    const uint8_t* b = w + GetDTypeInfo(DType::kQ6_K).block_bytes * sb;
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchBytes), _MM_HINT_T0);
    const __m256 d = _mm256_set1_ps(HalfF16c(b + 208));
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192));
    const __m256 scale[2] = {
        // d * sc[0..7], d * sc[8..15]
        _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))),
        _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8))))};
    for (int h = 0; h < 2; ++h) {
      // f[t] lane 2jj + e: (d * sc[8h + 2jj + e]) * xd[8sb + 4h + jj], the factor of half e of
      // sub-block 4h + jj.
      const __m256i pair = _mm256_setr_epi32(4 * h, 4 * h, 4 * h + 1, 4 * h + 1, 4 * h + 2,
                                             4 * h + 2, 4 * h + 3, 4 * h + 3);
      __m256 f[NT];
      for (int t = 0; t < NT; ++t) {
        f[t] = _mm256_mul_ps(scale[h],
                             _mm256_permutevar8x32_ps(_mm256_loadu_ps(x[t].d + 8 * sb), pair));
      }
      const __m256i high = Load32(b + 128 + 32 * h);
#pragma GCC unroll 4
      for (int jj = 0; jj < 4; ++jj) {
        // q = 4 bits of ql | 2 bits of qh << 4, minus 32 (the 16-bit shifts carry bits of each
        // odd byte into the even one below it, which the masks remove).
        const __m256i lo = _mm256_and_si256(
            _mm256_srli_epi16(Load32(b + 64 * h + 32 * (jj % 2)), 4 * (jj / 2)), nibble);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(high, 2 * jj), two);
        const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), offset);
        const __m256i magnitude = _mm256_abs_epi8(q);
        const __m256i pick = _mm256_setr_epi32(2 * jj, 2 * jj, 2 * jj, 2 * jj, 2 * jj + 1,
                                               2 * jj + 1, 2 * jj + 1, 2 * jj + 1);
#pragma GCC unroll 4
        for (int t = 0; t < NT; ++t) {
          const __m256i xq = Load32(x[t].q + 256 * sb + 128 * h + 32 * jj);
          acc[t] = AddScaled(acc[t], LanesU8(magnitude, _mm256_sign_epi8(xq, q)),
                             _mm256_permutevar8x32_ps(f[t], pick));
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = Sum8Avx2(acc[t]);
}

// Q2_K and Q3_K: a scale (Q2_K: and a min) per 16 weights, as Q6_K's; 2-bit quants (Q3_K: a third
// bit from hmask, bit j of byte c for weight c of chunk j, minus 4).
template <DType T, int NT>
HEARTH_INT8_AVX2_FMA void RowK23(const uint8_t* w, const XTok* x, int k, float* out) {
  constexpr bool kQ2 = T == DType::kQ2_K;
  constexpr int kBytes = GetDTypeInfo(T).block_bytes, kQs = kQ2 ? 16 : 32;
  __m256 acc[NT], macc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = macc[t] = _mm256_setzero_ps();
  const __m256i two_bits = _mm256_set1_epi8(3), ones = _mm256_set1_epi8(1);
  for (int sb = 0; sb < k / 256; ++sb) {
    const uint8_t* b = w + kBytes * sb;
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchBytes), _MM_HINT_T0);
    __m128i sc;  // the 16 scales as signed bytes
    __m256 scale[2], min[2];
    if constexpr (kQ2) {
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
      const __m128i low = _mm_set1_epi8(0x0F);
      sc = _mm_and_si128(raw, low);
      const __m128i m = _mm_and_si128(_mm_srli_epi16(raw, 4), low);
      const __m256 dmin = _mm256_set1_ps(HalfF16c(b + 82));
      min[0] = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(m)));
      min[1] = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(m, 8))));
    } else {
      // ScaleQ3K for the 16 groups at once: low 4 bits in the nibbles of bytes 0..7 (groups 0..7
      // low, 8..15 high), high 2 bits in bytes 8..11 (group i: bits 2 * (i / 4) of byte 8 + i % 4).
      uint32_t a[3];
      std::memcpy(a, b + 96, 12);
      uint32_t v[4];
      for (int i = 0; i < 4; ++i) {
        const uint32_t low = (a[i % 2] >> (4 * (i / 2))) & 0x0F0F0F0Fu;
        v[i] = low | ((a[2] >> (2 * i)) & 0x03030303u) << 4;
      }
      sc = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v)), _mm_set1_epi8(32));
    }
    const __m256 d = _mm256_set1_ps(HalfF16c(b + (kQ2 ? 80 : 108)));
    scale[0] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
    scale[1] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8))));
    [[maybe_unused]] __m256i hmask;
    if constexpr (!kQ2) hmask = Load32(b);
    for (int h = 0; h < 2; ++h) {
      // f[t] (and g[t]) lane 2jj + e: scale (min) of group 8h + 2jj + e times xd[8sb + 4h + jj].
      const __m256i pair = _mm256_setr_epi32(4 * h, 4 * h, 4 * h + 1, 4 * h + 1, 4 * h + 2,
                                             4 * h + 2, 4 * h + 3, 4 * h + 3);
      __m256 f[NT], g[NT];
      for (int t = 0; t < NT; ++t) {
        const __m256 xd = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x[t].d + 8 * sb), pair);
        f[t] = _mm256_mul_ps(scale[h], xd);
        if constexpr (kQ2) g[t] = _mm256_mul_ps(min[h], xd);
      }
      const __m256i qs = Load32(b + kQs + 32 * h);
#pragma GCC unroll 4
      for (int jj = 0; jj < 4; ++jj) {
        const int j = 4 * h + jj;
        __m256i q = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * jj), two_bits);
        if constexpr (!kQ2) {  // | hmask bit j << 2, minus 4
          const __m256i high = _mm256_and_si256(_mm256_srli_epi16(hmask, j), ones);
          q = _mm256_sub_epi8(_mm256_or_si256(q, _mm256_slli_epi16(high, 2)), _mm256_set1_epi8(4));
        }
        [[maybe_unused]] const __m256i magnitude = _mm256_abs_epi8(q);
        const __m256i pick = _mm256_setr_epi32(2 * jj, 2 * jj, 2 * jj, 2 * jj, 2 * jj + 1,
                                               2 * jj + 1, 2 * jj + 1, 2 * jj + 1);
#pragma GCC unroll 4
        for (int t = 0; t < NT; ++t) {
          const __m256i xq = Load32(x[t].q + 256 * sb + 32 * j);
          if constexpr (kQ2) {
            acc[t] = AddScaled(acc[t], LanesU8(q, xq), _mm256_permutevar8x32_ps(f[t], pick));
            macc[t] = AddScaled(macc[t], LanesU8(ones, xq), _mm256_permutevar8x32_ps(g[t], pick));
          } else {
            acc[t] = AddScaled(acc[t], LanesU8(magnitude, _mm256_sign_epi8(xq, q)),
                               _mm256_permutevar8x32_ps(f[t], pick));
          }
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t) {
    out[t] = kQ2 ? quant::SubRn(Sum8Avx2(acc[t]), Sum8Avx2(macc[t])) : Sum8Avx2(acc[t]);
  }
}

template <DType T, int NT>
void RowAvx2(const uint8_t* w, const XTok* x, int k, float* out) {
  if constexpr (kLegacy<T>) {
    RowLegacy<T, NT>(w, x, k, out);
  } else if constexpr (kKMin<T>) {
    RowK4<T, NT>(w, x, k, out);
  } else if constexpr (T == DType::kQ2_K || T == DType::kQ3_K) {
    RowK23<T, NT>(w, x, k, out);
  } else {
    static_assert(T == DType::kQ6_K);
    RowQ6_K<NT>(w, x, k, out);
  }
}
#endif  // HEARTH_INT8_AVX2

// Rows r0 .. r_end of every token, in blocks of kTokenBlock tokens (their x in L2) meeting one
// row at a time (in L1 after the first group), kAvx2Tokens tokens per decode of the row.
template <DType T>
void Tile(bool avx2, const uint8_t* w, int64_t row_bytes, const XBuffers& xb, int num_tokens, int k,
          int r0, int r_end, int64_t n, float* y) {
  for (int t0 = 0; t0 < num_tokens; t0 += kTokenBlock) {
    const int t1 = std::min(num_tokens, t0 + kTokenBlock);
    XTok x[kTokenBlock];
    for (int t = t0; t < t1; ++t) x[t - t0] = xb.Token(t, k);
    for (int r = r0; r < r_end; ++r) {
      const uint8_t* row = w + int64_t{r} * row_bytes;
#ifdef HEARTH_INT8_AVX2
      if (avx2) {
        for (int t = t0; t < t1; t += kAvx2Tokens) {
          float out[kAvx2Tokens];
          const int nt = std::min(kAvx2Tokens, t1 - t);
          const XTok* xt = x + (t - t0);
          switch (nt) {
            case 1:
              RowAvx2<T, 1>(row, xt, k, out);
              break;
            case 2:
              RowAvx2<T, 2>(row, xt, k, out);
              break;
            case 3:
              RowAvx2<T, 3>(row, xt, k, out);
              break;
            default:
              RowAvx2<T, kAvx2Tokens>(row, xt, k, out);
              break;
          }
          for (int i = 0; i < nt; ++i) y[(t + i) * n + r] = out[i];
        }
        continue;
      }
#endif
      for (int t = t0; t < t1; ++t) y[t * n + r] = DotRowPortable<T>(row, x[t - t0], k);
    }
  }
}

// The AVX2 path's CPU features: AVX2, F16C and FMA.
bool HasInt8Avx2() {
#ifdef HEARTH_INT8_AVX2
  static const bool has = CpuHasAvx2F16c() && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

using TileFn = void (*)(bool, const uint8_t*, int64_t, const XBuffers&, int, int, int, int, int64_t,
                        float*);
template <DType T>
constexpr bool kHasInt8 =
    kLegacy<T> || kKMin<T> || T == DType::kQ2_K || T == DType::kQ3_K || T == DType::kQ6_K;
TileFn TileFor(DType w) {
  TileFn tile = nullptr;
  (void)quant::VisitWeightType(w, [&](auto type) {
    if constexpr (kHasInt8<decltype(type)::value>) tile = Tile<decltype(type)::value>;
    return Status::Ok();
  });
  return tile;
}

}  // namespace

bool HasCpuInt8Matmul(DType w) { return TileFor(w) != nullptr; }

Result<CpuMatmulMode> ParseCpuMatmulMode(std::string_view name) {
  if (name.empty() || name == "f32" || name == "float32") return CpuMatmulMode::kF32;
  if (name == "int8") return CpuMatmulMode::kInt8;
  return InvalidArgumentError("CPU matmul mode \"" + std::string(name) +
                              "\": expected f32 (float32 activations, the reference) or int8 "
                              "(8-bit activations for the GGUF block types)");
}

std::string_view CpuMatmulModeName(CpuMatmulMode mode) {
  return mode == CpuMatmulMode::kInt8 ? "int8" : "f32";
}

Status MatmulCpuInt8OnPath(bool avx2, DType w_type, const void* w, const float* x,
                           const float* bias, float* y, int num_tokens, int n, int k) {
  const TileFn tile = TileFor(w_type);
  if (tile == nullptr) {
    return UnimplementedError("MatmulCpuInt8: no 8-bit path for " + std::string(DTypeName(w_type)));
  }
  HEARTH_RETURN_IF_ERROR(matmul_cpu::CheckArgs(w_type, w, x, y, num_tokens, n, k));
  if (num_tokens == 0 || n == 0) return Status::Ok();
#ifdef HEARTH_INT8_AVX2
  if (avx2 && !HasInt8Avx2()) {
    return UnimplementedError("MatmulCpuInt8: the AVX2 path needs AVX2, F16C and FMA");
  }
#else
  if (avx2) return UnimplementedError("MatmulCpuInt8: no AVX2 path on this architecture");
#endif
  // The calling thread's buffers; the parallel regions below see them through xr (a
  // thread_local named inside them would be each worker's own, empty one).
  thread_local XBuffers xb;
  XBuffers& xr = xb;
  const int64_t blocks = k / kQ8Block;
  xr.q.resize(static_cast<size_t>(int64_t{num_tokens} * k));
  xr.d.resize(static_cast<size_t>(num_tokens * blocks));
  xr.s.resize(static_cast<size_t>(num_tokens * blocks));
#pragma omp parallel for if (num_tokens >= 8)
  for (int t = 0; t < num_tokens; ++t) {
    const float* xt = x + int64_t{t} * k;
    int8_t* q = xr.q.data() + int64_t{t} * k;
#ifdef HEARTH_INT8_AVX2
    if (avx2) {
      QuantizeTokenAvx2(xt, k, q, xr.d.data() + t * blocks, xr.s.data() + t * blocks);
      continue;
    }
#endif
    QuantizeToken(xt, k, q, xr.d.data() + t * blocks, xr.s.data() + t * blocks);
  }
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t row_bytes = *DTypeBytes(w_type, k);
// guided: large contiguous runs of rows first (one stream per thread; dynamic chunks of 64 rows
// streamed Q4_K at 25 GB/s, guided at 28-30), small ones at the end for balance.
#pragma omp parallel for schedule(guided)
  for (int tile_index = 0; tile_index < (n + kRowTile - 1) / kRowTile; ++tile_index) {
    const int r0 = tile_index * kRowTile;
    const int r_end = std::min(n, r0 + kRowTile);
    tile(avx2, wb, row_bytes, xr, num_tokens, k, r0, r_end, n, y);
    matmul_cpu::AddBias(bias, num_tokens, n, r0, r_end, y);
  }
  return Status::Ok();
}

Status MatmulCpuInt8(DType w_type, const void* w, const float* x, const float* bias, float* y,
                     int num_tokens, int n, int k) {
  if (!HasCpuInt8Matmul(w_type)) return MatmulCpu(w_type, w, x, bias, y, num_tokens, n, k);
  return MatmulCpuInt8OnPath(HasInt8Avx2(), w_type, w, x, bias, y, num_tokens, n, k);
}

Status MatmulCpuWith(CpuMatmulMode mode, DType w_type, const void* w, const float* x,
                     const float* bias, float* y, int num_tokens, int n, int k) {
  return mode == CpuMatmulMode::kInt8 ? MatmulCpuInt8(w_type, w, x, bias, y, num_tokens, n, k)
                                      : MatmulCpu(w_type, w, x, bias, y, num_tokens, n, k);
}

}  // namespace hearth
