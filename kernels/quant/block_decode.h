// Decoding of GGUF weight blocks, eight elements at a time, shared by the CPU dequantizer, the
// CPU matmul and the CUDA kernels (host and device compile the same formulas, so GPU and CPU
// dequantization agree bit for bit). Byte layouts: blocks.h.
//
// The arithmetic order of every formula follows ggml's reference dequantizers (and the gguf
// Python package's numpy port of them), e.g. Q4_K is (d * sc) * q - (dmin * m) in float32 with
// each product rounded separately. Device code uses the _rn intrinsics so that nvcc cannot fuse
// a multiply and an add into an FMA, which would change the last bit.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "kernels/core/dtype.h"
#include "kernels/core/half.h"
#include "kernels/core/status.h"
#include "kernels/quant/blocks.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define HEARTH_HD __host__ __device__ __forceinline__
#else
#define HEARTH_HD inline
#endif

namespace hearth::quant {

HEARTH_HD float MulRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
HEARTH_HD float AddRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
HEARTH_HD float SubRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

HEARTH_HD uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (static_cast<uint16_t>(p[1]) << 8));
}

HEARTH_HD float HalfBitsToFloat(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(h));
#else
  return Fp16ToFloat(h);
#endif
}

HEARTH_HD float Bf16BitsToFloat(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(static_cast<uint32_t>(h) << 16);
#else
  return Bf16ToFloat(h);
#endif
}

HEARTH_HD float U32BitsToFloat(uint32_t bits) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
#endif
}

// Exact int -> float for |q| < 2^22 without a conversion instruction (quarter rate on the GPU,
// and 8 per decoded group): 1.5 * 2^23 has unit mantissa steps, so adding q to its bit pattern
// gives 1.5 * 2^23 + q exactly, and subtracting 1.5 * 2^23 leaves q exactly. Same value as
// static_cast<float>(q), on host and device alike.
HEARTH_HD float ExactFloat(int q) {
  const uint32_t bits = 0x4B400000u + static_cast<uint32_t>(q);
#ifdef __CUDA_ARCH__
  return __fsub_rn(__uint_as_float(bits), 12582912.f);
#else
  float f;
  std::memcpy(&f, &bits, 4);
  return f - 12582912.f;
#endif
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes.
HEARTH_HD void ScaleMinK4(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30);
    *m = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
  }
}

// Q3_K: the signed 6-bit scale of 16-element sub-block j (0..15) from the 12 packed bytes (low
// 4 bits in a nibble of bytes 0..7, high 2 bits in bytes 8..11), minus 32.
HEARTH_HD int ScaleQ3K(const uint8_t* s, int j) {
  const int low = j < 8 ? (s[j] & 0x0F) : (s[j - 8] >> 4);
  const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// Readers of 8 consecutive bytes (byte i in bits 8i..8i+7). ByteReader makes only byte-sized
// accesses (blocks are 2-byte aligned at best) and never reads outside [p, p + 8). WordReader is
// for shared memory staged by the GEMV: three aligned 32-bit loads and two funnel shifts instead
// of eight byte loads; it may read up to 3 bytes before p and 4 bytes after p + 8.
struct ByteReader {
  static HEARTH_HD uint64_t Load8(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
  }
};
struct WordReader {
  static HEARTH_HD uint64_t Load8(const uint8_t* p) {
    // The aligned word below p by pointer arithmetic, not through an integer: the compiler then
    // keeps p's address space (shared-memory loads stay LDS, not generic loads).
    const uint32_t mis = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) & 3);
    const uint32_t* w = reinterpret_cast<const uint32_t*>(p - mis);
    const uint32_t shift = 8 * mis;
    const uint32_t w0 = w[0], w1 = w[1], w2 = w[2];
#ifdef __CUDA_ARCH__
    const uint32_t lo = __funnelshift_r(w0, w1, shift);
    const uint32_t hi = __funnelshift_r(w1, w2, shift);
#else
    const uint32_t lo = static_cast<uint32_t>(((static_cast<uint64_t>(w1) << 32) | w0) >> shift);
    const uint32_t hi = static_cast<uint32_t>(((static_cast<uint64_t>(w2) << 32) | w1) >> shift);
#endif
    return static_cast<uint64_t>(lo) | (static_cast<uint64_t>(hi) << 32);
  }
};

