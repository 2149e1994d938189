// CPU matmul: W is dequantized a tile of rows at a time into a per-thread buffer (never the whole
// matrix; F32 weights are read in place), then each output is a fixed-order dot product. Every
// y[t][r] depends only on row t of x and row r of W, so results do not change with the batch or
// the number of threads.
//
// On CPUs with AVX2 the common types are decoded and the dots computed with 8-wide vectors, in
// exactly the scalar code's arithmetic (same products, same rounding, same 16 partial sums and
// pairwise combination; no FMA contraction: the vector functions are compiled without "fma"), so
// both paths give bit-identical results and the choice never shows in the output.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/core/half.h"
#include "kernels/matmul/matmul.h"
#include "kernels/quant/blocks.h"
#include "kernels/quant/dequant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HEARTH_MATMUL_X86 1
#endif

namespace hearth {
namespace {

constexpr int kRowTile = 16;  // weight rows dequantized together (x rows reused from L1/L2)
constexpr int NumTiles(int n) { return (n + kRowTile - 1) / kRowTile; }

// Fixed-order dot product: 16 interleaved partial sums (vectorizable), combined pairwise.
float Dot(const float* a, const float* b, int k) {
  float acc[16] = {};
  int i = 0;
  for (; i + 16 <= k; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; i < k; ++i, ++j) acc[j] += a[i] * b[i];
  for (int w = 8; w >= 1; w /= 2) {
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  }
  return acc[0];
}

#ifdef HEARTH_MATMUL_X86
#define HEARTH_AVX2 __attribute__((target("avx2,f16c")))

// Dot() with acc[0..7] and acc[8..15] in two vectors: the same sums in the same order.
HEARTH_AVX2 float DotAvx2(const float* a, const float* b, int k) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= k; i += 16) {
    lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8)));
  }
  alignas(32) float acc[16];
  _mm256_store_ps(acc, lo);
  _mm256_store_ps(acc + 8, hi);
  for (int j = 0; i < k; ++i, ++j) acc[j] += a[i] * b[i];
  for (int w = 8; w >= 1; w /= 2) {
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  }
  return acc[0];
}

// DotAvx2 of four rows (row stride k) with one x: independent add chains, same sums per row.
HEARTH_AVX2 void Dot4Avx2(const float* a, const float* b, int k, float* out) {
  __m256 lo[4], hi[4];
  for (int r = 0; r < 4; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m256 b0 = _mm256_loadu_ps(b + i), b1 = _mm256_loadu_ps(b + i + 8);
    for (int r = 0; r < 4; ++r) {
      const float* ar = a + int64_t{r} * k + i;
      lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(_mm256_loadu_ps(ar), b0));
      hi[r] = _mm256_add_ps(hi[r], _mm256_mul_ps(_mm256_loadu_ps(ar + 8), b1));
    }
  }
  for (int r = 0; r < 4; ++r) {
    const float* ar = a + int64_t{r} * k;
    alignas(32) float acc[16];
    _mm256_store_ps(acc, lo[r]);
    _mm256_store_ps(acc + 8, hi[r]);
    for (int ii = i, j = 0; ii < k; ++ii, ++j) acc[j] += ar[ii] * b[ii];
    for (int w = 8; w >= 1; w /= 2) {
      for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    }
    out[r] = acc[0];
  }
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

template <DType T>
HEARTH_AVX2 void DecodeRowsAvx2(const uint8_t* src, float* dst, int64_t num_elems) {
  constexpr int kBytes = GetDTypeInfo(T).block_bytes;
  for (int64_t b = 0; b < num_elems / 32; ++b, src += kBytes, dst += 32) {
    __m256 v[4];
    DecodeBlock<T>(src, v);
    for (int g = 0; g < 4; ++g) _mm256_storeu_ps(dst + 8 * g, v[g]);
  }
}

// DotAvx2(decoded row, x) for kRows rows at once, without materializing them: blocks of 32
// feed each row's two 8-wide accumulators in Dot()'s lane order (element i goes to partial sum
// i % 16). Several rows give independent add chains (one row alone is add-latency bound).
template <DType T, int kRows>
HEARTH_AVX2 void FusedDotAvx2(const uint8_t* row, int64_t row_bytes, const float* x, int k,
                              float* out) {
  constexpr int kBytes = GetDTypeInfo(T).block_bytes;
  __m256 lo[kRows], hi[kRows];
  for (int r = 0; r < kRows; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
  for (int i = 0, b = 0; i < k; i += 32, ++b) {
    const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
    const __m256 x2 = _mm256_loadu_ps(x + i + 16), x3 = _mm256_loadu_ps(x + i + 24);
    for (int r = 0; r < kRows; ++r) {
      __m256 v[4];
      DecodeBlock<T>(row + r * row_bytes + int64_t{b} * kBytes, v);
      lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(v[0], x0));
      hi[r] = _mm256_add_ps(hi[r], _mm256_mul_ps(v[1], x1));
      lo[r] = _mm256_add_ps(lo[r], _mm256_mul_ps(v[2], x2));
      hi[r] = _mm256_add_ps(hi[r], _mm256_mul_ps(v[3], x3));
    }
  }
  for (int r = 0; r < kRows; ++r) {
    alignas(32) float acc[16];
    _mm256_store_ps(acc, lo[r]);
    _mm256_store_ps(acc + 8, hi[r]);
    for (int w = 8; w >= 1; w /= 2) {
      for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    }
    out[r] = acc[0];
  }
}

// y[r0 .. r_end) of one token through the fused decode + dot, four rows at a time.
template <DType T>
HEARTH_AVX2 void FusedRowsAvx2(const uint8_t* w, int64_t row_bytes, const float* x, int k, int r0,
                               int r_end, float* y) {
  int r = r0;
  for (; r + 4 <= r_end; r += 4) FusedDotAvx2<T, 4>(w + r * row_bytes, row_bytes, x, k, y + r);
  for (; r < r_end; ++r) FusedDotAvx2<T, 1>(w + r * row_bytes, row_bytes, x, k, y + r);
}

HEARTH_AVX2 bool DecodeAvx2(DType type, const uint8_t* src, float* dst, int64_t num_elems) {
  switch (type) {
    case DType::kQ4_0:
      DecodeRowsAvx2<DType::kQ4_0>(src, dst, num_elems);
      return true;
    case DType::kQ4_1:
      DecodeRowsAvx2<DType::kQ4_1>(src, dst, num_elems);
      return true;
    case DType::kQ5_0:
      DecodeRowsAvx2<DType::kQ5_0>(src, dst, num_elems);
      return true;
    case DType::kQ5_1:
      DecodeRowsAvx2<DType::kQ5_1>(src, dst, num_elems);
      return true;
    case DType::kQ8_0:
      DecodeRowsAvx2<DType::kQ8_0>(src, dst, num_elems);
      return true;
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
      return false;  // k-quants: the generic dequantizer
  }
}

using FusedRowsFn = void (*)(const uint8_t* w, int64_t row_bytes, const float* x, int k, int r0,
                             int r_end, float* y);
// The fused decode + dot of a legacy block type (k a multiple of 32), or null.
FusedRowsFn FusedRowsFor(DType type) {
  switch (type) {
    case DType::kQ4_0:
      return &FusedRowsAvx2<DType::kQ4_0>;
    case DType::kQ4_1:
      return &FusedRowsAvx2<DType::kQ4_1>;
    case DType::kQ5_0:
      return &FusedRowsAvx2<DType::kQ5_0>;
    case DType::kQ5_1:
      return &FusedRowsAvx2<DType::kQ5_1>;
    case DType::kQ8_0:
      return &FusedRowsAvx2<DType::kQ8_0>;
    default:
      return nullptr;
  }
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  return has;
}
#endif  // HEARTH_MATMUL_X86

}  // namespace