HEARTH_HD int ByteOf(uint64_t v, int i) { return static_cast<int>((v >> (8 * i)) & 0xFF); }

// BlockCodec<T>: kElems elements in kBytes bytes; Decode8<Reader>(blk, g, out) writes elements
// 8g .. 8g+7 of the block at `blk`.
template <DType T>
struct BlockCodec;

template <>
struct BlockCodec<DType::kF32> {
  static constexpr int kElems = 8, kBytes = 32;
  template <class R = ByteReader>
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    for (int h = 0; h < 4; ++h) {
      const uint64_t v = R::Load8(b + 32 * g + 8 * h);
      out[2 * h] = U32BitsToFloat(static_cast<uint32_t>(v));
      out[2 * h + 1] = U32BitsToFloat(static_cast<uint32_t>(v >> 32));
    }
  }
};
template <>
struct BlockCodec<DType::kF16> {
  static constexpr int kElems = 8, kBytes = 16;
  template <class R = ByteReader>
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    for (int h = 0; h < 2; ++h) {
      const uint64_t v = R::Load8(b + 16 * g + 8 * h);
      for (int i = 0; i < 4; ++i)
        out[4 * h + i] = HalfBitsToFloat(static_cast<uint16_t>(v >> (16 * i)));
    }
  }
};
template <>
struct BlockCodec<DType::kBF16> {
  static constexpr int kElems = 8, kBytes = 16;
  template <class R = ByteReader>
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    for (int h = 0; h < 2; ++h) {
      const uint64_t v = R::Load8(b + 16 * g + 8 * h);
      for (int i = 0; i < 4; ++i)
        out[4 * h + i] = Bf16BitsToFloat(static_cast<uint16_t>(v >> (16 * i)));
    }
  }
};

// Quantized codecs are affine per group of 8: element i = scale * q[i] (- min when kHasMin),
// each product and difference rounded to float32 as ggml does. Quants8 returns q as exact floats
// and the group's scale/min (the GEMV folds the scale out of its inner product); Decode8 applies
// the formula (the dequantizers, bit-exact with ggml).
//
// Quants are unpacked four at a time: a 32-bit word holds four unsigned byte values u, and
// QuantFloats4 turns byte i into float(u_i - offset) by placing it in the low mantissa byte of
// 1.5 * 2^23 (one byte permute on the GPU) and subtracting 1.5 * 2^23 + offset: exact.
HEARTH_HD void QuantFloats4(uint32_t u, int offset, float* out) {
  const float bias = 12582912.f + static_cast<float>(offset);
  for (int i = 0; i < 4; ++i) {
#ifdef __CUDA_ARCH__
    const float f = __uint_as_float(__byte_perm(u, 0x4B400000u, 0x7650 + i));
#else
    const float f = U32BitsToFloat(0x4B400000u | ((u >> (8 * i)) & 0xFFu));
#endif
    out[i] = SubRn(f, bias);
  }
}
HEARTH_HD void QuantFloats8(uint64_t u, int offset, float* out) {
  QuantFloats4(static_cast<uint32_t>(u), offset, out);
  QuantFloats4(static_cast<uint32_t>(u >> 32), offset, out + 4);
}

template <class Codec, class R>
HEARTH_HD void DecodeAffine8(const uint8_t* b, int g, float* out) {
  float q[8];
  float scale, min;
  Codec::template Quants8<R>(b, g, q, &scale, &min);
  for (int i = 0; i < 8; ++i) {
    const float v = MulRn(scale, q[i]);
    out[i] = Codec::kHasMin ? SubRn(v, min) : v;
  }
}

#define HEARTH_AFFINE_DECODE8                                          \
  template <class R = ByteReader>                                      \
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) { \
    DecodeAffine8<BlockCodec, R>(b, g, out);                           \
  }

constexpr uint64_t kBytes01 = 0x0101010101010101ull;

// Spreads bit i of `bits` (i < 8) to bit 0 of byte i.
HEARTH_HD uint64_t SpreadBits8(uint32_t bits) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>((bits >> i) & 1u) << (8 * i);
  return v;
}

template <>
struct BlockCodec<DType::kQ8_0> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ8_0);
  static constexpr bool kHasMin = false;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    *scale = HalfBitsToFloat(LoadU16(b));
    *min = 0.f;
    // int8 -> unsigned by flipping the sign bit (q + 128), offset 128.
    QuantFloats8(R::Load8(b + 2 + 8 * g) ^ (kBytes01 * 0x80), 128, q);
  }
  HEARTH_AFFINE_DECODE8
};

// Legacy 4-bit nibbles: group g (0..3) of a 32-block; groups 0, 1 are the low nibbles of
// qs[0..15], groups 2, 3 the high nibbles.
template <class R>
HEARTH_HD uint64_t Nibbles8(const uint8_t* qs, int g) {
  return (R::Load8(qs + 8 * (g % 2)) >> (g < 2 ? 0 : 4)) & (kBytes01 * 0x0F);
}

template <>
struct BlockCodec<DType::kQ4_0> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ4_0);
  static constexpr bool kHasMin = false;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    *scale = HalfBitsToFloat(LoadU16(b));
    *min = 0.f;
    QuantFloats8(Nibbles8<R>(b + 2, g), 8, q);
  }
  HEARTH_AFFINE_DECODE8
};
// x = d * q + m, computed as d * q - (-m): the same float32 result.
template <>
struct BlockCodec<DType::kQ4_1> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ4_1);
  static constexpr bool kHasMin = true;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    *scale = HalfBitsToFloat(LoadU16(b));
    *min = -HalfBitsToFloat(LoadU16(b + 2));
    QuantFloats8(Nibbles8<R>(b + 4, g), 0, q);
  }
  HEARTH_AFFINE_DECODE8
};
template <>
struct BlockCodec<DType::kQ5_0> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ5_0);
  static constexpr bool kHasMin = false;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    *scale = HalfBitsToFloat(LoadU16(b));
    *min = 0.f;
    // qh byte g holds bit 4 of elements 8g .. 8g+7 (bits of the little-endian uint32).
    QuantFloats8(Nibbles8<R>(b + 6, g) | (SpreadBits8(b[2 + g]) << 4), 16, q);
  }
  HEARTH_AFFINE_DECODE8
};
template <>
struct BlockCodec<DType::kQ5_1> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ5_1);
  static constexpr bool kHasMin = true;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    *scale = HalfBitsToFloat(LoadU16(b));
    *min = -HalfBitsToFloat(LoadU16(b + 2));
    QuantFloats8(Nibbles8<R>(b + 8, g) | (SpreadBits8(b[4 + g]) << 4), 0, q);
  }
  HEARTH_AFFINE_DECODE8
};