Status MatmulCpu(DType w_type, const void* w, const float* x, const float* bias, float* y,
                 int num_tokens, int n, int k) {
  if (num_tokens < 0 || n < 0 || k < 0) {
    return InvalidArgumentError(
        "MatmulCpu: negative shape num_tokens=" + std::to_string(num_tokens) +
        " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
  const auto row_bytes = DTypeBytes(w_type, k);
  if (!row_bytes.has_value()) {
    return InvalidArgumentError("MatmulCpu: k=" + std::to_string(k) + " is not a multiple of " +
                                std::string(DTypeName(w_type)) + "'s block of " +
                                std::to_string(GetDTypeInfo(w_type).block_elems));
  }
  if (num_tokens == 0 || n == 0) return Status::Ok();
  if (w == nullptr || x == nullptr || y == nullptr) {
    return InvalidArgumentError("MatmulCpu: null pointer");
  }
  // Validate the type once, outside the parallel region.
  {
    float probe[8];
    const Status s = DequantizeCpu(w_type, w, probe, 0);
    if (!s.ok()) return s;
  }
#ifdef HEARTH_MATMUL_X86
  const bool avx2 = HasAvx2();
#else
  const bool avx2 = false;
#endif
  const auto* wb = static_cast<const uint8_t*>(w);
#ifdef HEARTH_MATMUL_X86
  // One token: decode each weight row in registers straight into its dot product (the same
  // values and sums as decoding into the tile buffer; nothing to reuse the buffer for).
  if (avx2 && num_tokens == 1) {
    if (const FusedRowsFn fused = FusedRowsFor(w_type); fused != nullptr) {
#pragma omp parallel for schedule(dynamic, 4)
      for (int tile = 0; tile < NumTiles(n); ++tile) {
        const int r0 = tile * kRowTile;
        const int r_end = std::min(n, r0 + kRowTile);
        fused(wb, *row_bytes, x, k, r0, r_end, y);
        if (bias != nullptr) {
          for (int r = r0; r < r_end; ++r) y[r] += bias[r];
        }
      }
      return Status::Ok();
    }
  }
#endif
  const int num_tiles = (n + kRowTile - 1) / kRowTile;
#pragma omp parallel
  {
    std::vector<float> buffer(w_type == DType::kF32 ? 0 : static_cast<size_t>(kRowTile) * k);
#pragma omp for schedule(dynamic, 4)
    for (int tile = 0; tile < num_tiles; ++tile) {
      const int r0 = tile * kRowTile;
      const int rows_here = std::min(kRowTile, n - r0);
      const uint8_t* src = wb + static_cast<int64_t>(r0) * *row_bytes;
      const int64_t count = static_cast<int64_t>(rows_here) * k;
      const float* rows = buffer.data();
      if (w_type == DType::kF32) {
        rows = reinterpret_cast<const float*>(src);  // the same values a copy would hold
      } else {
        bool decoded = false;
#ifdef HEARTH_MATMUL_X86
        if (avx2) decoded = DecodeAvx2(w_type, src, buffer.data(), count);
#endif
        // Cannot fail: type and sizes were checked above.
        if (!decoded) (void)DequantizeCpu(w_type, src, buffer.data(), count);
      }
      for (int t = 0; t < num_tokens; ++t) {
        const float* xt = x + static_cast<int64_t>(t) * k;
        float* yt = y + static_cast<int64_t>(t) * n;
        int r = 0;
#ifdef HEARTH_MATMUL_X86
        if (avx2) {
          for (; r + 4 <= rows_here; r += 4) {
            Dot4Avx2(rows + static_cast<int64_t>(r) * k, xt, k, yt + r0 + r);
            if (bias != nullptr) {
              for (int j = r; j < r + 4; ++j) yt[r0 + j] += bias[r0 + j];
            }
          }
        }
#endif
        for (; r < rows_here; ++r) {
          const float* wr = rows + static_cast<int64_t>(r) * k;
#ifdef HEARTH_MATMUL_X86
          const float dot = avx2 ? DotAvx2(wr, xt, k) : Dot(wr, xt, k);
#else
          const float dot = Dot(wr, xt, k);
#endif
          yt[r0 + r] = bias != nullptr ? dot + bias[r0 + r] : dot;
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace hearth