// k-quants. Element e of a 256-block; groups of 8 never straddle a 16-element sub-block.
template <>
struct BlockCodec<DType::kQ2_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ2_K);
  static constexpr bool kHasMin = true;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    const int e0 = 8 * g;
    const uint8_t sc = b[e0 / 16];
    *scale = MulRn(HalfBitsToFloat(LoadU16(b + 80)), ExactFloat(sc & 0x0F));
    *min = MulRn(HalfBitsToFloat(LoadU16(b + 82)), ExactFloat(sc >> 4));
    const int shift = 2 * ((e0 % 128) / 32);
    const uint64_t qs = R::Load8(b + 16 + (e0 / 128) * 32 + e0 % 32);
    QuantFloats8((qs >> shift) & (kBytes01 * 3), 0, q);
  }
  HEARTH_AFFINE_DECODE8
};
// q = low 2 bits - (high bit set ? 0 : 4) = (low | high << 2) - 4.
template <>
struct BlockCodec<DType::kQ3_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ3_K);
  static constexpr bool kHasMin = false;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    const int e0 = 8 * g;
    *scale = MulRn(HalfBitsToFloat(LoadU16(b + 108)), ExactFloat(ScaleQ3K(b + 96, e0 / 16)));
    *min = 0.f;
    const int shift = 2 * ((e0 % 128) / 32), hbit = e0 / 32;
    const uint64_t qs = R::Load8(b + 32 + (e0 / 128) * 32 + e0 % 32);
    const uint64_t hm = R::Load8(b + e0 % 32);
    QuantFloats8(((qs >> shift) & (kBytes01 * 3)) | (((hm >> hbit) & kBytes01) << 2), 4, q);
  }
  HEARTH_AFFINE_DECODE8
};
template <>
struct BlockCodec<DType::kQ4_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ4_K);
  static constexpr bool kHasMin = true;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    const int e0 = 8 * g;
    int sc, m;
    ScaleMinK4(b + 4, e0 / 32, &sc, &m);
    *scale = MulRn(HalfBitsToFloat(LoadU16(b)), ExactFloat(sc));
    *min = MulRn(HalfBitsToFloat(LoadU16(b + 2)), ExactFloat(m));
    const uint64_t qs = R::Load8(b + 16 + (e0 / 64) * 32 + e0 % 32);
    QuantFloats8((qs >> (4 * ((e0 % 64) / 32))) & (kBytes01 * 0x0F), 0, q);
  }
  HEARTH_AFFINE_DECODE8
};
template <>
struct BlockCodec<DType::kQ5_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ5_K);
  static constexpr bool kHasMin = true;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    const int e0 = 8 * g;
    int sc, m;
    ScaleMinK4(b + 4, e0 / 32, &sc, &m);
    *scale = MulRn(HalfBitsToFloat(LoadU16(b)), ExactFloat(sc));
    *min = MulRn(HalfBitsToFloat(LoadU16(b + 2)), ExactFloat(m));
    const uint64_t qh = R::Load8(b + 16 + e0 % 32);
    const uint64_t qs = R::Load8(b + 48 + (e0 / 64) * 32 + e0 % 32);
    const int shift = 4 * ((e0 % 64) / 32), hbit = e0 / 32;
    QuantFloats8(((qs >> shift) & (kBytes01 * 0x0F)) | (((qh >> hbit) & kBytes01) << 4), 0, q);
  }
  HEARTH_AFFINE_DECODE8
};
template <>
struct BlockCodec<DType::kQ6_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ6_K);
  static constexpr bool kHasMin = false;
  template <class R>
  static HEARTH_HD void Quants8(const uint8_t* b, int g, float* q, float* scale, float* min) {
    const int e0 = 8 * g;
    *scale =
        MulRn(HalfBitsToFloat(LoadU16(b + 208)), ExactFloat(static_cast<int8_t>(b[192 + e0 / 16])));
    *min = 0.f;
    const int h = e0 / 128, r = e0 % 128;
    const uint64_t ql = R::Load8(b + h * 64 + r % 64);
    const uint64_t qh = R::Load8(b + 128 + h * 32 + r % 32);
    const uint64_t u = ((ql >> (4 * (r / 64))) & (kBytes01 * 0x0F)) |
                       (((qh >> (2 * (r / 32))) & (kBytes01 * 3)) << 4);
    QuantFloats8(u, 32, q);
  }
  HEARTH_AFFINE_DECODE8
};

#undef HEARTH_AFFINE_DECODE8

// The one dispatch switch over weight types: calls fn(std::integral_constant<DType, T>{}) for
// every type with a BlockCodec and returns an Unimplemented error for the others.
template <class Fn>
Status VisitWeightType(DType type, Fn&& fn) {
  switch (type) {
    case DType::kF32:
      return fn(std::integral_constant<DType, DType::kF32>{});
    case DType::kF16:
      return fn(std::integral_constant<DType, DType::kF16>{});
    case DType::kBF16:
      return fn(std::integral_constant<DType, DType::kBF16>{});
    case DType::kQ8_0:
      return fn(std::integral_constant<DType, DType::kQ8_0>{});
    case DType::kQ4_0:
      return fn(std::integral_constant<DType, DType::kQ4_0>{});
    case DType::kQ4_1:
      return fn(std::integral_constant<DType, DType::kQ4_1>{});
    case DType::kQ5_0:
      return fn(std::integral_constant<DType, DType::kQ5_0>{});
    case DType::kQ5_1:
      return fn(std::integral_constant<DType, DType::kQ5_1>{});
    case DType::kQ2_K:
      return fn(std::integral_constant<DType, DType::kQ2_K>{});
    case DType::kQ3_K:
      return fn(std::integral_constant<DType, DType::kQ3_K>{});
    case DType::kQ4_K:
      return fn(std::integral_constant<DType, DType::kQ4_K>{});
    case DType::kQ5_K:
      return fn(std::integral_constant<DType, DType::kQ5_K>{});
    case DType::kQ6_K:
      return fn(std::integral_constant<DType, DType::kQ6_K>{});
    case DType::kI32:
      break;
  }
  return UnimplementedError("weight type " + std::string(DTypeName(type)) +
                            " is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                            "Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
}

}  // namespace hearth::quant
